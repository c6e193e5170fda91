"""ReviewWorkflow: one post-incident review, from the resolution until nothing is left to do.

Started for IncidentWorkflow (by its `start_review` activity, id INC-...-review, once) when a
SEV1 or SEV2 is resolved (policy `review.severities`): the incident closes when its reopen window
ends, the review goes on. It opens the review, picks the key moments from the incident's
timeline, then waits for people's changes (updates with validators, through the same actions
path as the incident's) and reminds the owner from the due date until the review is completed,
and each follow-up's owner from its due day until it is done.

Every change goes through `review_rules.apply` and is written to the projection (the `reviews`
tables, which the API reads) before the update answers.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from vigil.activities.reviews import ReviewActivities
    from vigil.temporal.signing import check_signature
    from vigil.workflows import review_rules
    from vigil.workflows.actions import Refusal
    from vigil.workflows.review_state import (
        AnyReviewAction,
        CarriedReview,
        KeyMoment,
        MomentsPicked,
        OpenReview,
        Review,
        ReviewActionRequest,
        ReviewBatch,
        ReviewEntry,
        ReviewStart,
    )
    from vigil.workflows.state import SYSTEM, Actor

_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_UPDATE_IDS_KEPT = 1000


@workflow.defn
class ReviewWorkflow:
    @workflow.init
    def __init__(self, start: ReviewStart) -> None:
        self._review: Review | None = None
        self._entries = 0
        self._unprojected: list[ReviewEntry] = []
        self._changed = False
        self._update_ids: dict[str, None] = {}
        if start.carried:
            self._review = start.carried.review
            self._entries = start.carried.entries
            self._unprojected = list(start.carried.unprojected)

    @workflow.run
    async def run(self, start: ReviewStart) -> Review:
        if start.carried is None:
            self._record(OpenReview(start=start), SYSTEM)
            await self._project()  # the API answers for the review from here on
            self._record(MomentsPicked(moments=await self._pick_moments()), SYSTEM)
        while not self.review.finished:
            await self._project()
            await self._wait_for_change_or_reminder()
            for remind in review_rules.due_reminders(self.review, workflow.now()):
                self._record(remind, SYSTEM)
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._project()
                workflow.continue_as_new(ReviewStart(**start.model_dump(exclude={"carried"}), carried=self._carry()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._project()
        return self.review

    async def _wait_for_change_or_reminder(self) -> None:
        wake = review_rules.next_reminder(self.review)
        if wake is not None and wake <= workflow.now():
            return
        timeout = None if wake is None else wake - workflow.now()
        try:
            await workflow.wait_condition(lambda: self._changed, timeout=timeout, timeout_summary="review reminder")
        except TimeoutError:
            pass
        self._changed = False

    # ------------------------------------------------------------------ people's changes

    # Its own name: the audit reads an incident's children with the incident's message types, and
    # an update named "act" would be read as an incident action (ActionRequest).
    @workflow.update(name="review_act")
    async def act(self, request: ReviewActionRequest) -> Review:
        """A person's change: the review after it, once projected; or the refusal and why."""
        info = workflow.current_update_info()
        if info is not None and info.id in self._update_ids:
            return self.review
        action: AnyReviewAction = request.action
        if action.type == "review_refresh_moments":
            self._apply(request.action, request.actor)  # refused here if the review is completed
            action = MomentsPicked(moments=await self._pick_moments())
        try:
            self._record(action, request.actor)
        except Refusal as refusal:  # the validator accepted it, but the review moved since
            raise ApplicationError(refusal.reason, type=refusal.code.value, non_retryable=True) from None
        if info is not None:
            self._update_ids[info.id] = None
            while len(self._update_ids) > _UPDATE_IDS_KEPT:
                del self._update_ids[next(iter(self._update_ids))]
        await self._project()
        return self.review

    @act.validator
    def _validate_act(self, request: ReviewActionRequest) -> None:
        if self._review is None:
            raise ApplicationError("the review is still being opened: try again", type="conflict")
        info = workflow.current_update_info()
        if info is not None and info.id in self._update_ids:
            return
        # Only Vigil's API acts on a review: an unsigned or forged change is rejected here, before
        # anything enters history (so no patch: the command sequence is the same). Recorded reviews
        # hold no unsigned updates that replay must check, as validators do not run on replay.
        why = check_signature(workflow.info().workflow_id, request.action, request.actor, request.signature)
        if why is not None:
            raise ApplicationError(why, type="forbidden", non_retryable=True)
        try:
            self._apply(request.action, request.actor)
        except Refusal as refusal:
            raise ApplicationError(refusal.reason, type=refusal.code.value, non_retryable=True) from None

    @workflow.query
    def state(self) -> Review | None:
        return self._review

    # ------------------------------------------------------------------ recording

    @property
    def review(self) -> Review:
        assert self._review is not None, "used before the review opened"
        return self._review

    def _apply(self, action: AnyReviewAction, actor: Actor) -> Review:
        if isinstance(action, OpenReview):
            return review_rules.opened(action, workflow.now())
        return review_rules.apply(self.review, action, actor, workflow.now())

    def _record(self, action: AnyReviewAction, actor: Actor) -> Review:
        self._review = self._apply(action, actor)
        self._entries += 1
        self._unprojected.append(ReviewEntry(entry_no=self._entries, action=action, actor=actor, at=workflow.now()))
        self._changed = True
        return self._review

    async def _project(self) -> None:
        if not self._unprojected:
            return
        batch, self._unprojected = self._unprojected, []
        await workflow.execute_activity_method(
            ReviewActivities.project_review,
            ReviewBatch(review=self.review, entries=batch),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
            summary=f"project review entries {batch[0].entry_no}-{batch[-1].entry_no}",
        )

    async def _pick_moments(self) -> list[KeyMoment]:
        return await workflow.execute_activity_method(
            ReviewActivities.key_moments,
            self.review.incident_id,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_RETRY,
            summary="pick key moments from the timeline",
        )

    def _carry(self) -> CarriedReview:
        return CarriedReview(review=self.review, entries=self._entries, unprojected=self._unprojected)
