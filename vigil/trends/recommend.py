"""Recommendations: the policy's `[recommendations]` rules applied to the trend figures.

Each rule looks for one pattern; a finding needs at least `min_count` cases and a share above
`threshold`. Every finding carries its evidence (the numbers, and the incidents behind them),
what it suggests changing, in English and Spanish, and links to the queue filtered to exactly
those incidents. The words are gettext messages, translated in vigil/locales.
"""

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field
from sqlalchemy import distinct, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from vigil.db.tables import ApprovalRow, ClockOutcomeRow, MilestoneRow
from vigil.i18n import LANGUAGES, _, gettext_for, how_long, label
from vigil.policy import Finding as FindingRule
from vigil.policy import Policy
from vigil.trends import figures
from vigil.trends.facts import FIRST_RESPONSE
from vigil.trends.figures import EVIDENCE_LIMIT, LATE, Window
from vigil.trends.sql import utc_range, within

Words = dict[str, str]  # language -> text


class Evidence(BaseModel):
    numbers: dict[str, Any] = Field(description="The figures the finding rests on")
    incidents: list[str] = Field(description=f"The incidents behind it (at most {EVIDENCE_LIMIT})")


class Finding(BaseModel):
    rule: str = Field(description="The policy rule that made it: recommendations.<rule>")
    subject: str = Field(description="What it is about: a triage rule, a team, a severity, a category, a clock")
    policy_key: str = Field(description="The policy setting the suggestion would change")
    finding: Words = Field(description="What the numbers show, per language")
    suggestion: Words = Field(description="The change suggested, per language")
    evidence: Evidence
    queue: str = Field(description="The console's queue, filtered to the evidence's incidents")
    api: str = Field(description="The same incidents from the API's list")


class Recommendations(BaseModel):
    start: date
    end: date
    findings: list[Finding]


def _percent(share: float) -> str:
    return f"{round(share * 100)} %"


def _words(message: str, **values: Any) -> Words:
    """The message in every language; values that are callables are given the language."""
    out = {}
    for language in LANGUAGES:
        filled = {k: v(language) if callable(v) else v for k, v in values.items()}
        out[language] = gettext_for(language)(message) % filled
    return out


def _links(incidents: list[str]) -> tuple[str, str]:
    query = urlencode({"status": "any", "id": incidents}, doseq=True)
    return f"/?{query}", "/api/incidents?" + urlencode({"id": incidents, "limit": 200}, doseq=True)


def _finding(
    rule: str, subject: str, policy_key: str, finding: Words, suggestion: Words, evidence: Evidence
) -> Finding:
    queue, api = _links(evidence.incidents)
    return Finding(
        rule=rule,
        subject=subject,
        policy_key=policy_key,
        finding=finding,
        suggestion=suggestion,
        evidence=evidence,
        queue=queue,
        api=api,
    )


def _applies(rule: FindingRule, count: int, share: float) -> bool:
    return rule.enabled and count >= rule.min_count and share > rule.threshold


def _named(value: str) -> Callable[[str], str]:
    return lambda language: label(value, language)


# ---------------------------------------------------------------------------- the rules


def triage_lowered(session: Session, policy: Policy, window: Window) -> list[Finding]:
    rule = policy.recommendations.triage_lowered
    found = []
    for cell in figures.severity_change_cells(session, window):
        if rule.severities and cell.triaged_severity not in rule.severities:
            continue
        if not _applies(rule, cell.incidents, cell.lowered_share):
            continue
        to = max(cell.lowered_to.items(), key=lambda item: (item[1], item[0]))[0] if cell.lowered_to else "—"
        values = {"rule": cell.triage_rule, "severity": cell.triaged_severity, "to": to}
        found.append(
            _finding(
                "triage_lowered",
                cell.triage_rule,
                "triage.rules",
                _words(
                    _("“%(rule)s” → %(severity)s: lowered by leads in %(share)s of %(count)d incidents"),
                    share=_percent(cell.lowered_share),
                    count=cell.incidents,
                    **values,
                ),
                _words(
                    _(
                        "Consider %(to)s for the triage rule “%(rule)s” (where most lowered incidents ended), "
                        "or narrow what it matches."
                    ),
                    **values,
                ),
                Evidence(
                    numbers={
                        "incidents": cell.incidents,
                        "lowered": cell.lowered,
                        "lowered_share": cell.lowered_share,
                        "triaged_severity": cell.triaged_severity,
                        "lowered_to": cell.lowered_to,
                    },
                    incidents=figures.incidents_changed(session, window, cell.triage_rule, "lowered"),
                ),
            )
        )
    return found


