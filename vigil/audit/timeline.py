"""An incident's timeline in words, in English or Spanish, built from its Temporal history.

Who did what, when, and in which role (from the journal entries the history carries); the
triage and the policy it followed; which timers fired and which SLA or legal clock was
breached and by how much; refused actions and why; approvals, their approvers and the tiers
asked; enforcement and its outcome; runs that continued as new; the seal. Nothing here reads
the SQL projection: a timeline is only as true as the history it is read from.

Sentences are gettext messages (`N_` marks them for `pybabel extract`); their Spanish lives
in vigil/locales/es/LC_MESSAGES/messages.po with the rest of Vigil's.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.api.enums.v1 import EventType

from vigil.audit.decode import Step
from vigil.audit.journal import Journal, Recorded
from vigil.audit.reconstruct import Reconstruction
from vigil.domain import Language
from vigil.i18n import gettext_for, how_long, label, supported, translations, when
from vigil.workflows.messages import ApprovalAsk, ApprovalOutcome, IncidentStart, JournalEntry, Seal
from vigil.workflows.state import Clock, ClockKind, Incident, ProposalStatus, clocks_in_timer_summary

E = EventType


def N_(message: str) -> str:
    return message


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a word that needs its context to translate (`pybabel extract` reads it as msgctxt)."""
    return context, message


class TimelineItem(BaseModel):
    at: datetime
    text: str = Field(description="What happened, in words, in the timeline's language")
    kind: str = Field(
        description="action, refused, triage, clock, enforcement, timer, approval_request, sealed, continued, ended"
    )
    type: str = Field(description="The action type for journal entries (acknowledge, approve, ...), else the kind")
    actor: str = Field(description="Who did it: a user name, or `vigil` for Vigil itself")
    role: str = Field(description="The role they acted in: analyst, lead, ... or system")
    via: str | None = Field(None, description="How an action arrived: update, signal, timer, triage, enforcement")
    event: int | None = Field(None, description="The incident history event that caused it (numbered across runs)")
    run: int | None = Field(None, description="The run of the incident's workflow (1 for the first)")
    workflow_id: str = Field(description="The workflow whose history records it: the incident or an approval request")
    entry_no: int | None = Field(None, description="The journal entry, for actions")
    refused: bool = False
    reason: str | None = Field(None, description="Why it was refused")
    action: dict[str, Any] = Field(default_factory=dict, description="The recorded action, as sent")


class SealSummary(BaseModel):
    digest: str
    events: int


class Timeline(BaseModel):
    incident_id: str
    language: Language
    runs: int = Field(description="Runs of the incident's workflow (more than 1 after continue-as-new)")
    events: int = Field(description="Events in the incident's history, across runs")
    sealed: SealSummary | None = Field(None, description="The digest taken when the incident closed")
    entries: list[TimelineItem]


# Who Vigil tells, by tier (see the policy's escalation and approval tiers).
TIERS = {
    "regional_on_call_lead": pgettext("timeline", "the region's on-call lead"),
    "head_of_incident_management": pgettext("timeline", "the head of incident management"),
    "leads": pgettext("timeline", "the leads"),
    "assignee": pgettext("timeline", "the assignee"),
}
# An action named as a thing, for refusals.
ACTION_NAMES = {
    "acknowledge": pgettext("timeline", "acknowledgement"),
    "assign": pgettext("timeline", "assignment"),
    "add_note": pgettext("timeline", "note"),
    "set_severity": pgettext("timeline", "severity change"),
    "escalate": pgettext("timeline", "escalation"),
    "team_response": pgettext("timeline", "team answer"),
    "propose_action": pgettext("timeline", "proposal"),
    "approve": pgettext("timeline", "approval"),
    "reject": pgettext("timeline", "rejection"),
    "resolve": pgettext("timeline", "resolution"),
    "reopen": pgettext("timeline", "reopening"),
    "merge_into": pgettext("timeline", "merge"),
    "post_update": pgettext("timeline", "status update"),
    "enforcement_completed": pgettext("timeline", "enforcement result"),
}
# How an approval request ended (the words the console uses for an approval's status).
PROPOSAL_OUTCOMES = {"approved": N_("approved"), "rejected": N_("rejected"), "expired": N_("expired")}
SOMEONE = pgettext("timeline", "someone")


