"""Who is told what, for each journal entry: rows for the notification outbox.

Messages carry the incident id, severity, category and a link, never the content, its URL,
the reporter or the title: notifications land in mail, chat and pagers, where graphic material
must not appear unasked. Recipients are addresses the directory resolves (directory.py):
`user:ana`, `team:legal`, `tier:regional_on_call_lead:EMEA`, `tier:head_of_incident_management`,
`audience:leadership`. Each notice is written in every language Vigil speaks, so each address
reads its own; `language` is the one a recipient reads when nothing better is known.
"""

from dataclasses import dataclass, field
from datetime import datetime

from vigil.domain import Region, Severity
from vigil.i18n import LANGUAGES, render
from vigil.workflows.messages import ApprovalAsk, JournalEntry
from vigil.workflows.state import ClockKind, Incident

# The language a team or tier reads when no person's preference is known.
REGION_LANGUAGE = {Region.LATAM: "es"}
# Tiers whose holder depends on the incident's region.
REGIONAL_TIERS = {"regional_on_call_lead", "leads"}


@dataclass(frozen=True)
class Notification:
    key: str  # unique: a retried write of the same entry is a no-op
    kind: str
    recipient: str
    language: str
    subject: str
    body: str
    occurred_at: datetime | None = None  # the moment it is about: whoever was on call then is paged
    severity: str | None = None
    incident_id: str | None = None
    messages: dict[str, dict[str, str]] = field(default_factory=dict)  # language -> subject, body

    def row(self, created_at: datetime) -> dict[str, object]:
        """As an outbox row."""
        return {
            "key": self.key,
            "incident_id": self.incident_id,
            "kind": self.kind,
            "recipient": self.recipient,
            "language": self.language,
            "subject": self.subject,
            "body": self.body,
            "created_at": created_at,
            "occurred_at": self.occurred_at or created_at,
            "severity": self.severity,
            "messages": self.messages,
        }


def notice(
    key: str,
    kind: str,
    recipient: str,
    language: str,
    template: str,
    *,
    occurred_at: datetime,
    severity: str | None,
    incident_id: str | None,
    **context: object,
) -> Notification:
    """A notice rendered in every language; subject and body in `language`."""
    messages = {}
    for each in LANGUAGES:
        subject, body = _message(template, each, **context)
        messages[each] = {"subject": subject, "body": body}
    return Notification(
        key=key,
        kind=kind,
        recipient=recipient,
        language=language,
        subject=messages[language]["subject"],
        body=messages[language]["body"],
        occurred_at=occurred_at,
        severity=severity,
        incident_id=incident_id,
        messages=messages,
    )


def tier_address(tier: str, region: Region) -> str:
    return f"tier:{tier}:{region}" if tier in REGIONAL_TIERS else f"tier:{tier}"


def _message(template: str, language: str, **context: object) -> tuple[str, str]:
    text = render(f"notifications/{template}.txt", language, **context)
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