def team_first_response_missed(session: Session, policy: Policy, window: Window) -> list[Finding]:
    rule = policy.recommendations.team_first_response_missed
    severities = [s.value for s in rule.severities]
    found = []
    for cell in figures.team_cells(session, window, severities=severities or None):
        if not _applies(rule, cell.asked, cell.miss_rate):
            continue
        worst = min(rule.severities) if rule.severities else min(policy.sla)
        duration = policy.sla[worst].first_response.total_seconds()
        at = ", ".join(severities) or "—"
        found.append(
            _finding(
                "team_first_response_missed",
                cell.team,
                f"sla.{worst}.first_response",
                _words(
                    _("%(team)s answered late or not at all at %(severities)s in %(share)s of %(count)d escalations"),
                    team=_named(cell.team),
                    severities=at,
                    share=_percent(cell.miss_rate),
                    count=cell.asked,
                ),
                _words(
                    _(
                        "Check %(team)s's on-call cover at %(severities)s, or whether %(duration)s to a first "
                        "response (sla.%(severity)s.first_response) is realistic."
                    ),
                    team=_named(cell.team),
                    severities=at,
                    duration=lambda language, seconds=duration: how_long(seconds, language),
                    severity=worst.value,
                ),
                Evidence(
                    numbers={
                        "asked": cell.asked,
                        "met": cell.met,
                        "met_late": cell.met_late,
                        "missed": cell.missed,
                        "running_late": cell.running_late,
                        "miss_rate": cell.miss_rate,
                        "p50_seconds": cell.response.p50,
                        "p90_seconds": cell.response.p90,
                    },
                    incidents=_late_first_responses(session, window, cell.team, severities),
                ),
            )
        )
    return found


def _late_first_responses(session: Session, window: Window, team: str, severities: list[str]) -> list[str]:
    c = ClockOutcomeRow
    where: list[ColumnElement[bool]] = [col(c.clock) == FIRST_RESPONSE, col(c.team) == team, col(c.outcome).in_(LATE)]
    where.append(within(c.due_at, window.since, window.until))
    if severities:
        where.append(col(c.severity).in_(severities))
    statement = select(distinct(col(c.incident_id))).where(*where).order_by(col(c.incident_id)).limit(EVIDENCE_LIMIT)
    return [str(i) for i in session.scalars(statement)]


def approval_tier_reached(session: Session, policy: Policy, window: Window) -> list[Finding]:
    rule = policy.recommendations.approval_tier_reached
    tier = policy.recommendations.approval_tier
    timeout = policy.approval.timeout.total_seconds()
    by_severity = Window(since=window.since, until=window.until, unit=window.unit, by="severity")
    found = []
    for cell in figures.approval_cells(session, by_severity):
        if cell.group == figures.ALL or (rule.severities and cell.group not in rule.severities):
            continue
        reached = sum(count for asked, count in cell.tiers.items() if int(asked) >= tier)
        share = reached / cell.requested if cell.requested else 0.0
        if not _applies(rule, cell.requested, share):
            continue
        found.append(
            _finding(
                "approval_tier_reached",
                cell.group,
                "approval.timeout",
                _words(
                    _(
                        "%(share)s of %(count)d approval requests at %(severity)s had to ask approver tier "
                        "%(tier)d or a later one: nobody decided within %(timeout)s"
                    ),
                    share=_percent(share),
                    count=cell.requested,
                    severity=cell.group,
                    tier=tier,
                    timeout=lambda language: how_long(timeout, language),
                ),
                _words(
                    _(
                        "The approval timeout (approval.timeout, %(timeout)s) may be too short for %(severity)s, "
                        "or too few leads are on shift: review both."
                    ),
                    severity=cell.group,
                    timeout=lambda language: how_long(timeout, language),
                ),
                Evidence(
                    numbers={"requested": cell.requested, "reached": reached, "share": round(share, 4), "tier": tier}
                    | {"tiers": cell.tiers, "latency_p50_seconds": cell.latency.p50},
                    incidents=_approvals_reaching(session, window, cell.group, tier),
                ),
            )
        )
    return found


