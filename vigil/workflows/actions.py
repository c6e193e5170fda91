"""What can be done to an incident: the actions people and Vigil itself take, and refusals.

Each action is a pydantic model tagged by `type`, the body of `POST /api/incidents/{id}/actions`
and the argument of the workflow's update and signal.
"""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, TypeAdapter

from vigil.domain import EnforcementAction, Resolution, Severity, Team
from vigil.workflows.state import Actor, IncidentId, Intake, Model, Printable, ShortText, Text, Username


class _Action(Model):
    """Base of every action."""


class Acknowledge(_Action):
    type: Literal["acknowledge"] = "acknowledge"


class Assign(_Action):
    type: Literal["assign"] = "assign"
    assignee: Username


class AddNote(_Action):
    type: Literal["add_note"] = "add_note"
    text: Text


class SetSeverity(_Action):
    type: Literal["set_severity"] = "set_severity"
    severity: Severity
    reason: Text


class Escalate(_Action):
    type: Literal["escalate"] = "escalate"
    team: Team
    reason: Text


class RecordTeamResponse(_Action):
    type: Literal["team_response"] = "team_response"
    team: Team
    text: Text


class ProposeAction(_Action):
    type: Literal["propose_action"] = "propose_action"
    action: EnforcementAction
    rationale: Text
    statement_of_reasons: Text | None = None
    target: ShortText | None = None  # account or content id; default: the incident's content


class Approve(_Action):
    type: Literal["approve"] = "approve"
    approval_id: ShortText
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000), Printable] = ""


class Reject(_Action):
    type: Literal["reject"] = "reject"
    approval_id: ShortText
    reason: Text


class Resolve(_Action):
    type: Literal["resolve"] = "resolve"
    resolution: Resolution
    summary: Text


class Reopen(_Action):
    type: Literal["reopen"] = "reopen"
    reason: Text


class MergeInto(_Action):
    type: Literal["merge_into"] = "merge_into"
    incident_id: IncidentId


class PostUpdate(_Action):
    """A status update for an audience. Sent as written, with the incident's id, severity,
    category and status (leadership also its running deadlines); never its title, content,
    links or reporter: write nothing graphic, it is read in mail and chat."""

    type: Literal["post_update"] = "post_update"
    audience: Literal["leadership", "stakeholders"] = Field(description="Who reads it (the directory's audiences)")
    text: Text
    next_update_at: AwareDatetime | None = Field(
        None, description="When you will say more; the next reminder falls then, or sooner if the policy's cadence asks"
    )


# Vigil's own actions, taken by the workflow (actor SYSTEM), recorded like any other.


class Open(_Action):
    type: Literal["open"] = "open"
    incident_id: str
    intake: Intake
    severity: Severity
    triage_reasons: list[str]
    policy_version: str
    opened_by: Actor | None = None
    # Approval by the most severe level the incident has held (lowering severity skips nothing).
    # Incidents opened before this rule (their `open` has no such key) keep the old one: approval
    # by the severity at the time of proposal, so their recorded histories replay unchanged.
    four_eyes_by_highest: bool = False


class ClockFired(_Action):
    type: Literal["clock_fired"] = "clock_fired"
    clock_id: str


class EnforcementCompleted(_Action):
    type: Literal["enforcement_completed"] = "enforcement_completed"
    proposal_id: str
    succeeded: bool
    reference: str
    detail: str = ""


HumanAction = Annotated[
    (
        Acknowledge
        | Assign
        | AddNote
        | SetSeverity
        | Escalate
        | RecordTeamResponse
        | ProposeAction
        | Approve
        | Reject
        | Resolve
        | Reopen
        | MergeInto
        | PostUpdate
    ),
    Field(discriminator="type"),
]
SystemAction = Annotated[Open | ClockFired | EnforcementCompleted, Field(discriminator="type")]
Action = Annotated[HumanAction | SystemAction, Field(discriminator="type")]
# pydantic types TypeAdapter's argument as TypeForm[T], which mypy 1.20 does not yet check alike on
# every run: it accepts an annotated union on a fresh run and refuses it as "not a type[T]" when it
# rechecks this module against its cache. Hence an ignore that may go unused.
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)  # type: ignore[arg-type, unused-ignore]
HUMAN_ACTION_ADAPTER: TypeAdapter[HumanAction] = TypeAdapter(HumanAction)  # type: ignore[arg-type, unused-ignore]


class RefusalCode(StrEnum):
    FORBIDDEN = "forbidden"  # this actor may not (role, four-eyes)      -> HTTP 403
    CONFLICT = "conflict"  # not in this state                          -> HTTP 409
    INVALID = "invalid"  # well-formed but makes no sense here          -> HTTP 422


class Refusal(Exception):
    def __init__(self, code: RefusalCode, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason
