"""An incident's timeline in words, in English or Spanish, built from its Temporal history.

Who did what, when, and in which role (from the journal entries the history carries); the
triage and the policy it followed; which timers fired and which SLA or legal clock was
breached and by how much; refused actions and why; approvals, their approvers and the tiers
asked; enforcement and its outcome; runs that continued as new; the seal. Nothing here reads
the SQL projection: a timeline is only as true as the history it is read from.

Sentences are gettext messages (`N_` marks them for `pybabel extract`); their Spanish lives
in vigil/locales/es/LC_MESSAGES/messages.po with the rest of Vigil's.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import singledispatch
from typing import Any

from pydantic import BaseModel, Field

from vigil.audit.counts import HistoryCounts, count_history
from vigil.audit.decode import (
    ActivityCompleted,
    ActivityScheduled,
    ContinuedAsNew,
    Fact,
    Step,
    TimerFired,
    UpdateAccepted,
    UpdateCompleted,
    WorkflowCompleted,
    WorkflowEnded,
    WorkflowReset,
)
from vigil.audit.journal import Journal, Recorded
from vigil.audit.reconstruct import Reconstruction
from vigil.domain import Language
from vigil.i18n import how_long, label, supported, translations, when
from vigil.workflows.actions import (
    Acknowledge,
    Action,
    AddNote,
    Approve,
    Assign,
    ClockFired,
    EnforcementCompleted,
    Escalate,
    MergeInto,
    Open,
    PostUpdate,
    ProposeAction,
    RecordTeamResponse,
    Reject,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.messages import ActionRequest, ApprovalAsk, ApprovalOutcome, IncidentStart, JournalEntry, Seal
from vigil.workflows.state import Breach, Clock, ClockKind, Incident, ProposalStatus, clocks_in_timer_summary


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
    counts: HistoryCounts = Field(description="The history read, as every audit report counts it")
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
        self._translations = translations(self.language)

    def __call__(self, message: str, **values: Any) -> str:
        text = self._translations.gettext(message)
        return text % values if values else text

    def word(self, marked: tuple[str, str] | str) -> str:
        """A word marked with its context (see `pgettext`); unknown words pass through."""
        return self._translations.pgettext(*marked) if isinstance(marked, tuple) else marked

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


@dataclass(frozen=True)
class _Applied:
    """What a sentence about an applied journal entry may draw on."""

    w: _Writer
    who: str  # the actor, in words
    entry: JournalEntry
    before: Incident | None  # the folded state before the entry
    after: Incident  # and after it


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
    if entry.unverified and entry.actor is not None:  # who it claimed to be, not who sent it
        return _sentences(
            w(
                N_("Refused: %(action)s by '%(user)s' (%(role)s), who could not be verified: %(reason)s"),
                action=w.word(ACTION_NAMES.get(action.type, action.type)),
                user=entry.actor.user,
                role="system" if entry.actor.role == "system" else w.label(entry.actor.role),
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
    text = _applied(action, _Applied(w, who, entry, before, after))
    return _sentences(text, *_clocks_met_late(w, before, after, entry.at))


@singledispatch
def _applied(action: Action, s: _Applied) -> str:
    """The sentence for an applied action: one function per action type, registered below."""
    return action.type


@_applied.register
def _opened(action: Open, s: _Applied) -> str:
    w = s.w
    clocks = "; ".join(w(N_("%(clock)s by %(due)s"), clock=w.clock(c), due=w.when(c.due_at)) for c in s.after.clocks)
    text = w(
        N_("%(who)s opened the incident as %(severity)s: %(reasons)s (policy %(policy)s)"),
        who=s.who,
        severity=action.severity,
        reasons="; ".join(action.triage_reasons),
        policy=action.policy_version,
    )
    return _sentences(text, w(N_("clocks: %(clocks)s"), clocks=clocks) if clocks else "")


@_applied.register
def _acknowledged(action: Acknowledge, s: _Applied) -> str:
    return s.w(N_("%(who)s acknowledged the incident"), who=s.who)


@_applied.register
def _assigned(action: Assign, s: _Applied) -> str:
    return s.w(N_("%(who)s assigned it to %(assignee)s"), who=s.who, assignee=action.assignee)


@_applied.register
def _noted(action: AddNote, s: _Applied) -> str:
    return s.w(N_("%(who)s added a note: %(text)s"), who=s.who, text=_short(action.text))


@_applied.register
def _severity(action: SetSeverity, s: _Applied) -> str:
    text = s.w(
        N_("%(who)s changed the severity from %(old)s to %(new)s: %(reason)s"),
        who=s.who,
        old=s.before.severity if s.before else "?",
        new=action.severity,
        reason=_short(action.reason),
    )
    return _sentences(text, _expired(s.w, s.before, s.after))


@_applied.register
def _escalated(action: Escalate, s: _Applied) -> str:
    clock = s.after.clock(f"sla.first_response.{action.team}")
    return s.w(
        N_("%(who)s escalated to %(team)s: %(reason)s (answer due %(due)s)"),
        who=s.who,
        team=s.w.label(action.team),
        reason=_short(action.reason),
        due=s.w.when(clock.due_at if clock else s.entry.at),
    )


@_applied.register
def _team_answered(action: RecordTeamResponse, s: _Applied) -> str:
    return s.w(
        N_("%(who)s recorded the answer of %(team)s: %(text)s"),
        who=s.who,
        team=s.w.label(action.team),
        text=_short(action.text),
    )


@_applied.register
def _proposed(action: ProposeAction, s: _Applied) -> str:
    w, proposal = s.w, s.after.proposals[-1]
    text = w(
        N_("%(who)s proposed %(action)s (%(approval)s): %(rationale)s"),
        who=s.who,
        action=w.label(action.action),
        approval=proposal.id,
        rationale=_short(action.rationale),
    )
    if not proposal.needs_approval:
        return _sentences(text, w(N_("no approval needed by policy")))
    needs = (
        w(N_("needs a lead's approval"))
        if proposal.quorum == 1
        else w(N_("needs the approval of %(quorum)s leads"), quorum=proposal.quorum)
    )
    if proposal.approval_severity and proposal.approval_severity != proposal.severity:  # lowered since
        return _sentences(
            text,
            needs,
            w(
                N_("approval as at %(severity)s, the most severe level it has held"),
                severity=proposal.approval_severity,
            ),
        )
    return _sentences(text, needs)


@_applied.register
def _approved(action: Approve, s: _Applied) -> str:
    w, proposal = s.w, s.after.proposal(action.approval_id)
    if proposal is None:  # an approval is only applied to a proposal the state has
        return action.type
    text = w(
        N_("%(who)s approved %(approval)s (%(count)s of %(quorum)s)"),
        who=s.who,
        approval=action.approval_id,
        count=len(proposal.approvers),
        quorum=proposal.quorum,
    )
    if proposal.status == ProposalStatus.APPROVED:
        return _sentences(
            text, w(N_("approved by %(approvers)s: enforcement may run"), approvers=", ".join(proposal.approvers))
        )
    return text


@_applied.register
def _rejected(action: Reject, s: _Applied) -> str:
    return s.w(
        N_("%(who)s rejected %(approval)s: %(reason)s"),
        who=s.who,
        approval=action.approval_id,
        reason=_short(action.reason),
    )


@_applied.register
def _resolved(action: Resolve, s: _Applied) -> str:
    text = s.w(
        N_("%(who)s resolved it as %(resolution)s: %(summary)s"),
        who=s.who,
        resolution=s.w.label(action.resolution),
        summary=_short(action.summary),
    )
    return _sentences(text, _expired(s.w, s.before, s.after))


@_applied.register
def _reopened(action: Reopen, s: _Applied) -> str:
    return s.w(N_("%(who)s reopened it: %(reason)s"), who=s.who, reason=_short(action.reason))


@_applied.register
def _merged(action: MergeInto, s: _Applied) -> str:
    return s.w(N_("%(who)s merged it into %(target)s"), who=s.who, target=action.incident_id)


@_applied.register
def _update_posted(action: PostUpdate, s: _Applied) -> str:
    return s.w(
        N_("%(who)s posted a status update for %(audience)s: %(text)s"),
        who=s.who,
        audience=s.w.label(action.audience),
        text=_short(action.text),
    )


@_applied.register
def _clock_fired(action: ClockFired, s: _Applied) -> str:
    # The clock as it fired (the entry keeps what it changed; a later state may have dropped it).
    clock = next((c for c in s.entry.clocks if c.id == action.clock_id), None) or s.after.clock(action.clock_id)
    if clock is None:
        return action.clock_id
    if clock.kind == ClockKind.REOPEN:
        return s.w(N_("The reopen window ended: the incident is closed"))
    if clock.kind == ClockKind.UPDATE:
        reminder = clock.breaches[-1]
        return s.w(
            N_("A status update is due (%(late)s late); reminder to %(tier)s queued"),
            late=s.w.how_long(reminder.late_by_seconds),
            tier=s.w.tier(reminder.tier),
        )
    breach = clock.breaches[-1]
    if breach.late_by_seconds < 60:  # the first breach: the deadline itself
        return _deadline_missed(s.w, clock, breach)
    return _still_missed(s.w, clock, breach)


def _deadline_missed(w: _Writer, clock: Clock, breach: Breach) -> str:
    allowed = w.how_long((clock.due_at - clock.started_at).total_seconds())
    if clock.kind == ClockKind.REGULATORY:
        return w(
            N_("Legal deadline missed (%(clock)s): not met within %(allowed)s; notice to %(tier)s queued"),
            clock=w.clock(clock),
            allowed=allowed,
            tier=w.tier(breach.tier),
        )
    return w(
        N_("The %(clock)s SLA was breached: not met within %(allowed)s; notice to %(tier)s queued"),
        clock=w.clock(clock),
        allowed=allowed,
        tier=w.tier(breach.tier),
    )


def _still_missed(w: _Writer, clock: Clock, breach: Breach) -> str:
    late = w.how_long(breach.late_by_seconds)
    if clock.kind == ClockKind.REGULATORY:
        return w(
            N_("Legal deadline still missed (%(clock)s), %(late)s after it was due; notice to %(tier)s queued"),
            clock=w.clock(clock),
            late=late,
            tier=w.tier(breach.tier),
        )
    return w(
        N_("The %(clock)s SLA is still not met, %(late)s after it was due; notice to %(tier)s queued"),
        clock=w.clock(clock),
        late=late,
        tier=w.tier(breach.tier),
    )


@_applied.register
def _enforced(action: EnforcementCompleted, s: _Applied) -> str:
    proposal = s.after.proposal(action.proposal_id)
    name = s.w.label(proposal.action) if proposal else action.proposal_id
    if action.succeeded:
        return s.w(
            N_("Enforcement of %(action)s (%(approval)s) succeeded: reference %(reference)s"),
            action=name,
            approval=action.proposal_id,
            reference=action.reference,
        )
    return s.w(
        N_("Enforcement of %(action)s (%(approval)s) failed: %(detail)s"),
        action=name,
        approval=action.proposal_id,
        detail=_short(action.detail),
    )


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


@dataclass(frozen=True)
class _Events:
    """What a sentence about a history event (not a journal entry) may draw on."""

    w: _Writer
    journal: Journal
    clocks: dict[str, Clock]  # the final state's clocks, by id: timers name them
    accepted: dict[str, UpdateAccepted]  # update id -> the update, for refused updates
    journaled: set[str]  # ids of refused updates the journal records (they have their entry's line)

    @property
    def incident(self) -> str:
        return self.journal.history.incident_id


def _accepted_updates(steps: list[Step]) -> dict[str, UpdateAccepted]:
    accepted: dict[str, UpdateAccepted] = {}
    for step in steps:
        if isinstance(step.fact, UpdateAccepted):
            accepted.setdefault(step.fact.update_id, step.fact)
    return accepted


def _journaled_refusals(journal: Journal) -> set[str]:
    ids = set()
    for recorded in journal.entries:
        fact = journal.step(recorded.cause).fact if recorded.via == "update" and recorded.entry.refused else None
        if isinstance(fact, UpdateAccepted):
            ids.add(fact.update_id)
    return ids


@singledispatch
def _event_item(fact: Fact | None, step: Step, c: _Events) -> TimelineItem | None:
    """The timeline's line for a history event, if it has one: one function per kind, below."""
    return None