def _approvals_reaching(session: Session, window: Window, severity: str, tier: int) -> list[str]:
    a = ApprovalRow
    statement = (
        select(distinct(col(a.incident_id)))
        .where(
            col(a.severity) == severity, col(a.asked_round) >= tier, within(a.requested_at, window.since, window.until)
        )
        .order_by(col(a.incident_id))
        .limit(EVIDENCE_LIMIT)
    )
    return [str(i) for i in session.scalars(statement)]


def category_reopened(session: Session, policy: Policy, window: Window) -> list[Finding]:
    rule = policy.recommendations.category_reopened
    by_category = Window(since=window.since, until=window.until, unit=window.unit, by="category")
    totals = figures.incident_cells(session, by_category)[1]
    found = []
    for cell in totals:
        if cell.group == figures.ALL or not cell.resolved:
            continue
        share = cell.reopened / cell.resolved
        if not _applies(rule, cell.resolved, share):
            continue
        found.append(
            _finding(
                "category_reopened",
                cell.group,
                "reopen.window",
                _words(
                    _("%(category)s: %(share)s of %(count)d resolutions were reopened"),
                    category=_named(cell.group),
                    share=_percent(share),
                    count=cell.resolved,
                ),
                _words(
                    _(
                        "Look at how %(category)s incidents are resolved: what the reopened ones had missed, "
                        "and whether a check before resolving would catch it."
                    ),
                    category=_named(cell.group),
                ),
                Evidence(
                    numbers={"resolved": cell.resolved, "reopened": cell.reopened, "share": round(share, 4)},
                    incidents=_reopened(session, window, cell.group),
                ),
            )
        )
    return found


def _reopened(session: Session, window: Window, category: str) -> list[str]:
    m = MilestoneRow
    statement = (
        select(distinct(col(m.incident_id)))
        .where(col(m.kind) == "reopened", col(m.category) == category, within(m.at, window.since, window.until))
        .order_by(col(m.incident_id))
        .limit(EVIDENCE_LIMIT)
    )
    return [str(i) for i in session.scalars(statement)]


def regulatory_late(session: Session, policy: Policy, window: Window) -> list[Finding]:
    rule = policy.recommendations.regulatory_late
    everyone = Window(since=window.since, until=window.until, unit=window.unit, by="all")
    names = {f"regulatory.{r.id}": r.name for r in policy.regulatory}
    found = []
    for cell in figures.clock_cells(session, everyone):
        if cell.kind != "regulatory" or cell.period is not None or cell.group != figures.ALL:
            continue
        owed = cell.met + cell.met_late + cell.missed + cell.running_late
        late = cell.met_late + cell.missed + cell.running_late
        if not _applies(rule, owed, cell.breach_rate):
            continue
        name = names.get(cell.clock, cell.clock)
        found.append(
            _finding(
                "regulatory_late",
                cell.clock,
                cell.clock,
                _words(
                    _("%(clock)s: met late or missed %(late)d times out of %(count)d"),
                    clock=name,
                    late=late,
                    count=owed,
                ),
                _words(
                    _(
                        "A legal deadline was not met in time: make sure whoever must act is told when the clock "
                        "starts and reminded before it is due (policy %(key)s), and escalate sooner."
                    ),
                    key=cell.clock,
                ),
                Evidence(
                    numbers={
                        "owed": owed,
                        "met": cell.met,
                        "met_late": cell.met_late,
                        "missed": cell.missed,
                        "running_late": cell.running_late,
                        "breach_rate": cell.breach_rate,
                    },
                    incidents=cell.incidents,
                ),
            )
        )
    return found


RULES = [triage_lowered, team_first_response_missed, approval_tier_reached, category_reopened, regulatory_late]


def recommend(session: Session, policy: Policy, start: date, end: date) -> Recommendations:
    since, until = utc_range(start, end)
    window = Window(since=since, until=until, unit="week", by="all")
    findings = [finding for rule in RULES for finding in rule(session, policy, window)]
    return Recommendations(start=start, end=end, findings=findings)
