"""Opening an incident: triage by policy, the clocks it starts, who may open one."""

import random
from datetime import datetime, timedelta

import pytest

from vigil.domain import Category, Channel, EnforcementAction, Region, Severity, Status
from vigil.policy import Policy
from vigil.workflows.actions import Acknowledge, Open, Refusal, RefusalCode
from vigil.workflows.lifecycle import apply, due_clocks, next_wakeup
from vigil.workflows.state import SYSTEM, Actor, ClockKind, Intake

from .conftest import INCIDENT_ID, NOW, OpenIncident
from .stories import SEV1_CSAM, SEV1_TCO, SEV3_HATE, running


def test_open_starts_in_triage_with_acknowledge_and_resolve_clocks_of_its_severity(
    open_incident: OpenIncident, policy: Policy
) -> None:
    state = open_incident(**SEV3_HATE)
    assert (state.status, state.severity, state.seq, state.updated_at) == (Status.TRIAGE, Severity.SEV3, 1, NOW)
    assert state.policy_version == policy.version
    assert running(state) == {"sla.acknowledge", "sla.resolve"}
    assert state.clock("sla.acknowledge").due_at == NOW + timedelta(hours=4)
    assert state.clock("sla.resolve").due_at == NOW + timedelta(days=3)
    assert state.evidence_hold_until is None


def test_open_twice_is_refused(open_incident: OpenIncident, policy: Policy) -> None:
    state = open_incident()
    again = Open(
        incident_id=INCIDENT_ID,
        intake=state.intake,
        severity=Severity.SEV4,
        triage_reasons=[],
        policy_version=policy.version,
    )
    with pytest.raises(Refusal) as caught:
        apply(state, again, SYSTEM, NOW, policy)
    assert caught.value.code == RefusalCode.CONFLICT


def test_action_before_open_is_refused(policy: Policy, analyst: Actor) -> None:
    with pytest.raises(Refusal, match="not been opened") as caught:
        apply(None, Acknowledge(), analyst, NOW, policy)
    assert caught.value.code == RefusalCode.CONFLICT


def test_only_vigil_opens_incidents(policy: Policy, lead: Actor) -> None:
    intake = Intake(title="t", channel=Channel.PRESS, category=Category.OTHER, region=Region.NA)
    action = Open(
        incident_id=INCIDENT_ID, intake=intake, severity=Severity.SEV2, triage_reasons=[], policy_version=policy.version
    )
    with pytest.raises(Refusal) as caught:
        apply(None, action, lead, NOW, policy)
    assert caught.value.code == RefusalCode.FORBIDDEN


def test_triage_most_severe_matching_rule_wins(policy: Policy) -> None:
    severity, reasons = policy.triage_severity(Category.VIOLENT_EXTREMISM, Channel.REGULATOR, Region.EMEA, 5_000_000)
    assert severity == Severity.SEV1
    assert reasons == ["violent extremism reported by an authority (possible removal order)"]


def test_triage_lists_every_rule_of_the_winning_severity(policy: Policy) -> None:
    severity, reasons = policy.triage_severity(Category.SELF_HARM_SUICIDE, Channel.PRESS, Region.NA, 2_000_000)
    assert severity == Severity.SEV2
    assert reasons == ["risk to life", "seen by over a million people", "external party is watching"]


def test_triage_falls_back_to_default_when_no_rule_matches(policy: Policy) -> None:
    severity, reasons = policy.triage_severity(Category.SPAM_SCAM, Channel.USER_REPORT, Region.NA, 10)
    assert severity == policy.triage.default == Severity.SEV4
    assert reasons == ["no triage rule matched: default severity"]


@pytest.mark.parametrize(
    ("reach", "severity"), [(99_999, Severity.SEV4), (100_000, Severity.SEV3), (1_000_000, Severity.SEV2)]
)
def test_triage_reach_thresholds(policy: Policy, reach: int, severity: Severity) -> None:
    assert policy.triage_severity(Category.SPAM_SCAM, Channel.USER_REPORT, Region.NA, reach)[0] == severity