@_event_item.register
def _timer_fired(fact: TimerFired, step: Step, c: _Events) -> TimelineItem:
    """The alarm's summary names the clock ids it was set for ("clock sla.acknowledge"): name
    them in the reader's language, as every other sentence does."""
    w = c.w
    took = w.how_long((fact.duration or timedelta(0)).total_seconds())
    ids = clocks_in_timer_summary(fact.summary)
    if ids and all(i in c.clocks for i in ids):
        text = w(
            N_("Timer fired after %(duration)s for the %(clocks)s clock"),
            duration=took,
            clocks=", ".join(w.clock(c.clocks[i]) for i in ids),
        )
    else:
        text = w(N_("Timer fired after %(duration)s: %(summary)s"), duration=took, summary=fact.summary or "-")
    return _item(step, c.incident, "timer", text)


@_event_item.register
def _sealed(fact: ActivityCompleted, step: Step, c: _Events) -> TimelineItem | None:
    if not isinstance(fact.result, Seal):
        return None
    text = c.w(
        N_("History sealed: SHA-256 %(digest)s over %(events)s events"),
        digest=fact.result.digest,
        events=fact.result.events,
    )
    return _item(step, c.incident, "sealed", text)


@_event_item.register
def _continued(fact: ContinuedAsNew, step: Step, c: _Events) -> TimelineItem:
    carried = fact.input.carried if isinstance(fact.input, IncidentStart) else None
    text = c.w(
        N_("History continued in a new run after %(events)s events; the state after entry %(entry)s was carried over"),
        events=len(c.journal.history.runs[step.run].events),
        entry=carried.entries if carried else "?",
    )
    return _item(step, c.incident, "continued", text)


