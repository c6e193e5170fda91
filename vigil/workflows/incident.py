"""IncidentWorkflow: one per incident, workflow id = incident id.

Reads like the process it models: triage, then wait for people or for the next clock, apply
what happened through the state machine, set off what it calls for (approval requests,
enforcement, notes on a merge target), and repeat until the incident is closed or merged.

Every change goes through `lifecycle.apply` and into the journal, which a background task
writes to the SQL projection; the journal is also what the auditor folds to rebuild state.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from vigil.activities.audit import AuditActivities
    from vigil.activities.enforcement import EnforcementActivities
    from vigil.activities.projection import ProjectionActivities
    from vigil.activities.reviews import ReviewActivities
    from vigil.activities.triage import TriageActivities
    from vigil.domain import TERMINAL_STATUSES, Status
    from vigil.policy import Policy
    from vigil.temporal import CATEGORY, CHANNEL, HISTORY_DIGEST, INCIDENT_STATUS, REGION, SEVERITY
    from vigil.temporal.signing import UNENCRYPTED, check_request, unreadable_reason
    from vigil.workflows import lifecycle, review_rules
    from vigil.workflows.actions import (
        Action,
        AddNote,
        ClockFired,
        EnforcementCompleted,
        Open,
        Refusal,
        RefusalCode,
    )
    from vigil.workflows.approval import ApprovalWorkflow
    from vigil.workflows.messages import (
        ActionRequest,
        ApprovalRequest,
        Carried,
        EnforcementRequest,
        IncidentStart,
        JournalEntry,
        MergeNote,
        ProjectionBatch,
    )
    from vigil.workflows.state import SYSTEM, Actor, Clock, Incident, Proposal, ProposalStatus, timer_summary

# The database may be down for a while: keep retrying, never give up on a write.
_PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_ENFORCEMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["EnforcementRefused"],
)


def _refusal_error(refusal: Refusal) -> ApplicationError:
    """What an update caller receives: the type is the RefusalCode, the message the reason."""
    return ApplicationError(refusal.reason, type=refusal.code.value, non_retryable=True)


# Continue-as-new no longer waits for the projection to catch up (a steady stream of updates
# could put it off forever): unwritten journal entries travel to the next run, which writes them
# again (the writes are idempotent). A closed incident never continues. Histories recorded before
# this waited, so they replay the old way.
_CARRY_JOURNAL = "continue-as-new-carries-journal"
# Retries of an update arrive within seconds; remembering the last thousand ids is plenty.
_UPDATE_IDS_KEPT = 1000
# The projector schedules its next batch after the commands of whatever woke with it (the main
# loop's timer), so their order no longer depends on whether the last batch's completion and the
# next action reach the worker in one activation or two (docs/reliability.md, the known SDK
# issue, mark 1). Histories recorded before this schedule the batch first and replay that way.
_PROJECT_AFTER_WAKERS = "projector-schedules-after-what-woke-with-it"
# Resolving a SEV1/SEV2 (policy review.severities) starts its post-incident review (an activity
# starts its ReviewWorkflow). Histories recorded before this resolved without one and replay so.
_OPEN_REVIEW = "post-incident-review-on-resolve"
# An action is applied only with Vigil's signature over it (vigil/temporal/signing.py); anything
# else is refused and journaled as refused: a refused update too (accepted, then failed by its
# handler, since a validator cannot write). Vigil's note on a merge target is signed by an
# activity. Histories recorded before this trusted the actor in the message and replay so.
_VERIFY_ACTORS = "actors-are-verified"
# Signatures already used, kept to refuse a captured one sent again.
_NONCES_KEPT = 1000
# Four-eyes by the most severe level the incident has held (Open.four_eyes_by_highest): lowering
# severity before proposing skips no approval and halves no quorum. Incidents opened before this
# decide by the severity at proposal, as their recorded histories did.
_FOUR_EYES_BY_HIGHEST = "four-eyes-by-highest-severity"


@workflow.defn
class IncidentWorkflow:
    @workflow.init
    def __init__(self, start: IncidentStart) -> None:
        self._state: Incident | None = None
        self._policy: Policy | None = None
        self._entries = 0  # journal entries so far, across runs
        self._unprojected: list[JournalEntry] = []
        self._projecting = False
        self._changed = False
        self._early_signals: list[RawValue] = []  # arrived before triage finished
        self._approvals_started: set[str] = set()
        self._enforcing: set[str] = set()
        self._merge_noted = False
        self._alarm = _Alarm()
        self._in_flight: list[JournalEntry] = []  # the batch the projection activity is writing
        self._update_ids: dict[str, None] = {}  # applied update ids, oldest first (an ordered set)
        self._review_started = False
        self._verifying: bool | None = None  # actors are verified (the patch); None: not asked yet
        self._nonces: dict[str, None] = {}  # signatures used, oldest first
        if start.carried:  # here, not in run(): an update may arrive in the new run's first task
            self._restore(start.carried)

    # ------------------------------------------------------------------ the process

    @workflow.run
    async def run(self, start: IncidentStart) -> Incident:
        if not start.carried:
            await self._triage(start)
        for raw in self._early_signals:
            self.act_signal(raw)
        self._early_signals.clear()
        projector = asyncio.create_task(self._project_forever())

        while self.state_now.status not in TERMINAL_STATUSES:
            await self._wait_for_change_or_clock()
            for clock_id in lifecycle.due_clocks(self.state_now, workflow.now()):
                self._record(ClockFired(clock_id=clock_id), SYSTEM)
            await self._set_off_effects()
            if self._history_is_long() and self._quiet():
                if workflow.patched(_CARRY_JOURNAL):
                    if self.state_now.status in TERMINAL_STATUSES:
                        break  # closing anyway: seal this run instead
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(self._carry(start, unprojected=self._in_flight + self._unprojected))
                await self._drain()
                workflow.continue_as_new(self._carry(start))

        await self._set_off_effects()  # a merge note, approvals to close
        await self._drain()
        projector.cancel()
        await self._seal_history()
        return self.state_now

    async def _triage(self, start: IncidentStart) -> None:
        triage = await workflow.execute_activity_method(
            TriageActivities.triage,
            start.intake,
            start_to_close_timeout=timedelta(seconds=30),
            summary="triage by policy",
        )
        self._policy = triage.policy.shared()
        self._record(
            Open(
                incident_id=start.incident_id,
                intake=start.intake,
                severity=triage.severity,
                triage_reasons=triage.reasons,
                policy_version=triage.policy.version,
                opened_by=start.opened_by,
                four_eyes_by_highest=workflow.patched(_FOUR_EYES_BY_HIGHEST),
            ),
            SYSTEM,
        )

    async def _wait_for_change_or_clock(self) -> None:
        """A plain wait: until someone acts, or until the earliest running clock is due."""
        wake = lifecycle.next_wakeup(self.state_now)
        if wake is not None and wake <= workflow.now():
            return
        self._alarm.set(wake, self._clocks_due_at(wake))
        await workflow.wait_condition(lambda: self._changed or self._alarm.rang)
        self._changed = False

    async def _set_off_effects(self) -> None:
        """Do what the state now calls for; each effect happens once per proposal."""
        state = self.state_now
        for proposal in state.proposals:
            if proposal.status == ProposalStatus.PENDING and proposal.id not in self._approvals_started:
                await self._ask_for_approval(state, proposal.id)
            elif proposal.id in self._approvals_started and proposal.status != ProposalStatus.PENDING:
                await self._close_approval_request(proposal.id, proposal.status)
            if proposal.status == ProposalStatus.APPROVED and proposal.id not in self._enforcing:
                self._enforcing.add(proposal.id)
                asyncio.create_task(self._enforce(proposal.id))
        if state.status == Status.MERGED and state.merged_into and not self._merge_noted:
            await self._note_merge_on_target(state.id, state.merged_into)
        if not self._review_started and review_rules.owed(state, self.policy) and workflow.patched(_OPEN_REVIEW):
            await self._open_review(state)

    # ------------------------------------------------------------------ messages

    @workflow.update
    async def act(self, raw: RawValue) -> Incident:
        """A person's action (the API's path): the new state, or the refusal and why."""
        if self._state is None:  # accepted during triage (a reset's reapplied updates): after it
            await workflow.wait_condition(lambda: self._state is not None)
        if self._already_applied():
            return self.state_now
        if not self._verify_actors():
            request = _request(raw)
            try:
                state = self._record(request.action, request.actor)
            except Refusal as refusal:  # the validator accepted it, but the state moved since
                raise _refusal_error(refusal) from None
            self._remember_update()
            return state
        admitted = self._admit(raw)
        if isinstance(admitted, _Unverified):
            self._journal_unverified(admitted)
            raise _refusal_error(Refusal(admitted.code, admitted.reason))
        try:
            state = self._record(admitted.action, admitted.actor)
        except Refusal as refusal:  # journaled, so the auditor sees it, and answered
            self._journal(admitted.action, admitted.actor, refused=True, reason=refusal.reason)
            raise _refusal_error(refusal) from None
        self._remember_update()
        return state

    @act.validator
    def _validate_act(self, raw: RawValue) -> None:
        if self._state is None:
            # Only a reset reapplies updates before triage (the API acts once intake has answered):
            # the handler waits for the triage and applies them then, or refuses with the reason.
            return
        if self._verifying is not False:
            return  # the handler verifies, refuses and journals: a validator cannot write
        if self._already_applied():
            return  # a retry of an action applied in an earlier run: answered, not applied again
        request = _request(raw)
        try:
            lifecycle.apply(self._state, request.action, request.actor, workflow.now(), self.policy)
        except Refusal as refusal:
            raise _refusal_error(refusal) from None

    @workflow.signal
    def act_signal(self, raw: RawValue) -> None:
        """The same actions, fire-and-forget. A refused one is recorded as refused, never applied."""
        if self._state is None:
            self._early_signals.append(raw)
            return
        if not self._verify_actors():
            self._act_unverified_signal(raw)
            return
        admitted = self._admit(raw)
        if isinstance(admitted, _Unverified):
            self._journal_unverified(admitted)
            return
        try:
            self._record(admitted.action, admitted.actor)
        except Refusal as refusal:
            self._journal(admitted.action, admitted.actor, refused=True, reason=refusal.reason)

    def _act_unverified_signal(self, raw: RawValue) -> None:
        """Before actors were verified: the actor in the message was trusted."""
        try:
            value = workflow.payload_converter().from_payload(raw.payload, dict)
        except Exception:  # the SDK dropped a signal it could not decode, and so does this
            workflow.logger.warning("dropped an act_signal that is not a JSON object")
            return
        try:
            request = ActionRequest.model_validate(value)
        except ValidationError as error:
            self._journal(None, None, refused=True, reason=_short(str(error)), raw=value)
            return
        try:
            self._record(request.action, request.actor)
        except Refusal as refusal:
            self._journal(request.action, request.actor, refused=True, reason=refusal.reason)

    def _verify_actors(self) -> bool:
        """Whether this run verifies actors (the patch); asked by handlers, never by the validator."""
        if self._verifying is None:
            self._verifying = workflow.patched(_VERIFY_ACTORS)
        return self._verifying

    def _admit(self, raw: RawValue) -> "ActionRequest | _Unverified":
        """The request, if it is Vigil's, encrypted and signed for this incident; else why not."""
        unreadable = unreadable_reason(raw.payload)
        if unreadable is not None:
            return _Unverified(None, None, None, f"unreadable payload: {_short(unreadable, 200)}")
        try:
            value = workflow.payload_converter().from_payload(raw.payload, dict)
        except Exception as error:
            return _Unverified(None, None, None, f"not a JSON object: {_short(str(error), 200)}")
        plaintext = raw.payload.metadata.get(UNENCRYPTED) is not None
        try:
            request = ActionRequest.model_validate(value)
        except ValidationError as error:
            reason = "unencrypted payload; " if plaintext else ""
            return _Unverified(None, None, value, reason + _short(str(error)), RefusalCode.INVALID)
        if plaintext:
            return _Unverified(request.action, request.actor, None, "unencrypted payload (not sent through Vigil)")
        why = check_request(request, workflow.info().workflow_id)
        if why is not None:
            return _Unverified(request.action, request.actor, None, why)
        assert request.signature is not None
        if request.signature.nonce in self._nonces:
            return _Unverified(request.action, request.actor, None, "a signature already used (sent again)")
        self._nonces[request.signature.nonce] = None
        while len(self._nonces) > _NONCES_KEPT:
            del self._nonces[next(iter(self._nonces))]
        return request

    def _journal_unverified(self, refused: "_Unverified") -> None:
        workflow.logger.warning("refused an action: %s", refused.reason)
        self._journal(
            refused.action, refused.actor, refused=True, reason=refused.reason, raw=refused.raw, unverified=True
        )

    @workflow.update
    async def triaged(self) -> Incident:
        """Answers once triage is done: the intake call's reply (update-with-start)."""
        await workflow.wait_condition(lambda: self._state is not None)
        return self.state_now

    @workflow.query
    def state(self) -> Incident | None:
        return self._state

    # ------------------------------------------------------------------ recording

    def _already_applied(self) -> bool:
        """Temporal answers a repeated update id once per run; these ids cross continue-as-new."""
        info = workflow.current_update_info()
        return info is not None and info.id in self._update_ids

    def _remember_update(self) -> None:
        info = workflow.current_update_info()
        if info is not None:
            self._update_ids[info.id] = None
            while len(self._update_ids) > _UPDATE_IDS_KEPT:
                del self._update_ids[next(iter(self._update_ids))]

    @property
    def state_now(self) -> Incident:
        assert self._state is not None, "used before triage"
        return self._state

    @property
    def policy(self) -> Policy:
        assert self._policy is not None, "used before triage"
        return self._policy

    def _record(self, action: Action, actor: Actor) -> Incident:
        """Apply through the state machine, journal it, and wake the main loop."""
        before = self._state
        self._state = lifecycle.apply(before, action, actor, workflow.now(), self.policy)
        clocks, proposals = _changed(before, self._state)
        self._journal(action, actor, clocks=clocks, proposals=proposals)
        self._changed = True
        if before is None or (before.status, before.severity) != (self._state.status, self._state.severity):
            self._upsert_search_attributes()
        return self._state

    def _journal(
        self,
        action: Action | None,
        actor: Actor | None,
        *,
        refused: bool = False,
        reason: str | None = None,
        raw: dict[str, Any] | None = None,
        unverified: bool = False,
        clocks: list[Clock] | None = None,
        proposals: list[Proposal] | None = None,
    ) -> None:
        self._entries += 1
        self._unprojected.append(
            JournalEntry(
                entry_no=self._entries,
                action=action,
                actor=actor,
                at=workflow.now(),
                refused=refused,
                reason=reason,
                unverified=unverified,
                raw=raw if action is None else None,
                seq=self.state_now.seq,
                severity=self.state_now.severity,
                clocks=clocks or [],
                proposals=proposals or [],
            )
        )

    def _upsert_search_attributes(self) -> None:
        state = self.state_now
        workflow.upsert_search_attributes(
            [
                SEVERITY.value_set(state.severity.value),
                INCIDENT_STATUS.value_set(state.status.value),
                CATEGORY.value_set(state.intake.category.value),
                REGION.value_set(state.intake.region.value),
                CHANNEL.value_set(state.intake.channel.value),
            ]
        )

    async def _project_forever(self) -> None:
        """Writes the journal to the SQL projection in order, in batches, retrying until it can."""
        while True:
            await workflow.wait_condition(lambda: bool(self._unprojected))
            if workflow.patched(_PROJECT_AFTER_WAKERS):
                await asyncio.sleep(0)  # one turn of the loop: a timer set by the same wake-up goes first
            batch, self._unprojected = self._unprojected, []
            self._projecting, self._in_flight = True, batch
            await workflow.execute_activity_method(
                ProjectionActivities.project,
                ProjectionBatch(incident_id=self.state_now.id, entries=batch, state=self.state_now),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_PROJECTION_RETRY,
                summary=f"project entries {batch[0].entry_no}-{batch[-1].entry_no}",
            )
            self._projecting, self._in_flight = False, []

    async def _drain(self) -> None:
        """Before this run ends: every handler finished, every entry projected."""
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._unprojected and not self._projecting
        )

    # ------------------------------------------------------------------ effects

    async def _ask_for_approval(self, state: Incident, proposal_id: str) -> None:
        proposal = state.proposal(proposal_id)
        assert proposal is not None
        self._approvals_started.add(proposal_id)
        await workflow.start_child_workflow(
            ApprovalWorkflow.run,
            ApprovalRequest(
                incident_id=state.id,
                title=state.intake.title,
                region=state.intake.region,
                severity=state.severity,
                language=state.intake.language.value,
                proposal=proposal,
                timeout_seconds=int(self.policy.approval.timeout.total_seconds()),
                tiers=self.policy.approval.tiers,
            ),
            id=proposal_id,
            # The request outlives a continue-as-new of this workflow; it is closed by signal.
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"approval of {proposal.action} on {state.id}",
        )

    async def _close_approval_request(self, proposal_id: str, status: ProposalStatus) -> None:
        self._approvals_started.discard(proposal_id)
        try:
            await workflow.get_external_workflow_handle(proposal_id).signal(ApprovalWorkflow.close, status.value)
        except FailureError as error:  # it already ended
            workflow.logger.info("approval request %s already closed: %s", proposal_id, error)

    async def _enforce(self, proposal_id: str) -> None:
        state = self.state_now
        proposal = state.proposal(proposal_id)
        assert proposal is not None
        try:
            result = await workflow.execute_activity_method(
                EnforcementActivities.enforce,
                EnforcementRequest(
                    incident_id=state.id, region=state.intake.region, proposal=proposal, content=state.intake.content
                ),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=_ENFORCEMENT_RETRY,
                summary=f"enforce {proposal.action}",
            )
            outcome = EnforcementCompleted(
                proposal_id=proposal_id, succeeded=result.succeeded, reference=result.reference, detail=result.detail
            )
        except ActivityError as error:  # refused by the platform: recorded, not retried
            outcome = EnforcementCompleted(
                proposal_id=proposal_id, succeeded=False, reference="", detail=str(error.cause or error)
            )
        try:
            self._record(outcome, SYSTEM)
        except Refusal as refusal:  # cannot happen while actioning admits nothing that ends it
            self._journal(outcome, SYSTEM, refused=True, reason=refusal.reason)

    async def _note_merge_on_target(self, merged_id: str, target_id: str) -> None:
        self._merge_noted = True
        if self._verify_actors():  # signed by an activity: the target accepts only signed actions
            await workflow.execute_activity_method(
                AuditActivities.note_merge,
                MergeNote(merged_id=merged_id, target_id=target_id),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_PROJECTION_RETRY,
                summary=f"note the merge on {target_id}",
            )
            return
        note = ActionRequest(action=AddNote(text=f"{merged_id} was merged into this incident"), actor=SYSTEM)
        try:
            await workflow.get_external_workflow_handle(target_id).signal("act_signal", note.model_dump(mode="json"))
        except FailureError as error:  # the target has closed meanwhile
            workflow.logger.warning("could not note merge on %s: %s", target_id, error)

    async def _open_review(self, state: Incident) -> None:
        """The post-incident review: a workflow of its own (ReviewWorkflow), which outlives this one."""
        self._review_started = True
        await workflow.execute_activity_method(
            ReviewActivities.start_review,
            review_rules.planned(state, self.policy),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_PROJECTION_RETRY,
            summary="open the post-incident review",
        )

    async def _seal_history(self) -> None:
        """Tamper evidence: a digest of the history as it stands at the close."""
        seal = await workflow.execute_activity_method(
            AuditActivities.seal,
            self.state_now.id,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_PROJECTION_RETRY,
            summary="seal the history",
        )
        workflow.upsert_search_attributes([HISTORY_DIGEST.value_set(seal.digest)])

    # ------------------------------------------------------------------ continue-as-new

    def _history_is_long(self) -> bool:
        info = workflow.info()
        too_long = info.get_current_history_length() > self.policy.history_events_limit
        return too_long or info.is_continue_as_new_suggested()

    def _quiet(self) -> bool:
        """Nothing in flight that belongs to this run: no enforcement running."""
        return self.state_now.status != Status.ACTIONING

    def _carry(self, start: IncidentStart, unprojected: list[JournalEntry] | None = None) -> IncidentStart:
        return IncidentStart(
            incident_id=start.incident_id,
            intake=start.intake,
            opened_by=start.opened_by,
            carried=Carried(
                state=self.state_now,
                policy=self.policy,
                entries=self._entries,
                approvals_started=sorted(self._approvals_started),
                merge_noted=self._merge_noted,
                unprojected=unprojected or [],
                update_ids=list(self._update_ids),
                review_started=self._review_started,
                nonces=list(self._nonces),
            ),
        )

    def _restore(self, carried: Carried) -> None:
        self._state = carried.state
        self._policy = carried.policy.shared()
        self._entries = carried.entries
        self._approvals_started = set(carried.approvals_started)
        self._merge_noted = carried.merge_noted
        self._unprojected = list(carried.unprojected)
        self._update_ids = dict.fromkeys(carried.update_ids)
        self._review_started = carried.review_started
        self._nonces = dict.fromkeys(carried.nonces)

    def _clocks_due_at(self, moment: datetime | None) -> str:
        return timer_summary([c.id for c in self.state_now.clocks if c.running and c.next_fire_at == moment])


