"""The operator's policy file: the default loads, VIGIL_POLICY replaces it, and a bad file
stops start-up with a PolicyError that names the key."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from vigil.domain import EnforcementAction, Region, Severity
from vigil.policy import (
    DEFAULT_POLICY_PATH,
    Policy,
    PolicyError,
    load_policy,
    parse_duration,
    parse_policy,
    policy_digest,
    policy_path,
)

DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def edited(old: str, new: str, text: str = DEFAULT_TEXT) -> str:
    """The default policy with the first `old` replaced by `new` (which must be there)."""
    assert old in text, f"the default policy no longer contains {old!r}"
    return text.replace(old, new, 1)


def section(name: str) -> str:
    """The text of one [section] of the default policy, up to the next header or comment block."""
    match = re.search(rf"^\[{re.escape(name)}\]\n(?:[^\[#].*\n|\n)*", DEFAULT_TEXT, re.MULTILINE)
    assert match, f"no [{name}] in the default policy"
    return match.group(0)


def refusal(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "test.toml")
    return str(caught.value)


# --- the default file


def test_default_policy_loads_with_every_severity_and_the_designed_values(policy: Policy) -> None:
    assert policy.version == "default-2026-11"
    assert set(policy.sla) == set(Severity)
    assert policy.sla[Severity.SEV1].acknowledge == timedelta(minutes=15)
    assert policy.sla[Severity.SEV1].first_response == timedelta(hours=1)
    assert policy.sla[Severity.SEV1].resolve == timedelta(hours=4)
    assert policy.sla[Severity.SEV4].resolve == timedelta(days=7)
    assert policy.approval.timeout == timedelta(minutes=30)
    assert policy.approval.quorum_for(Severity.SEV1) == 2
    assert policy.approval.quorum_for(Severity.SEV2) == 1
    assert policy.reopen.window == timedelta(days=7)
    assert policy.escalation.tiers == ["regional_on_call_lead", "head_of_incident_management"]


def test_default_policy_has_the_regulatory_clocks_the_law_sets(policy: Policy) -> None:
    clocks = {clock.id: clock for clock in policy.regulatory}
    assert clocks["eu_tco_removal_order"].due == timedelta(hours=1)
    assert clocks["eu_tco_removal_order"].regions == [Region.EMEA]
    assert clocks["ncmec_report"].met_by == [EnforcementAction.REGULATOR_REPORT]
    assert clocks["ncmec_report"].preserve_evidence == timedelta(days=365)
    assert policy.statement_of_reasons.required(Region.EMEA, EnforcementAction.REMOVE_CONTENT)
    assert not policy.statement_of_reasons.required(Region.NA, EnforcementAction.REMOVE_CONTENT)


def test_approval_needed_for_high_severity_and_always_listed_actions(policy: Policy) -> None:
    assert policy.approval.needed(EnforcementAction.REMOVE_CONTENT, Severity.SEV2)
    assert not policy.approval.needed(EnforcementAction.REMOVE_CONTENT, Severity.SEV3)
    assert policy.approval.needed(EnforcementAction.TERMINATE_ACCOUNT, Severity.SEV4)


def test_without_vigil_policy_the_default_file_is_used(monkeypatch: pytest.MonkeyPatch, policy: Policy) -> None:
    monkeypatch.delenv("VIGIL_POLICY", raising=False)
    assert policy_path() == DEFAULT_POLICY_PATH
    assert load_policy() == policy


def test_vigil_policy_names_another_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    custom = tmp_path / "ops-policy.toml"
    text = edited('version = "default-2026-11"', 'version = "ops-2026-12"')
    custom.write_text(edited('acknowledge = "15m"', 'acknowledge = "5m"', text), encoding="utf-8")
    monkeypatch.setenv("VIGIL_POLICY", str(custom))
    assert policy_path() == custom
    loaded = load_policy()
    assert loaded.version == "ops-2026-12"
    assert loaded.sla[Severity.SEV1].acknowledge == timedelta(minutes=5)


def test_vigil_policy_naming_a_missing_file_fails_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("VIGIL_POLICY", str(missing))
    with pytest.raises(PolicyError, match="cannot be read") as caught:
        load_policy()
    assert str(missing) in str(caught.value)


def test_unreadable_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path)  # a directory: reading it fails


def test_policy_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(edited('version = "default-2026-11"', 'version = "pol\u00edtica"').encode("latin-1"))
    with pytest.raises(PolicyError, match="not UTF-8") as caught:
        load_policy(latin1)
    assert str(latin1) in str(caught.value)


# --- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("7d", timedelta(days=7)),
        (" 30m ", timedelta(minutes=30)),
        ("365d", timedelta(days=365)),
    ],
)
def test_duration_strings_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["15x", "0m", "", "m", "15", "1.5h", "-5m", "15 minutes", "4H", "PT15M", "9999999999d"])
def test_bad_duration_strings_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [0, -60, 0.0, True, timedelta(0), timedelta(seconds=-1), 1e300])
def test_zero_negative_boolean_or_huge_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_numbers_are_seconds_and_timedeltas_pass_through() -> None:
    assert parse_duration(900) == timedelta(minutes=15)
    assert parse_duration(1.5) == timedelta(seconds=1.5)
    assert parse_duration(timedelta(hours=2)) == timedelta(hours=2)


def test_bad_duration_in_file_names_the_key() -> None:
    message = refusal(edited('acknowledge = "15m"', 'acknowledge = "15x"'))
    assert "sla.SEV1.acknowledge" in message
    assert "15x" in message
    assert "test.toml" in message


def test_zero_duration_in_file_names_the_key() -> None:
    message = refusal(edited('window = "7d"', 'window = "0m"'))
    assert "reopen.window" in message
    assert "longer than zero" in message


def test_integer_zero_duration_in_file_is_refused() -> None:
    assert "approval.timeout" in refusal(edited('timeout = "30m"', "timeout = 0"))


def test_overlong_duration_in_file_is_a_policy_error_naming_the_key() -> None:
    assert "regulatory.0.due" in refusal(edited('due = "1h"', 'due = "9999999999d"'))


# --- the shape of the file


def test_missing_severity_names_the_severity() -> None:
    message = refusal(DEFAULT_TEXT.replace(section("sla.SEV4"), ""))
    assert "sla" in message and "SEV4" in message


def test_missing_sla_key_names_it() -> None:
    message = refusal(edited('first_response = "4h"\n', ""))
    assert "sla.SEV2.first_response" in message
    assert "Field required" in message


def test_unknown_key_is_refused_naming_it() -> None:
    message = refusal(edited('acknowledge = "15m"', 'acknowledge = "15m"\nacknowlege = "10m"'))
    assert "sla.SEV1.acknowlege" in message
    assert "Extra inputs are not permitted" in message


def test_unknown_top_level_key_is_refused_naming_it() -> None:
    assert "reopen_window" in refusal('reopen_window = "7d"\n' + DEFAULT_TEXT)


def test_unknown_severity_in_sla_is_refused() -> None:
    assert "sla.SEV5" in refusal(DEFAULT_TEXT + '\n[sla.SEV5]\nacknowledge = "1h"\n')


def test_unknown_category_in_triage_rule_names_the_rule() -> None:
    message = refusal(edited('categories = ["child_safety"]', 'categories = ["child_safty"]'))
    assert "triage.rules.0.categories.0" in message


def test_unknown_channel_in_triage_rule_names_the_rule() -> None:
    message = refusal(edited('channels = ["trusted_flagger"]', 'channels = ["trusted_flaggers"]'))
    assert re.search(r"triage\.rules\.\d+\.channels\.0", message)


def test_triage_rule_without_severity_names_it() -> None:
    message = refusal(edited('severity = "SEV1"\nwhy = "child safety is always SEV1"', 'why = "child safety"'))
    assert "triage.rules.0.severity" in message


def test_negative_reach_is_refused() -> None:
    assert "min_reach" in refusal(edited("min_reach = 1000000", "min_reach = -1"))


def test_zero_quorum_names_the_severity() -> None:
    message = refusal(edited("SEV1 = 2", "SEV1 = 0"))
    assert "approval" in message and "quorum.SEV1" in message


def test_empty_approver_tiers_are_refused() -> None:
    message = refusal(edited('tiers = ["leads", "regional_on_call_lead", "head_of_incident_management"]', "tiers = []"))
    assert "approval.tiers" in message


def test_empty_escalation_tiers_are_refused() -> None:
    message = refusal(edited('tiers = ["regional_on_call_lead", "head_of_incident_management"]', "tiers = []"))
    assert "escalation.tiers" in message


def test_duplicate_regulatory_clock_ids_are_refused() -> None:
    message = refusal(edited('id = "ncmec_report"', 'id = "eu_tco_removal_order"'))
    assert "regulatory" in message and "unique" in message


def test_regulatory_clock_id_must_be_an_identifier() -> None:
    assert "regulatory.1.id" in refusal(edited('id = "ncmec_report"', 'id = "NCMEC report"'))


def test_regulatory_clock_met_by_nothing_is_refused() -> None:
    assert "regulatory.1.met_by" in refusal(edited('met_by = ["regulator_report"]', "met_by = []"))


def test_missing_reopen_section_names_it() -> None:
    assert "reopen" in refusal(DEFAULT_TEXT.replace(section("reopen"), ""))


def test_empty_version_is_refused() -> None:
    assert "version" in refusal(edited('version = "default-2026-11"', 'version = ""'))


def test_history_limit_beyond_temporal_warning_is_refused() -> None:
    assert "history_events_limit" in refusal("history_events_limit = 20000\n" + DEFAULT_TEXT)


def test_bad_toml_is_a_policy_error() -> None:
    message = refusal(edited('acknowledge = "15m"', "acknowledge = 15m"))
    assert "not valid TOML" in message
    assert "test.toml" in message


def test_every_error_is_listed_not_just_the_first() -> None:
    text = edited('acknowledge = "15m"', 'acknowledge = "15x"', edited('window = "7d"', 'window = "week"'))
    message = refusal(text)
    assert "sla.SEV1.acknowledge" in message and "reopen.window" in message


def test_bad_file_from_disk_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(edited('resolve = "4h"', 'resolve = "4 hours"'), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(bad)
    assert str(bad) in str(caught.value)
    assert "sla.SEV1.resolve" in str(caught.value)


# --- the policy as the workflow carries it


def test_policy_is_frozen(policy: Policy) -> None:
    with pytest.raises(ValueError):
        policy.version = "changed"  # type: ignore[misc]


def test_policy_round_trips_through_json(policy: Policy) -> None:
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


def test_policy_round_trips_through_temporal_payloads(policy: Policy) -> None:
    converter = pydantic_data_converter.payload_converter
    payloads = converter.to_payloads([policy])
    assert converter.from_payloads(payloads, [Policy]) == [policy]


def test_digest_is_stable_and_tells_policies_apart(policy: Policy) -> None:
    same = parse_policy(DEFAULT_TEXT)
    other = parse_policy(edited('acknowledge = "15m"', 'acknowledge = "10m"'))
    assert policy_digest(same) == policy_digest(policy)
    assert policy_digest(other) != policy_digest(policy)
    assert re.fullmatch(r"[0-9a-f]{12}", policy_digest(policy))


def test_durations_longer_than_ten_years_are_refused() -> None:
    assert "at most 3650d" in refusal(edited('window = "7d"', 'window = "3651d"'))


def test_incidents_share_one_object_per_distinct_policy(policy: Policy) -> None:
    """A worker keeps thousands of incidents in memory, each with the policy it was triaged under."""
    copy = Policy.model_validate_json(policy.model_dump_json())
    assert copy is not policy and copy.shared() is policy.shared()
    edited = policy.model_copy(update={"history_events_limit": policy.history_events_limit - 1})
    assert edited.shared() is not policy.shared() and edited.shared() == edited


def test_a_policy_without_the_learning_keys_reads_with_their_defaults() -> None:
    """Policies recorded in histories before [review], [recommendations] and [weekly_report]."""
    start = DEFAULT_TEXT.index("# --- The learning loop")
    older = parse_policy(DEFAULT_TEXT[:start])
    assert older.review.severities == [Severity.SEV1, Severity.SEV2]
    assert older.review.due == timedelta(days=5)
    assert older.recommendations.triage_lowered.threshold == 0.3
    assert (older.weekly_report.weekday, older.weekly_report.time, older.weekly_report.time_zone) == (
        "monday",
        "08:00",
        "UTC",
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[weekly_report]\ntime_zone = "Mars/Olympus"', "weekly_report: time_zone: unknown time zone"),
        ('[weekly_report]\nweekday = "someday"', "weekly_report: weekday: one of"),
        ('[weekly_report]\ntime = "25:00"', "weekly_report.time"),
        (
            "[recommendations.triage_lowered]\nthreshold = 1.5\nmin_count = 1",
            "recommendations.triage_lowered.threshold",
        ),
        ('[review]\ndue = "0s"', "review.due"),
    ],
)
def test_bad_learning_keys_are_refused_naming_the_key(section: str, message: str) -> None:
    start = DEFAULT_TEXT.index("# --- The learning loop")
    with pytest.raises(PolicyError) as refused:
        parse_policy(DEFAULT_TEXT[:start] + "\n" + section + "\n")
    assert message in str(refused.value)