@_event_item.register
def _update_refused(fact: UpdateCompleted, step: Step, c: _Events) -> TimelineItem | None:
    """An update refused by its handler in a run from before refusals were journaled."""
    if fact.update_id in c.journaled:
        return None
    accepted = c.accepted.get(fact.update_id)
    request = accepted.request if accepted else None
    if fact.failure is None or not isinstance(request, ActionRequest):
        return None
    text = c.w(
        N_("%(who)s sent an action (%(action)s); refused: %(reason)s"),
        who=c.w.who(request.actor.user, request.actor.role),
        action=c.w.word(ACTION_NAMES.get(request.action.type, request.action.type)),
        reason=_short(fact.failure),
    )
    return _item(
        step,
        c.incident,
        "refused",
        text,
        type=request.action.type,
        actor=request.actor.user,
        role=request.actor.role.value,
        via="update",
        refused=True,
        reason=fact.failure,
        action=request.action.model_dump(mode="json"),
    )


@_event_item.register
def _ended(fact: WorkflowEnded, step: Step, c: _Events) -> TimelineItem:
    how = step.type_name.removeprefix("WORKFLOW_EXECUTION_").lower()
    text = c.w(
        N_("The incident's workflow ended abnormally (%(how)s): %(reason)s"),
        how=how,
        reason=_short(fact.reason or "-"),
    )
    return _item(step, c.incident, "ended", text, actor=fact.identity or "vigil", role="system")