class _Writer:
    def __init__(self, language: str):
        self.language = supported(language)
        self._gettext = gettext_for(self.language)
        self._pgettext = translations(self.language).pgettext

    def __call__(self, message: str, **values: Any) -> str:
        return self._gettext(message) % values if values else self._gettext(message)

    def word(self, marked: tuple[str, str] | str) -> str:
        """A word marked with its context (see `pgettext`); unknown words pass through."""
        return self._pgettext(*marked) if isinstance(marked, tuple) else marked

    def label(self, value: object) -> str:
        return label(value, self.language)

    def who(self, user: str | None, role: str | None) -> str:
        if role == "system":
            return self.label("system")
        if not user:
            return self.word(SOMEONE)
        return self(N_("%(user)s (%(role)s)"), user=user, role=self.label(role or "?"))

    def when(self, moment: datetime) -> str:
        return when(moment, self.language)

    def how_long(self, seconds: float) -> str:
        return how_long(max(seconds, 1), self.language)

    def tier(self, tier: str) -> str:
        return self.word(TIERS.get(tier, tier))

    def clock(self, clock: Clock) -> str:
        return self.label(clock.name)


def _short(text: object, limit: int = 300) -> str:
    value = " ".join(str(text).split())  # one line, whatever the reason or note looked like
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _sentences(main: str, *more: str) -> str:
    """'ana (analyst) proposed ...: rationale' + 'needs ...' -> '... rationale. Needs ...'."""
    parts = [main, *(m[:1].upper() + m[1:] for m in more if m)]
    return " ".join(p if p.endswith((".", "!", "?", "…")) else p + "." for p in parts)


# ---------------------------------------------------------------------------- journal entries


def _describe(w: _Writer, recorded: Recorded, before: Incident | None, after: Incident | None) -> str:
    entry, action = recorded.entry, recorded.entry.action
    who = w.who(entry.actor.user if entry.actor else None, entry.actor.role if entry.actor else None)
    if action is None:
        sender = entry.raw.get("actor") if isinstance(entry.raw, dict) else None
        sender = sender if isinstance(sender, dict) else {}
        return _sentences(
            w(
                N_("%(who)s sent a malformed action; refused: %(reason)s"),
                who=w.who(sender.get("user"), sender.get("role")),
                reason=_short(entry.reason or "?"),
            )
        )
    if entry.refused:
        return _sentences(
            w(
                N_("%(who)s sent an action (%(action)s); refused: %(reason)s"),
                who=who,
                action=w.word(ACTION_NAMES.get(action.type, action.type)),
                reason=_short(entry.reason or "?"),
            )
        )
    if after is None:
        return action.type
    text = _APPLIED[action.type](w, who, action, entry, before, after)
    return _sentences(text, *_clocks_met_late(w, before, after, entry.at))


def _opened(w, who, action, entry, before, after) -> str:
    clocks = "; ".join(w(N_("%(clock)s by %(due)s"), clock=w.clock(c), due=w.when(c.due_at)) for c in after.clocks)
    text = w(
        N_("%(who)s opened the incident as %(severity)s: %(reasons)s (policy %(policy)s)"),
        who=who,
        severity=action.severity,
        reasons="; ".join(action.triage_reasons),
        policy=action.policy_version,
    )
    return _sentences(text, w(N_("clocks: %(clocks)s"), clocks=clocks) if clocks else "")


def _proposed(w, who, action, entry, before, after) -> str:
    proposal = after.proposals[-1]
    text = w(
        N_("%(who)s proposed %(action)s (%(approval)s): %(rationale)s"),
        who=who,
        action=w.label(action.action),
        approval=proposal.id,
        rationale=_short(action.rationale),
    )
    if not proposal.needs_approval:
        return _sentences(text, w(N_("no approval needed by policy")))
    if proposal.quorum == 1:
        return _sentences(text, w(N_("needs a lead's approval")))
    return _sentences(text, w(N_("needs the approval of %(quorum)s leads"), quorum=proposal.quorum))


def _approved(w, who, action, entry, before, after) -> str:
    proposal = after.proposal(action.approval_id)
    text = w(
        N_("%(who)s approved %(approval)s (%(count)s of %(quorum)s)"),
        who=who,
        approval=action.approval_id,
        count=len(proposal.approvers),
        quorum=proposal.quorum,
    )
    if proposal.status == ProposalStatus.APPROVED:
        return _sentences(
            text, w(N_("approved by %(approvers)s: enforcement may run"), approvers=", ".join(proposal.approvers))
        )
    return text


def _severity(w, who, action, entry, before, after) -> str:
    text = w(
        N_("%(who)s changed the severity from %(old)s to %(new)s: %(reason)s"),
        who=who,
        old=before.severity,
        new=action.severity,
        reason=_short(action.reason),
    )
    return _sentences(text, _expired(w, before, after))


