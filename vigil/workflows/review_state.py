"""What a post-incident review is, and what can be done to it.

A review opens when a SEV1 or SEV2 (policy `review.severities`) is resolved, and is kept by its
own ReviewWorkflow (vigil/workflows/review.py). Pydantic models only; `review_rules.py`
decides every change, as `lifecycle.py` does for incidents.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from vigil.workflows.state import ActionSignature, Actor, Model, Printable, ShortText, Text, Username

# Free text a section holds; empty clears it.
SectionText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000), Printable]
SECTIONS = ("summary", "contributing_factors", "went_well", "to_change")
Section = Literal["summary", "contributing_factors", "went_well", "to_change"]
# What completing a review needs written.
REQUIRED_SECTIONS = ("summary", "contributing_factors", "to_change")


def review_id(incident_id: str) -> str:
    """The review's id, and its workflow's: one review per incident."""
    return f"{incident_id}-review"


class ReviewStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class FollowUpStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class KeyMoment(Model):
    """A moment of the incident's timeline (vigil.audit.timeline), in each language."""

    at: datetime
    kind: str
    type: str
    actor: str
    text: dict[str, str]


class FollowUp(Model):
    id: str
    text: str
    owner: str
    due_at: datetime  # the start of its due day (UTC): its owner is reminded from then until it is done
    serves: str | None = None  # the recommendation or policy change it serves
    status: FollowUpStatus = FollowUpStatus.OPEN
    created_by: str
    created_at: datetime
    done_by: str | None = None
    done_at: datetime | None = None
    note: str | None = None
    next_reminder_at: datetime | None = None
    reminders: int = 0


class Review(Model):
    id: str
    incident_id: str
    severity: str
    category: str
    channel: str
    region: str
    resolution: str | None
    resolved_at: datetime
    status: ReviewStatus = ReviewStatus.OPEN
    owner: str
    opened_at: datetime
    due_at: datetime
    summary: str = ""
    contributing_factors: str = ""
    went_well: str = ""
    to_change: str = ""
    key_moments: list[KeyMoment] = []
    follow_ups: list[FollowUp] = []
    completed_at: datetime | None = None
    completed_by: str | None = None
    next_reminder_at: datetime | None = None
    reminders: int = 0
    reminder_seconds: int  # while the review is overdue
    follow_up_reminder_seconds: int  # while a follow-up is overdue
    seq: int = 0
    updated_at: datetime

    def follow_up(self, follow_up_id: str) -> FollowUp | None:
        return next((f for f in self.follow_ups if f.id == follow_up_id), None)

    @property
    def finished(self) -> bool:
        """Nothing left to remind anyone of: completed, every follow-up done."""
        return self.status == ReviewStatus.COMPLETED and all(f.status == FollowUpStatus.DONE for f in self.follow_ups)


# ---------------------------------------------------------------------------- actions


class EditReview(Model):
    type: Literal["review_edit"] = "review_edit"
    section: Section
    text: SectionText


class AssignReview(Model):
    type: Literal["review_assign"] = "review_assign"
    owner: Username


class AddFollowUp(Model):
    type: Literal["review_add_follow_up"] = "review_add_follow_up"
    text: Text
    owner: Username
    due: date
    serves: ShortText | None = Field(None, description="The recommendation or policy change it serves")


class CloseFollowUp(Model):
    type: Literal["review_close_follow_up"] = "review_close_follow_up"
    follow_up_id: ShortText
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000), Printable] = ""


class RefreshMoments(Model):
    """Pick the key moments from the incident's timeline again (after a reopen, say)."""

    type: Literal["review_refresh_moments"] = "review_refresh_moments"


class CompleteReview(Model):
    type: Literal["review_complete"] = "review_complete"


ReviewAction = Annotated[
    EditReview | AssignReview | AddFollowUp | CloseFollowUp | RefreshMoments | CompleteReview,
    Field(discriminator="type"),
]
REVIEW_ACTION_TYPES = (
    "review_edit",
    "review_assign",
    "review_add_follow_up",
    "review_close_follow_up",
    "review_refresh_moments",
    "review_complete",
)


# Vigil's own steps, recorded like any other.


class ReviewStart(Model):
    """The ReviewWorkflow's input: what the incident knew when it was resolved."""

    review_id: str
    incident_id: str
    severity: str
    category: str
    channel: str
    region: str
    resolution: str | None
    resolved_at: datetime
    owner: str
    due_at: datetime
    reminder_seconds: int
    follow_up_reminder_seconds: int
    carried: "CarriedReview | None" = None


class OpenReview(Model):
    type: Literal["review_open"] = "review_open"
    start: ReviewStart


class MomentsPicked(Model):
    type: Literal["review_moments"] = "review_moments"
    moments: list[KeyMoment]


class Remind(Model):
    """A reminder went out: to the review's owner (follow_up_id None) or a follow-up's owner."""

    type: Literal["review_remind"] = "review_remind"
    follow_up_id: str | None = None


AnyReviewAction = Annotated[
    EditReview
    | AssignReview
    | AddFollowUp
    | CloseFollowUp
    | RefreshMoments
    | CompleteReview
    | OpenReview
    | MomentsPicked
    | Remind,
    Field(discriminator="type"),
]


class ReviewActionRequest(Model):
    """A person's change to a review, with the actor the API took from their token, signed by the
    API (vigil/temporal/signing.py; the review's workflow id stands for the incident's)."""

    action: ReviewAction
    actor: Actor
    signature: ActionSignature | None = None


class ReviewEntry(Model):
    """One change as the review's workflow applied it: its projection writes these as events."""

    entry_no: int
    action: AnyReviewAction
    actor: Actor
    at: datetime


class ReviewBatch(Model):
    review: Review
    entries: list[ReviewEntry]


class CarriedReview(Model):
    review: Review
    entries: int
    unprojected: list[ReviewEntry] = []


ReviewStart.model_rebuild()