@_event_item.register
def _reset(fact: WorkflowReset, step: Step, c: _Events) -> TimelineItem:
    text = c.w(
        N_(
            "The workflow was reset here to repair a history that no longer replayed: %(reason)s. "
            "What the old run did after this point is kept in run %(run)s"
        ),
        reason=_short(fact.reason or "-"),
        run=fact.base_run_id or "-",
    )
    return _item(step, c.incident, "repaired", text, actor="vigil", role="system")


def _event_items(w: _Writer, journal: Journal, clocks: dict[str, Clock]) -> list[TimelineItem]:
    context = _Events(w, journal, clocks, _accepted_updates(journal.steps), _journaled_refusals(journal))
    items = (_event_item(step.fact, step, context) for step in journal.steps)
    return [item for item in items if item is not None]


def _approval_item(approval_id: str, step: Step, text: str) -> TimelineItem:
    return TimelineItem(
        at=step.at,
        text=_sentences(text),
        kind="approval_request",
        type="approval_request",
        actor="vigil",
        role="system",
        workflow_id=approval_id,
    )


def _approvers_asked(w: _Writer, approval_id: str, ask: ApprovalAsk) -> str:
    tier = w.tier(ask.tier)
    if ask.round == 1:
        return w(N_("Asked %(tier)s to decide on %(approval)s"), tier=tier, approval=approval_id)
    return w(
        N_("Nobody decided on %(approval)s within %(timeout)s: asked %(tier)s (request %(round)s)"),
        approval=approval_id,
        timeout=w.how_long(ask.request.timeout_seconds),
        tier=tier,
        round=ask.round,
    )