def for_entry(entry: JournalEntry, state: Incident, public_url: str, language_of: dict[str, str]) -> list[Notification]:
    """The notifications an applied journal entry calls for (none for refused ones)."""
    if entry.refused or entry.action is None or entry.actor is None:
        return []
    action = entry.action
    region = state.intake.region
    link = f"{public_url}/incidents/{state.id}"
    team_language = REGION_LANGUAGE.get(region, "en")
    wanted: list[tuple[str, str, dict[str, object]]] = []  # (template, recipient, context)

    clocks = {c.id: c for c in entry.clocks}
    decided = [p for p in entry.proposals if p.status in ("approved", "rejected", "expired") and p.needs_approval]

    if action.type == "open" and state.severity in (Severity.SEV1, Severity.SEV2):
        ack = clocks.get("sla.acknowledge")
        on_call = tier_address("regional_on_call_lead", region)
        wanted.append(("opened", on_call, {"ack_due": ack.due_at if ack else entry.at}))
    elif action.type == "clock_fired" and (fired := clocks.get(action.clock_id)) and fired.kind == ClockKind.UPDATE:
        reminder = fired.breaches[-1]
        recipient = f"user:{state.assignee}" if reminder.tier == "assignee" else tier_address(reminder.tier, region)
        wanted.append(("update_due", recipient, {"clock": fired, "reminder": reminder}))
    elif action.type == "clock_fired" and (fired := clocks.get(action.clock_id)) and fired.breaches:
        breach = fired.breaches[-1]
        context = {
            "clock": fired,
            "clock_name": fired.name,
            "late_by_seconds": max(breach.late_by_seconds, 1),
            "tier": breach.tier,
        }
        wanted.append(("breach", tier_address(breach.tier, region), context))
        if state.assignee:
            wanted.append(("breach", f"user:{state.assignee}", context))
    elif action.type == "escalate":
        clock = clocks.get(f"sla.first_response.{action.team}")
        wanted.append(
            (
                "escalation",
                f"team:{action.team}",
                {"actor": entry.actor.user, "reason": action.reason, "due_at": clock.due_at if clock else entry.at},
            )
        )
    elif action.type == "enforcement_completed":
        for proposal in entry.proposals:
            for recipient in {f"user:{proposal.proposed_by}", f"user:{state.assignee or proposal.proposed_by}"}:
                wanted.append(("enforcement", recipient, {"proposal": proposal}))
    elif action.type == "assign" and action.assignee != entry.actor.user:
        wanted.append(("assigned", f"user:{action.assignee}", {}))
    elif action.type == "post_update":
        legal = [c for c in state.clocks if c.running and c.kind == ClockKind.REGULATORY]
        context = {
            "update": action,
            "author": entry.actor.user,
            "legal": legal if action.audience == "leadership" else [],
        }
        wanted.append(("status_update", f"audience:{action.audience}", context))
    for proposal in decided:  # approved or rejected by a vote, or expired by a severity change or resolve
        wanted.append(("approval_decided", f"user:{proposal.proposed_by}", {"proposal": proposal}))

    return [
        notice(
            f"{state.id}:{entry.entry_no}:{template}:{recipient}",
            template,
            recipient,
            language_of.get(recipient.removeprefix("user:"), team_language),
            template,
            occurred_at=entry.at,
            severity=state.severity.value,
            incident_id=state.id,
            state=state,
            link=link,
            **context,
        )
        for template, recipient, context in wanted
    ]


def for_approval_ask(ask: ApprovalAsk, public_url: str) -> Notification:
    request = ask.request
    return notice(
        f"{request.proposal.id}:ask:{ask.round}",
        "approval_requested",
        tier_address(ask.tier, request.region),
        REGION_LANGUAGE.get(request.region, "en"),
        "approval_requested",
        occurred_at=ask.at,
        severity=request.severity.value,
        incident_id=request.incident_id,
        request=request,
        round=ask.round,
        link=f"{public_url}/incidents/{request.incident_id}",
    )


HEAD_OF_IM = "tier:head_of_incident_management"


def undelivered(
    key: str,
    about: dict[str, object],
    reason: str,
    address: str | None,
    at: datetime,
    public_url: str,
) -> Notification:
    """To the head of incident management: a notice could not be delivered (`about` is its outbox
    row: key, kind, recipient, incident_id, severity), permanently or not in time."""
    incident_id = about.get("incident_id")
    return notice(
        key,
        "undelivered",
        HEAD_OF_IM,
        "en",
        "undelivered",
        occurred_at=at,
        severity=str(about.get("severity") or "") or None,
        incident_id=str(incident_id) if incident_id else None,
        about=about,
        reason=reason,
        address=address,
        link=f"{public_url}/incidents/{incident_id}" if incident_id else public_url,
    )


def for_divergence(incident_id: str, severity: str, region: str, event: int | None, public_url: str) -> Notification:
    """To the head of incident management: this incident's history no longer replays, so it will
    stall at its next workflow task until someone repairs it (docs/reliability.md). Once per
    divergence: the key names the first diverging event."""
    language = REGION_LANGUAGE.get(Region(region), "en")
    subject, body = _message(
        "diverged",
        language,
        incident_id=incident_id,
        severity=severity,
        event=event,
        link=f"{public_url}/incidents/{incident_id}",
    )
    return Notification(
        key=f"{incident_id}:diverged:{event or 0}",
        kind="diverged",
        recipient=tier_address("head_of_incident_management", Region(region)),
        language=language,
        subject=subject,
        body=body,
    )