def _resolved(w, who, action, entry, before, after) -> str:
    text = w(
        N_("%(who)s resolved it as %(resolution)s: %(summary)s"),
        who=who,
        resolution=w.label(action.resolution),
        summary=_short(action.summary),
    )
    return _sentences(text, _expired(w, before, after))


def _escalated(w, who, action, entry, before, after) -> str:
    clock = after.clock(f"sla.first_response.{action.team}")
    return w(
        N_("%(who)s escalated to %(team)s: %(reason)s (answer due %(due)s)"),
        who=who,
        team=w.label(action.team),
        reason=_short(action.reason),
        due=w.when(clock.due_at if clock else entry.at),
    )


def _clock_fired(w, who, action, entry, before, after) -> str:
    # The clock as it fired (the entry keeps what it changed; a later state may have dropped it).
    clock = next((c for c in entry.clocks if c.id == action.clock_id), None) or after.clock(action.clock_id)
    if clock is None:
        return action.clock_id
    if clock.kind == ClockKind.REOPEN:
        return w(N_("The reopen window ended: the incident is closed"))
    if clock.kind == ClockKind.UPDATE:
        reminder = clock.breaches[-1]
        return w(
            N_("A status update is due (%(late)s late); reminder to %(tier)s queued"),
            late=w.how_long(reminder.late_by_seconds),
            tier=w.tier(reminder.tier),
        )
    breach = clock.breaches[-1]
    tier = w.tier(breach.tier)
    if breach.late_by_seconds < 60:  # the first breach: the deadline itself
        allowed = w.how_long((clock.due_at - clock.started_at).total_seconds())
        if clock.kind == ClockKind.REGULATORY:
            return w(
                N_("Legal deadline missed (%(clock)s): not met within %(allowed)s; notice to %(tier)s queued"),
                clock=w.clock(clock),
                allowed=allowed,
                tier=tier,
            )
        return w(
            N_("The %(clock)s SLA was breached: not met within %(allowed)s; notice to %(tier)s queued"),
            clock=w.clock(clock),
            allowed=allowed,
            tier=tier,
        )
    late = w.how_long(breach.late_by_seconds)
    if clock.kind == ClockKind.REGULATORY:
        return w(
            N_("Legal deadline still missed (%(clock)s), %(late)s after it was due; notice to %(tier)s queued"),
            clock=w.clock(clock),
            late=late,
            tier=tier,
        )
    return w(
        N_("The %(clock)s SLA is still not met, %(late)s after it was due; notice to %(tier)s queued"),
        clock=w.clock(clock),
        late=late,
        tier=tier,
    )


def _enforced(w, who, action, entry, before, after) -> str:
    proposal = after.proposal(action.proposal_id)
    name = w.label(proposal.action) if proposal else action.proposal_id
    if action.succeeded:
        return w(
            N_("Enforcement of %(action)s (%(approval)s) succeeded: reference %(reference)s"),
            action=name,
            approval=action.proposal_id,
            reference=action.reference,
        )
    return w(
        N_("Enforcement of %(action)s (%(approval)s) failed: %(detail)s"),
        action=name,
        approval=action.proposal_id,
        detail=_short(action.detail),
    )


_APPLIED = {
    "open": _opened,
    "acknowledge": lambda w, who, a, e, b, s: w(N_("%(who)s acknowledged the incident"), who=who),
    "assign": lambda w, who, a, e, b, s: w(N_("%(who)s assigned it to %(assignee)s"), who=who, assignee=a.assignee),
    "add_note": lambda w, who, a, e, b, s: w(N_("%(who)s added a note: %(text)s"), who=who, text=_short(a.text)),
    "set_severity": _severity,
    "escalate": _escalated,
    "team_response": lambda w, who, a, e, b, s: w(
        N_("%(who)s recorded the answer of %(team)s: %(text)s"), who=who, team=w.label(a.team), text=_short(a.text)
    ),
    "propose_action": _proposed,
    "approve": _approved,
    "reject": lambda w, who, a, e, b, s: w(
        N_("%(who)s rejected %(approval)s: %(reason)s"), who=who, approval=a.approval_id, reason=_short(a.reason)
    ),
    "resolve": _resolved,
    "reopen": lambda w, who, a, e, b, s: w(N_("%(who)s reopened it: %(reason)s"), who=who, reason=_short(a.reason)),
    "merge_into": lambda w, who, a, e, b, s: w(N_("%(who)s merged it into %(target)s"), who=who, target=a.incident_id),
    "clock_fired": _clock_fired,
    "enforcement_completed": _enforced,
    "post_update": lambda w, who, a, e, b, s: w(
        N_("%(who)s posted a status update for %(audience)s: %(text)s"),
        who=who,
        audience=w.label(a.audience),
        text=_short(a.text),
    ),
}


