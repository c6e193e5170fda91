"""The review's rules: `apply(review, action, actor, now) -> new review`, or Refusal saying why.

Pure, like lifecycle.py: the ReviewWorkflow's update validator calls it to refuse before
anything enters history, and its handler to apply. Who may do what:

- analysts and leads edit the sections, add follow-ups, pick the key moments again and hand
  the review to another owner while it is open;
- the owner or a lead completes it, once the summary, contributing factors and what to change
  are written;
- a follow-up is closed by its owner, the review's owner or a lead, also after completion;
- reminders are Vigil's: the owner from the due date on until the review is completed, each
  follow-up's owner from its due day on until it is done.
"""

from datetime import UTC, datetime, time, timedelta

from vigil import roles
from vigil.domain import Role
from vigil.policy import Policy
from vigil.workflows.actions import Refusal, RefusalCode
from vigil.workflows.review_state import (
    REQUIRED_SECTIONS,
    AddFollowUp,
    AnyReviewAction,
    AssignReview,
    CloseFollowUp,
    CompleteReview,
    EditReview,
    FollowUp,
    FollowUpStatus,
    MomentsPicked,
    OpenReview,
    Remind,
    Review,
    ReviewStart,
    ReviewStatus,
    review_id,
)
from vigil.workflows.state import Actor, Incident

SYSTEM_STEPS = ("review_open", "review_moments", "review_remind")
FOLLOW_UP_HORIZON = timedelta(days=366)  # a follow-up further off is a plan, not a follow-up


def permitted(role: Role, action_type: str) -> bool:
    """Whether a role may ever take this action (the API's 403, before the review is asked)."""
    if action_type in SYSTEM_STEPS:
        return role in roles.SYSTEM
    if action_type == "review_refresh_moments":
        return role in roles.REVIEWERS | roles.SYSTEM
    return role in roles.REVIEWERS


def _verb(action_type: str) -> str:
    return action_type.removeprefix("review_").replace("_", " ") + " (review)"


def owed(state: Incident, policy: Policy) -> bool:
    """Whether resolving this incident opens a review: resolved at a severity the policy names."""
    return state.resolved_at is not None and state.severity in policy.review.severities


def planned(state: Incident, policy: Policy) -> ReviewStart:
    """The review a resolution opens: owned by the incident's assignee (else who resolved it),
    due `review.due` after the resolution."""
    assert state.resolved_at is not None
    return ReviewStart(
        review_id=review_id(state.id),
        incident_id=state.id,
        severity=state.severity.value,
        category=state.intake.category.value,
        channel=state.intake.channel.value,
        region=state.intake.region.value,
        resolution=state.resolution.value if state.resolution else None,
        resolved_at=state.resolved_at,
        owner=state.assignee or state.resolved_by or "vigil",
        due_at=state.resolved_at + policy.review.due,
        reminder_seconds=int(policy.review.reminder.total_seconds()),
        follow_up_reminder_seconds=int(policy.review.follow_up_reminder.total_seconds()),
    )


def opened(action: OpenReview, now: datetime) -> Review:
    start = action.start
    return Review(
        id=start.review_id,
        incident_id=start.incident_id,
        severity=start.severity,
        category=start.category,
        channel=start.channel,
        region=start.region,
        resolution=start.resolution,
        resolved_at=start.resolved_at,
        owner=start.owner,
        opened_at=now,
        due_at=start.due_at,
        next_reminder_at=start.due_at,
        reminder_seconds=start.reminder_seconds,
        follow_up_reminder_seconds=start.follow_up_reminder_seconds,
        seq=1,
        updated_at=now,
    )


def apply(review: Review, action: AnyReviewAction, actor: Actor, now: datetime) -> Review:
    if not permitted(actor.role, action.type):
        raise Refusal(RefusalCode.FORBIDDEN, roles.may_not(actor.role, _verb(action.type)))
    new = review.model_copy(deep=True)
    if isinstance(action, Remind):
        _remind(new, action, now)
    elif isinstance(action, MomentsPicked):
        new.key_moments = action.moments
    elif isinstance(action, CloseFollowUp):
        _close_follow_up(new, action, actor, now)
    else:
        if new.status != ReviewStatus.OPEN:
            raise Refusal(RefusalCode.CONFLICT, f"the review of {review.incident_id} is completed")
        if isinstance(action, EditReview):
            setattr(new, action.section, action.text)
        elif isinstance(action, AssignReview):
            if action.owner == new.owner:
                raise Refusal(RefusalCode.CONFLICT, f"the review is already {action.owner}'s")
            new.owner = action.owner
        elif isinstance(action, AddFollowUp):
            _add_follow_up(new, action, actor, now)
        elif isinstance(action, CompleteReview):
            _complete(new, actor, now)
        # RefreshMoments: the workflow picks them, then applies MomentsPicked
    new.seq += 1
    new.updated_at = now
    return new


