"""The directory file: recipients to addresses at a moment (rotas), reloaded when it changes, a
bad edit refused naming the key while the directory in force stays."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vigil.notifications.directory import Address, DirectoryError, DirectoryFile, Person, parse_directory, resolve
from vigil.notifications.directory import directory_path as _directory_path

EXAMPLE = Path(__file__).parents[2] / "vigil" / "directory.example.toml"
PEOPLE = {"lucia": Person("lucia@example.org", "es"), "nomail": Person(None, "en")}


def test_the_example_directory_in_the_repo_is_valid() -> None:
    directory = parse_directory(EXAMPLE.read_text(), str(EXAMPLE))
    assert "legal" in directory.teams and "leadership" in directory.audiences


def test_a_shift_pages_its_person_in_their_language_and_outside_it_the_tier_list() -> None:
    directory = parse_directory(EXAMPLE.read_text())
    night = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 03:00 in Madrid: lucia's shift
    assert resolve(directory, "tier:regional_on_call_lead:EMEA", night, PEOPLE) == [
        Address("email", "lucia@example.org", "es")
    ]
    later = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)  # after every shift
    assert resolve(directory, "tier:regional_on_call_lead:EMEA", later, PEOPLE) == [
        Address("email", "emea-oncall@example.org", None)
    ]
    # A region without a table of its own: the tier's keys.
    assert resolve(directory, "tier:regional_on_call_lead:APAC", later, PEOPLE) == [
        Address("email", "oncall@example.org", None)
    ]


def test_a_shift_whose_person_has_no_address_falls_back_to_the_tier_list() -> None:
    directory = parse_directory(
        '[tiers.leads]\nemail = ["leads@example.org"]\n'
        '[[tiers.leads.rota]]\nfrom = 2026-01-01T00:00:00Z\nto = 2027-01-01T00:00:00Z\nperson = "nomail"\n'
    )
    assert resolve(directory, "tier:leads:NA", datetime(2026, 6, 1, tzinfo=UTC), PEOPLE) == [
        Address("email", "leads@example.org", None)
    ]


def test_teams_get_their_webhook_too_and_unknown_recipients_nothing() -> None:
    directory = parse_directory(EXAMPLE.read_text())
    at = datetime(2026, 12, 7, tzinfo=UTC)
    assert [a.channel for a in resolve(directory, "team:legal", at, PEOPLE)] == ["email", "webhook"]
    assert resolve(directory, "team:engineering", at, PEOPLE) == []
    assert resolve(directory, "user:nomail", at, PEOPLE) == []
    assert resolve(directory, "user:lucia", at, PEOPLE) == [Address("email", "lucia@example.org", "es")]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[teams.lgal]\nemail = ["a@example.org"]', "teams.lgal"),
        ('[teams.legal]\nemail = ["not an address"]', "teams.legal.email.0"),
        ('[teams.legal]\nwebhook = "ftp://x"', "teams.legal.webhook"),
        ('[audiences.press]\nemail = ["a@example.org"]', "audiences.press"),
        ('[tiers.leads]\nemial = ["a@example.org"]', "tiers.leads.emial"),
        (
            '[[tiers.leads.rota]]\nfrom = 2026-01-02T00:00:00Z\nto = 2026-01-01T00:00:00Z\nperson = "x"',
            "tiers.leads.rota.0",
        ),
        (
            '[[tiers.leads.rota]]\nfrom = 2026-01-01T00:00:00\nto = 2026-01-02T00:00:00\nperson = "x"',
            "tiers.leads.rota.0.from",
        ),
    ],
    ids=["unknown-team", "bad-email", "bad-webhook", "unknown-audience", "typo", "shift-backwards", "no-offset"],
)
def test_a_bad_directory_is_refused_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(DirectoryError) as refused:
        parse_directory(text, "directory.toml")
    assert key in str(refused.value) and "directory.toml" in str(refused.value)


def test_an_edit_is_picked_up_and_a_bad_edit_keeps_the_directory_in_force(tmp_path: Path) -> None:
    path = tmp_path / "directory.toml"
    path.write_text('[teams.legal]\nemail = ["old@example.org"]\n')
    source = DirectoryFile.load(path)
    source._check_every = 0  # look at the file on every call
    at = datetime(2026, 12, 7, tzinfo=UTC)
    first, version = source.current()
    assert resolve(first, "team:legal", at, {}) == [Address("email", "old@example.org", None)]

    path.write_text('[teams.legal]\nemail = ["new@example.org"]\n')
    os.utime(path, ns=(1, 1))  # a different stamp, however fast the edit came
    second, new_version = source.current()
    assert (
        resolve(second, "team:legal", at, {}) == [Address("email", "new@example.org", None)] and new_version != version
    )

    path.write_text('[teams.legal]\nemail = ["broken"]\n')
    os.utime(path, ns=(2, 2))
    third, same_version = source.current()
    assert third == second and same_version == new_version
    assert source.last_error and "teams.legal.email.0" in source.last_error


def test_a_bad_file_stops_start_up_and_no_file_is_an_empty_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[teams.legal\n")
    with pytest.raises(DirectoryError, match="not valid TOML"):
        DirectoryFile.load(bad)
    with pytest.raises(DirectoryError, match="cannot|No such file"):
        DirectoryFile.load(tmp_path / "missing.toml")
    monkeypatch.delenv("VIGIL_DIRECTORY", raising=False)
    assert _directory_path() is None
    empty = DirectoryFile.load()
    assert not empty.configured and empty.current()[0].teams == {}