def _expired(w: _Writer, before: Incident | None, after: Incident) -> str:
    was_pending = {p.id for p in (before.proposals if before else []) if p.status == ProposalStatus.PENDING}
    expired = [p.id for p in after.proposals if p.id in was_pending and p.status == ProposalStatus.EXPIRED]
    return w(N_("approval %(approvals)s expired"), approvals=", ".join(expired)) if expired else ""


def _clocks_met_late(w: _Writer, before: Incident | None, after: Incident, at: datetime) -> list[str]:
    """For an action that met a clock already breached: by how much it was late."""
    notes = []
    for clock in after.clocks:
        old = before.clock(clock.id) if before else None
        if clock.met_at == at and old is not None and old.running and clock.breaches and clock.kind != ClockKind.REOPEN:
            late = w.how_long((at - clock.due_at).total_seconds())
            notes.append(w(N_("the %(clock)s clock was met %(late)s late"), clock=w.clock(clock), late=late))
    return notes


# ---------------------------------------------------------------------------- other events


def _item(step: Step, incident_id: str, kind: str, text: str, **fields: Any) -> TimelineItem:
    return TimelineItem(
        at=step.at,
        text=_sentences(text),
        kind=kind,
        type=fields.pop("type", kind),
        actor=fields.pop("actor", "vigil"),
        role=fields.pop("role", "system"),
        event=step.number,
        run=step.run + 1,
        workflow_id=incident_id,
        **fields,
    )


def _timer_fired(w: _Writer, summary: str, duration: timedelta, clocks: dict[str, Clock]) -> str:
    """The alarm's summary names the clock ids it was set for ("clock sla.acknowledge"): name
    them in the reader's language, as every other sentence does."""
    took = w.how_long(duration.total_seconds())
    ids = clocks_in_timer_summary(summary)
    if ids and all(i in clocks for i in ids):
        return w(
            N_("Timer fired after %(duration)s for the %(clocks)s clock"),
            duration=took,
            clocks=", ".join(w.clock(clocks[i]) for i in ids),
        )
    return w(N_("Timer fired after %(duration)s: %(summary)s"), duration=took, summary=summary or "-")


def _event_items(w: _Writer, journal: Journal, clocks: dict[str, Clock]) -> list[TimelineItem]:
    incident = journal.history.incident_id
    items = []
    for step in journal.steps:
        t = step.type
        if t == E.EVENT_TYPE_TIMER_FIRED:
            text = _timer_fired(w, step.info.get("summary") or "", step.info.get("duration") or timedelta(0), clocks)
            items.append(_item(step, incident, "timer", text))
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED and isinstance(step.value, Seal):
            text = w(
                N_("History sealed: SHA-256 %(digest)s over %(events)s events"),
                digest=step.value.digest,
                events=step.value.events,
            )
            items.append(_item(step, incident, "sealed", text))
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            carried = step.value.carried if isinstance(step.value, IncidentStart) else None
            items.append(
                _item(
                    step,
                    incident,
                    "continued",
                    w(
                        N_(
                            "History continued in a new run after %(events)s events; the state after entry %(entry)s "
                            "was carried over"
                        ),
                        events=len(journal.history.runs[step.run].events),
                        entry=carried.entries if carried else "?",
                    ),
                )
            )
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED and "failure" in step.info:
            accepted = next(
                (
                    s
                    for s in journal.steps
                    if s.type == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                    and s.info.get("update_id") == step.info["update_id"]
                ),
                None,
            )
            request = accepted.value if accepted else None
            if request is not None and getattr(request, "action", None) is not None:
                items.append(
                    _item(
                        step,
                        incident,
                        "refused",
                        w(
                            N_("%(who)s sent an action (%(action)s); refused: %(reason)s"),
                            who=w.who(request.actor.user, request.actor.role),
                            action=w.word(ACTION_NAMES.get(request.action.type, request.action.type)),
                            reason=_short(step.info["failure"]),
                        ),
                        type=request.action.type,
                        actor=request.actor.user,
                        role=request.actor.role.value,
                        via="update",
                        refused=True,
                        reason=step.info["failure"],
                        action=request.action.model_dump(mode="json"),
                    )
                )
        elif t in (
            E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
            E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        ):
            how = step.type_name.removeprefix("WORKFLOW_EXECUTION_").lower()
            reason = step.info.get("failure") or step.info.get("reason") or "-"
            who = step.info.get("identity") or "vigil"
            items.append(
                _item(
                    step,
                    incident,
                    "ended",
                    w(
                        N_("The incident's workflow ended abnormally (%(how)s): %(reason)s"),
                        how=how,
                        reason=_short(reason),
                    ),
                    actor=who,
                    role="system",
                )
            )
    return items