class _Alarm:
    """One durable timer for the earliest running clock. An action that leaves that moment
    where it was keeps the timer, so history does not fill with cancelled timers."""

    def __init__(self) -> None:
        self._at: datetime | None = None
        self._timer: asyncio.Task[None] | None = None

    @property
    def rang(self) -> bool:
        return self._timer is not None and self._timer.done()

    def set(self, at: datetime | None, summary: str) -> None:
        if at == self._at and not self.rang:
            return
        if self._timer and not self._timer.done():
            self._timer.cancel()
        self._at, self._timer = at, None
        if at is not None:
            self._timer = asyncio.create_task(workflow.sleep(at - workflow.now(), summary=summary))


def _changed(before: Incident | None, after: Incident) -> tuple[list[Clock], list[Proposal]]:
    """The clocks and proposals an action created or changed."""
    old_clocks = {c.id: c for c in before.clocks} if before else {}
    old_proposals = {p.id: p for p in before.proposals} if before else {}
    return (
        [c for c in after.clocks if old_clocks.get(c.id) != c],
        [p for p in after.proposals if old_proposals.get(p.id) != p],
    )


@dataclass(frozen=True)
class _Unverified:
    """An action refused before the state machine: who it claimed to be, and why."""

    action: Action | None
    actor: Actor | None
    raw: dict[str, Any] | None  # the JSON as sent, when it is not an action at all
    reason: str
    code: RefusalCode = RefusalCode.FORBIDDEN


def _request(raw: RawValue) -> ActionRequest:
    """An update's request, read as before actors were verified (a failure rejects the update)."""
    request: ActionRequest = workflow.payload_converter().from_payload(raw.payload, ActionRequest)
    return request


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