def test_triage_rule_order_never_matters(policy: Policy) -> None:
    rules = list(policy.triage.rules)
    shuffled = []
    for seed in range(3):
        random.Random(seed).shuffle(rules)
        triage = policy.triage.model_copy(update={"rules": list(rules)})
        shuffled.append(policy.model_copy(update={"triage": triage}))
    shuffled.append(policy.model_copy(update={"triage": policy.triage.model_copy(update={"rules": rules[::-1]})}))
    for category in Category:
        for channel in Channel:
            for region in Region:
                for reach in (0, 100_000, 1_000_000):
                    severity, reasons = policy.triage_severity(category, channel, region, reach)
                    for other in shuffled:
                        again, again_reasons = other.triage_severity(category, channel, region, reach)
                        assert again == severity
                        assert sorted(again_reasons) == sorted(reasons)


def test_child_safety_is_sev1_through_any_channel(policy: Policy) -> None:
    for channel in Channel:
        assert policy.triage_severity(Category.CHILD_SAFETY, channel, Region.APAC, 0)[0] == Severity.SEV1


def test_eu_removal_order_starts_a_one_hour_regulatory_clock(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_TCO)
    clock = state.clock("regulatory.eu_tco_removal_order")
    assert clock is not None and clock.kind == ClockKind.REGULATORY
    assert clock.due_at == clock.next_fire_at == NOW + timedelta(hours=1)
    assert clock.met_by == [EnforcementAction.REMOVE_CONTENT, EnforcementAction.GEO_BLOCK]


def test_removal_order_clock_runs_only_in_the_eu(open_incident: OpenIncident) -> None:
    state = open_incident(**{**SEV1_TCO, "region": Region.NA})
    assert state.severity == Severity.SEV1
    assert state.clock("regulatory.eu_tco_removal_order") is None


def test_child_safety_starts_ncmec_clock_and_holds_evidence_for_a_year(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_CSAM)
    assert state.clock("regulatory.ncmec_report").due_at == NOW + timedelta(hours=24)
    assert state.evidence_hold_until == NOW + timedelta(days=365)


def test_intake_deadline_starts_a_clock_met_by_any_real_enforcement(open_incident: OpenIncident) -> None:
    deadline = NOW + timedelta(hours=6)
    state = open_incident(deadline=deadline)
    clock = state.clock("regulatory.deadline")
    assert clock is not None and clock.due_at == clock.next_fire_at == deadline
    assert EnforcementAction.NO_ACTION not in clock.met_by
    assert set(clock.met_by) == set(EnforcementAction) - {EnforcementAction.NO_ACTION}


def test_next_wakeup_is_the_earliest_running_clock(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_TCO)
    assert next_wakeup(state) == NOW + timedelta(minutes=15)  # SEV1 acknowledge


def test_due_clocks_lists_only_clocks_due_by_now(open_incident: OpenIncident) -> None:
    state = open_incident(**SEV1_TCO)
    assert due_clocks(state, NOW + timedelta(minutes=14)) == []
    assert due_clocks(state, NOW + timedelta(minutes=15)) == ["sla.acknowledge"]
    assert set(due_clocks(state, NOW + timedelta(hours=1))) == {
        "sla.acknowledge",
        "regulatory.eu_tco_removal_order",
        "update.due",  # the default policy: a SEV1 with a legal clock running owes an update every 30 minutes
    }


def test_open_records_who_took_the_intake(policy: Policy, analyst: Actor, now: datetime) -> None:
    opened = Open(
        incident_id=INCIDENT_ID,
        intake=Intake(title="t", channel="press", category="other", region="NA"),
        severity=Severity.SEV3,
        triage_reasons=[],
        policy_version=policy.version,
        opened_by=analyst,
    )
    assert apply(None, opened, SYSTEM, now, policy).opened_by == analyst.user
