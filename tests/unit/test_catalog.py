"""The Spanish catalog is complete: every msgid babel.cfg extracts (console, notifications, the
timeline, reports, policy texts) has a Spanish form, and numbers follow the reader's language."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from vigil.console.render import Formats
from vigil.i18n import number
from vigil.policy import load_policy

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "vigil" / "locales" / "es" / "LC_MESSAGES" / "messages.po"


def test_every_extracted_msgid_has_a_spanish_translation() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="es")
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found, untranslated = 0, []
    for filename, line, message, _comments, context in extract_from_dir(str(ROOT), method_map, options_map):
        found += 1
        msgid = message if isinstance(message, str) else message[0]
        entry = catalog.get(msgid, context=context)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else [entry and entry.string]
        if entry is None or entry.fuzzy or not all(strings):
            untranslated.append(f"{filename}:{line}: {msgid!r}")
    assert found > 500
    assert untranslated == [], "\n".join(untranslated)


def test_policy_texts_have_a_spanish_form() -> None:
    policy = load_policy()
    missing = [rule.why for rule in policy.triage.rules if rule.why and not rule.why_es]
    missing += [clock.name for clock in policy.regulatory if not clock.name_es]
    assert missing == []
    ncmec = next(clock for clock in policy.regulatory if clock.id == "ncmec_report")
    assert policy.text_in(ncmec.name, "es") == ncmec.name_es != ncmec.name
    assert policy.text_in(ncmec.name, "en") == ncmec.name
    assert policy.text_in("a reason no rule gives", "es") == "a reason no rule gives"  # English fallback


def test_numbers_follow_the_language() -> None:
    assert (number(12000, "en"), number(12000, "es")) == ("12,000", "12.000")
    assert Formats("es", now=None).number(1500000) == "1.500.000"  # type: ignore[arg-type]
