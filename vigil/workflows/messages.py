"""What crosses the workflow boundary: workflow inputs, activity inputs and results.

Kept apart from the state (state.py) and from the API's schemas; all pydantic, all deterministic.
"""

from datetime import datetime
from typing import Any

from vigil.domain import Region, Severity
from vigil.policy import Policy
from vigil.workflows.actions import Action, HumanAction
from vigil.workflows.state import ActionSignature, Actor, Clock, ContentRef, Incident, Intake, Model, Proposal


class ActionRequest(Model):
    """A person's action, with the actor the API took from their token, signed by the API.
    Recorded histories hold requests from before signing (no signature): they replay unchecked."""

    action: HumanAction
    actor: Actor
    signature: ActionSignature | None = None


class JournalEntry(Model):
    """One action as the workflow applied (or refused) it: the record the audit folds."""

    entry_no: int  # 1, 2, 3... across continue-as-new runs
    action: Action | None  # None: a signal too malformed to read (kept in `raw`)
    actor: Actor | None
    at: datetime
    refused: bool = False
    reason: str | None = None
    # Refused before the state machine saw it: unsigned, badly signed, unencrypted, unreadable,
    # or `system` from outside (vigil/temporal/signing.py). The actor is who it claimed to be.
    unverified: bool = False
    raw: dict[str, Any] | None = None  # the signal as sent: any JSON object
    seq: int  # the incident's seq after this entry
    severity: Severity | None = None  # the incident's severity after this entry (None: written before it was kept)
    # What this entry changed, as it was right after it: the projection and the notifications
    # read these, not the batch's latest state, which later entries may have moved on.
    clocks: list[Clock] = []
    proposals: list[Proposal] = []


class Carried(Model):
    """What a continued-as-new run starts from."""

    state: Incident
    policy: Policy
    entries: int
    approvals_started: list[str] = []
    approvals_closed: list[str] = []  # no longer written; kept so inputs of older runs decode
    merge_noted: bool = False
    unprojected: list[JournalEntry] = []  # written again by the new run (idempotent)
    update_ids: list[str] = []  # updates already applied, so a retry reaching the new run is not
    review_started: bool = False  # its post-incident review (one per incident, ever)
    nonces: list[str] = []  # signatures already used, so a captured one is not accepted twice


class IncidentStart(Model):
    incident_id: str
    intake: Intake
    opened_by: Actor | None = None
    carried: Carried | None = None


class MergeNote(Model):
    """Vigil's note on the incident another was merged into, signed and sent by an activity."""

    merged_id: str
    target_id: str


class TriageResult(Model):
    severity: Severity
    reasons: list[str]
    policy: Policy


class ProjectionBatch(Model):
    """Entries to write to the SQL projection, and the state after the last of them."""

    incident_id: str
    entries: list[JournalEntry]
    state: Incident


class ApprovalRequest(Model):
    """Input of the ApprovalWorkflow that asks approvers for one proposal, tier by tier."""

    incident_id: str
    title: str
    region: Region
    severity: Severity
    language: str
    proposal: Proposal
    timeout_seconds: int
    tiers: list[str]


class ApprovalAsk(Model):
    """One round of asking: written to the projection and the notification outbox."""

    request: ApprovalRequest
    round: int  # 1 for the first ask, +1 per timeout
    tier: str
    at: datetime


class ApprovalOutcome(Model):
    approval_id: str
    status: str
    rounds: int


class EnforcementRequest(Model):
    incident_id: str
    region: Region
    proposal: Proposal
    content: list[ContentRef]


class EnforcementResult(Model):
    succeeded: bool
    reference: str
    detail: str = ""


class Seal(Model):
    """The digest of a closed incident's history and how many events it covers."""

    digest: str
    events: int


class WatchdogRound(Model):
    """What one round of the watchdog did."""

    checked: int
    diverged: list[str]
    alerted: list[str]
    flagged_by_temporal: list[str]


class DeliveryPlan(Model):
    """What the dispatcher is to do now: the deliveries to start (ids in `deliveries`), and the
    delivery settings of the worker's policy (the dispatcher has no policy of its own)."""

    deliveries: list[int]
    more: bool  # more were due than there was room for
    check_again_seconds: float
    concurrency: int
    retry_max_interval_seconds: float


class PlanRequest(Model):
    in_flight: list[int] = []  # deliveries this run is already sending (or retrying)
    capacity: int