def _add_follow_up(review: Review, action: AddFollowUp, actor: Actor, now: datetime) -> None:
    if action.due < now.date():
        raise Refusal(RefusalCode.INVALID, f"due: {action.due.isoformat()} has passed")
    if action.due > now.date() + FOLLOW_UP_HORIZON:
        raise Refusal(RefusalCode.INVALID, f"due: at most {FOLLOW_UP_HORIZON.days} days ahead")
    due_at = datetime.combine(action.due, time.min, tzinfo=UTC)
    review.follow_ups.append(
        FollowUp(
            id=f"{review.id}-F{len(review.follow_ups) + 1}",
            text=action.text,
            owner=action.owner,
            due_at=due_at,
            serves=action.serves,
            created_by=actor.user,
            created_at=now,
            next_reminder_at=due_at,
        )
    )


def _close_follow_up(review: Review, action: CloseFollowUp, actor: Actor, now: datetime) -> None:
    follow_up = review.follow_up(action.follow_up_id)
    if follow_up is None:
        raise Refusal(RefusalCode.CONFLICT, f"the review has no follow-up {action.follow_up_id}")
    if follow_up.status != FollowUpStatus.OPEN:
        raise Refusal(RefusalCode.CONFLICT, f"{follow_up.id} is already done")
    if actor.user not in (follow_up.owner, review.owner) and actor.role != Role.LEAD:
        raise Refusal(
            RefusalCode.FORBIDDEN, f"{follow_up.id} is {follow_up.owner}'s: they, the review's owner or a lead close it"
        )
    follow_up.status = FollowUpStatus.DONE
    follow_up.done_by, follow_up.done_at = actor.user, now
    follow_up.note = action.note or None
    follow_up.next_reminder_at = None


def _complete(review: Review, actor: Actor, now: datetime) -> None:
    if actor.user != review.owner and actor.role != Role.LEAD:
        raise Refusal(RefusalCode.FORBIDDEN, f"the review is {review.owner}'s: they or a lead complete it")
    missing = [s for s in REQUIRED_SECTIONS if not getattr(review, s)]
    if missing:
        raise Refusal(RefusalCode.INVALID, f"write {', '.join(s.replace('_', ' ') for s in missing)} before completing")
    review.status = ReviewStatus.COMPLETED
    review.completed_at, review.completed_by = now, actor.user
    review.next_reminder_at = None


def _remind(review: Review, action: Remind, now: datetime) -> None:
    if action.follow_up_id is None:
        if review.next_reminder_at is None or now < review.next_reminder_at:
            raise Refusal(RefusalCode.CONFLICT, "no reminder of the review is due")
        review.reminders += 1
        review.next_reminder_at = now + timedelta(seconds=review.reminder_seconds)
        return
    follow_up = review.follow_up(action.follow_up_id)
    if follow_up is None or follow_up.next_reminder_at is None or now < follow_up.next_reminder_at:
        raise Refusal(RefusalCode.CONFLICT, f"no reminder of {action.follow_up_id} is due")
    follow_up.reminders += 1
    follow_up.next_reminder_at = now + timedelta(seconds=review.follow_up_reminder_seconds)


def next_reminder(review: Review) -> datetime | None:
    """When the workflow must wake to remind someone, or None."""
    times = [review.next_reminder_at] + [f.next_reminder_at for f in review.follow_ups]
    return min((t for t in times if t is not None), default=None)


def due_reminders(review: Review, now: datetime) -> list[Remind]:
    due = [Remind()] if review.next_reminder_at and review.next_reminder_at <= now else []
    return due + [
        Remind(follow_up_id=f.id) for f in review.follow_ups if f.next_reminder_at and f.next_reminder_at <= now
    ]
