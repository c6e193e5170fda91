"""The documentation points at things that exist: every relative link and anchor resolves, every
environment variable Vigil reads is documented (and every one documented is read), the names
the README's "Where a rule lives" cites are in the files it links, and the README stays short.
The walks themselves are executed elsewhere (tests/api/test_vigil_up.py, tests/audit)."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
# How the code reads the environment: vigil.config's _env("NAME"), os.environ.get("NAME"), typer's envvar=.
READS = re.compile(r"""(?:_env|environ\.get|getenv)\(\s*"([A-Z][A-Z0-9_]+)"|envvar="([A-Z][A-Z0-9_]+)\"""")
DOCUMENTED = re.compile(r"`((?:VIGIL|TEMPORAL)_[A-Z0-9_]+|DATABASE_URL)`")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def environment_reads(root: Path) -> set[str]:
    names = set()
    for source in root.rglob("*.py"):
        for match in READS.finditer(source.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def test_every_relative_link_in_the_docs_resolves_to_a_file_and_heading() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not ours to check
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and anchor not in anchors(linked):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_every_environment_variable_vigil_reads_is_in_the_configuration_page() -> None:
    documented = set(DOCUMENTED.findall((REPO / "docs" / "configuration.md").read_text(encoding="utf-8")))
    read_by_vigil = environment_reads(REPO / "vigil")
    assert read_by_vigil, "no environment reads found: has the way vigil/config.py reads them changed?"
    assert read_by_vigil <= documented, f"read but not documented: {sorted(read_by_vigil - documented)}"
    read_anywhere = read_by_vigil | environment_reads(REPO / "tests")
    assert documented <= read_anywhere, f"documented but read nowhere: {sorted(documented - read_anywhere)}"


def test_the_names_where_a_rule_lives_cites_are_in_the_files_it_links() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where a rule lives", 1)[1].split("\n## ", 1)[0]
    items = re.findall(r"^- (.+(?:\n  .+)*)", section, flags=re.M)
    assert len(items) >= 6
    missing = []
    for item in items:
        files = [REPO / f for f in LINK.findall(item)]
        assert files, f"cites no file: {item}"
        code = "".join(f.read_text(encoding="utf-8") for f in files)
        for name in re.findall(r"`(\w+)`", item):
            if not re.search(rf"\b{name}\b", code):
                missing.append(f"{name} (in {', '.join(str(f.relative_to(REPO)) for f in files)})")
    assert not missing, missing


def test_the_readme_stays_a_page_a_newcomer_finishes() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move the subject to docs/ and link it"