def _approval_closed(w: _Writer, approval_id: str, outcome: ApprovalOutcome) -> str:
    return w(
        N_("Approval request %(approval)s closed: %(outcome)s, after %(rounds)s request(s)"),
        approval=approval_id,
        rounds=outcome.rounds,
        outcome=w(PROPOSAL_OUTCOMES.get(outcome.status, outcome.status)),
    )


def _approval_items(w: _Writer, journal: Journal) -> list[TimelineItem]:
    """Each approval request's asks (one per tier asked) and how it closed."""
    items = []
    for approval_id, steps in journal.approvals.items():
        for step in steps:
            fact = step.fact
            if isinstance(fact, ActivityScheduled) and isinstance(fact.input, ApprovalAsk):
                items.append(_approval_item(approval_id, step, _approvers_asked(w, approval_id, fact.input)))
            elif isinstance(fact, WorkflowCompleted) and isinstance(fact.result, ApprovalOutcome):
                items.append(_approval_item(approval_id, step, _approval_closed(w, approval_id, fact.result)))
    return items


# ---------------------------------------------------------------------------- the timeline


def build_timeline(reconstruction: Reconstruction, language: str) -> Timeline:
    w = _Writer(language)
    journal = reconstruction.journal
    placed: list[tuple[int, int, TimelineItem]] = []  # (position in the history, tiebreak, item)
    for recorded in journal.entries:
        placed.append((recorded.applied, 1, _entry_item(w, reconstruction, recorded)))
    final = reconstruction.final
    for item in _event_items(w, journal, {c.id: c for c in final.clocks} if final else {}):
        placed.append((item.event or 0, 0, item))
    placed.sort(key=lambda p: (p[0], p[1]))
    items = _merge_by_time([item for _, _, item in placed], _approval_items(w, journal))

    seal = _seal(journal.steps)
    counts = count_history(journal.history)
    return Timeline(
        incident_id=journal.history.incident_id,
        language=Language(w.language),
        runs=counts.runs,
        events=counts.events,
        counts=counts,
        sealed=SealSummary(digest=seal.digest, events=seal.events) if seal else None,
        entries=items,
    )


def _entry_item(w: _Writer, reconstruction: Reconstruction, recorded: Recorded) -> TimelineItem:
    entry = recorded.entry
    before = reconstruction.before_entry(entry.entry_no)
    after = reconstruction.after_entry(entry.entry_no)
    actor, role = _actor_of(entry)
    kind = "refused" if entry.refused or entry.action is None else _KIND.get(entry.action.type, "action")
    journal = reconstruction.journal
    return TimelineItem(
        at=entry.at,
        text=_describe(w, recorded, before, after),
        kind=kind,
        type=entry.action.type if entry.action else "malformed",
        actor=actor,
        role=role,
        via=recorded.via,
        event=recorded.cause,
        run=journal.step(recorded.cause).run + 1,
        workflow_id=journal.history.incident_id,
        entry_no=entry.entry_no,
        refused=entry.refused,
        reason=entry.reason,
        action=entry.action.model_dump(mode="json") if entry.action else (entry.raw or {}),
    )


def _seal(steps: list[Step]) -> Seal | None:
    results = (s.fact.result for s in steps if isinstance(s.fact, ActivityCompleted))
    return next((r for r in results if isinstance(r, Seal)), None)


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