def _approval_items(w: _Writer, journal: Journal) -> list[TimelineItem]:
    items = []
    for approval_id, steps in journal.approvals.items():
        for step in steps:
            if step.type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and isinstance(step.value, ApprovalAsk):
                ask = step.value
                tier = w.tier(ask.tier)
                if ask.round == 1:
                    text = w(N_("Asked %(tier)s to decide on %(approval)s"), tier=tier, approval=approval_id)
                else:
                    text = w(
                        N_("Nobody decided on %(approval)s within %(timeout)s: asked %(tier)s (request %(round)s)"),
                        approval=approval_id,
                        timeout=w.how_long(ask.request.timeout_seconds),
                        tier=tier,
                        round=ask.round,
                    )
                items.append(
                    TimelineItem(
                        at=step.at,
                        text=_sentences(text),
                        kind="approval_request",
                        type="approval_request",
                        actor="vigil",
                        role="system",
                        workflow_id=approval_id,
                    )
                )
            elif step.type == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED and isinstance(step.value, ApprovalOutcome):
                outcome = step.value
                items.append(
                    TimelineItem(
                        at=step.at,
                        kind="approval_request",
                        type="approval_request",
                        actor="vigil",
                        role="system",
                        workflow_id=approval_id,
                        text=_sentences(
                            w(
                                N_("Approval request %(approval)s closed: %(outcome)s, after %(rounds)s request(s)"),
                                approval=approval_id,
                                rounds=outcome.rounds,
                                outcome=w(PROPOSAL_OUTCOMES.get(outcome.status, outcome.status)),
                            )
                        ),
                    )
                )
    return items


# ---------------------------------------------------------------------------- the timeline


def build_timeline(reconstruction: Reconstruction, language: str) -> Timeline:
    w = _Writer(language)
    journal = reconstruction.journal
    incident = journal.history.incident_id
    placed: list[tuple[int, int, TimelineItem]] = []  # (position in the history, tiebreak, item)

    for recorded in journal.entries:
        entry = recorded.entry
        before = reconstruction.before_entry(entry.entry_no)
        after = reconstruction.after_entry(entry.entry_no)
        actor, role = _actor_of(entry)
        kind = "refused" if entry.refused or entry.action is None else _KIND.get(entry.action.type, "action")
        step = journal.step(recorded.cause)
        item = TimelineItem(
            at=entry.at,
            text=_describe(w, recorded, before, after),
            kind=kind,
            type=entry.action.type if entry.action else "malformed",
            actor=actor,
            role=role,
            via=recorded.via,
            event=recorded.cause,
            run=step.run + 1,
            workflow_id=incident,
            entry_no=entry.entry_no,
            refused=entry.refused,
            reason=entry.reason,
            action=entry.action.model_dump(mode="json") if entry.action else (entry.raw or {}),
        )
        placed.append((recorded.applied, 1, item))
    final = reconstruction.final
    for item in _event_items(w, journal, {c.id: c for c in final.clocks} if final else {}):
        placed.append((item.event or 0, 0, item))
    placed.sort(key=lambda p: (p[0], p[1]))
    items = [item for _, _, item in placed]
    items = _merge_by_time(items, _approval_items(w, journal))

    seal = next((s.value for s in journal.steps if isinstance(s.value, Seal)), None)
    return Timeline(
        incident_id=incident,
        language=Language(w.language),
        runs=len(journal.history.runs),
        events=journal.events,
        sealed=SealSummary(digest=seal.digest, events=seal.events) if seal else None,
        entries=items,
    )


_KIND = {"open": "triage", "clock_fired": "clock", "enforcement_completed": "enforcement"}


def _actor_of(entry: JournalEntry) -> tuple[str, str]:
    """Who sent it: the recorded actor, or for a malformed signal whatever actor it claimed."""
    if entry.actor is not None:
        return entry.actor.user, entry.actor.role.value
    claimed = entry.raw.get("actor") if isinstance(entry.raw, dict) else None
    if isinstance(claimed, dict):
        return str(claimed.get("user") or "unknown")[:64], str(claimed.get("role") or "unknown")[:16]
    return "unknown", "unknown"


def _merge_by_time(items: list[TimelineItem], others: list[TimelineItem]) -> list[TimelineItem]:
    """Approval requests run in their own workflows: place their events by time among the incident's."""
    merged = list(items)
    for other in sorted(others, key=lambda i: i.at):
        position = len(merged)
        while position > 0 and merged[position - 1].at > other.at:
            position -= 1
        merged.insert(position, other)
    return merged
