"""Action forms: which ones a viewer sees on an incident, and a posted form as a HumanAction.

Which forms appear follows the state machine's own table (lifecycle.permitted for the role,
lifecycle.RULES for the statuses an action is legal in); whatever else the state machine
checks (four-eyes, quorum, a team already asked...) it answers itself when the form is sent,
and the page shows its reason. A posted form is validated by the same pydantic models as the
API's JSON body, so the console can send nothing the API would not accept.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from vigil.console.viewer import Viewer
from vigil.domain import EnforcementAction, Resolution, Severity, Team
from vigil.i18n import _, gettext_for
from vigil.policy import Policy
from vigil.workflows import lifecycle
from vigil.workflows.actions import (
    HUMAN_ACTION_ADAPTER,
    Acknowledge,
    AddNote,
    Assign,
    Escalate,
    HumanAction,
    MergeInto,
    PostUpdate,
    ProposeAction,
    RecordTeamResponse,
    Refusal,
    Reopen,
    Resolve,
    SetSeverity,
)
from vigil.workflows.state import Actor, Incident

# Every human action's model, by its `type`.
MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["type"].default: model for model in get_args(get_args(HumanAction)[0])
}

# The forms of the incident page, in the order of the work. Approve and reject sit with each proposal.
INCIDENT_FORMS = [
    "acknowledge",
    "assign",
    "add_note",
    "escalate",
    "team_response",
    "propose_action",
    "set_severity",
    "resolve",
    "reopen",
    "merge_into",
    "post_update",
]

TITLES = {
    "acknowledge": _("Acknowledge"),
    "assign": _("Assign"),
    "add_note": _("Add a note"),
    "escalate": _("Escalate to a team"),
    "team_response": _("Record a team's answer"),
    "propose_action": _("Propose an action"),
    "set_severity": _("Change severity"),
    "resolve": _("Resolve"),
    "reopen": _("Reopen"),
    "merge_into": _("Merge into another incident"),
    "post_update": _("Post a status update"),
}

# What the page says after each action went through.
DONE = {
    "evidence": _("Evidence added."),  # console/wellbeing.py
    "intake": _("Taken in: the policy triaged it and its clocks are running."),  # console/intake.py
    "view_saved": _("View saved: its link is above the queue."),  # console/views.py
    "view_deleted": _("View deleted."),
    "acknowledge": _("Acknowledged."),
    "assign": _("Assigned."),
    "add_note": _("Note added."),
    "escalate": _("Escalated."),
    "team_response": _("Answer recorded."),
    "propose_action": _("Action proposed."),
    "set_severity": _("Severity changed."),
    "resolve": _("Resolved."),
    "reopen": _("Reopened."),
    "merge_into": _("Merged."),
    "post_update": _("Status update posted: its notices are queued (see Notifications)."),
    "approve": _("Approved."),
    "reject": _("Rejected."),
}

FIELDS = {
    "assignee": _("Assign to"),
    "text": _("Text"),
    "team": _("Team"),
    "reason": _("Reason"),
    "action": _("Action"),
    "rationale": _("Rationale"),
    "statement_of_reasons": _("Statement of reasons for the user"),
    "target": _("Target account or content"),
    "severity": _("Severity"),
    "resolution": _("Resolution"),
    "summary": _("Summary"),
    "incident_id": _("Incident to merge into"),
    "approval_id": _("Approval"),
    "comment": _("Comment"),
    "audience": _("Audience"),
    "next_update_at": _("Next update by (UTC)"),
}


def legal_now(action_type: str, incident: Incident) -> bool:
    _roles, statuses = lifecycle.RULES[action_type]
    return incident.status in statuses


def available(viewer: Viewer, incident: Incident) -> list[str]:
    """The incident forms this viewer's role may send in the incident's status."""
    return [t for t in INCIDENT_FORMS if viewer.may(t) and legal_now(t, incident)]


def take(viewer: Viewer, status: str, assignee: str | None) -> str | None:
    """The one-click "take it": acknowledge while in triage (it assigns to whoever acknowledges),
    else assign to oneself; None when the state machine's table allows neither, or it is theirs."""
    if viewer.may("acknowledge") and status in lifecycle.RULES["acknowledge"][1]:
        return "acknowledge"
    if assignee != viewer.name and viewer.may("assign") and status in lifecycle.RULES["assign"][1]:
        return "assign"
    return None


def may_decide(viewer: Viewer, incident: Incident) -> bool:
    """Whether approve / reject forms appear beside pending proposals."""
    return viewer.may("approve") and legal_now("approve", incident)


NO_TEAM_ASKED = "no team has been asked yet: escalate to one first"
PROBE_TEXT = "(probe)"  # stands in for what a person would type: the state machine only checks it is there
PROBE_TARGET = "INC-0000-000000"  # merge_into: whether merging is possible at all (the API checks the target)


@dataclass
class Offer:
    """What the incident page offers: the forms the state machine would take now, the choices
    within each it would take, and for the forms withheld its own reason."""

    forms: list[str]
    choices: dict[str, list[str]]
    withheld: dict[str, str]
    refused_choices: dict[str, dict[str, str]]  # kind -> choice -> the state machine's reason


def _probes(kind: str, incident: Incident, people: list[str]) -> list[tuple[str, HumanAction]]:
    """(choice, action) pairs to ask the state machine about; the choice is "" for a form without one."""
    t = PROBE_TEXT
    if kind == "assign":
        return [(p, Assign(assignee=p)) for p in people]
    if kind == "escalate":
        return [(str(team), Escalate(team=team, reason=t)) for team in Team]
    if kind == "team_response":
        return [(str(e.team), RecordTeamResponse(team=e.team, text=t)) for e in incident.teams]
    if kind == "propose_action":
        return [(str(a), ProposeAction(action=a, rationale=t, statement_of_reasons=t)) for a in EnforcementAction]
    if kind == "set_severity":
        return [(str(v), SetSeverity(severity=v, reason=t)) for v in Severity]
    if kind == "resolve":
        return [(str(r), Resolve(resolution=r, summary=t)) for r in Resolution]
    single: dict[str, HumanAction] = {
        "acknowledge": Acknowledge(),
        "add_note": AddNote(text=t),
        "reopen": Reopen(reason=t),
        "merge_into": MergeInto(incident_id=PROBE_TARGET),
        "post_update": PostUpdate(audience="leadership", text=t),
    }
    return [("", single[kind])]


def offer(viewer: Viewer, incident: Incident, policy: Policy | None, people: list[str], now: datetime) -> Offer:
    """Ask the state machine (lifecycle.apply, on a copy) which forms and choices it would take
    from this viewer now, so the page never offers what it would refuse, and says why not."""
    kinds = available(viewer, incident)
    if policy is None:  # the policy file cannot be read: the role and status table alone
        return Offer(kinds, {}, {}, {})
    actor = Actor(user=viewer.name, role=viewer.role)
    offer = Offer([], {}, {}, {})
    for kind in kinds:
        allowed, refusals = [], {}
        for choice, action in _probes(kind, incident, people):
            try:
                lifecycle.apply(incident, action, actor, now, policy)
            except Refusal as refused:
                refusals[choice] = refused.reason
                continue
            allowed.append(choice)
        if allowed:
            offer.forms.append(kind)
            if allowed != [""]:
                offer.choices[kind] = allowed
                offer.refused_choices[kind] = refusals
        elif refusals:
            offer.withheld[kind] = next(iter(refusals.values()))
        elif kind == "team_response":  # nobody to record an answer from
            offer.withheld[kind] = NO_TEAM_ASKED
    return offer


def statement_required_for(incident: Incident, policy: Policy | None) -> list[str]:
    """The enforcement actions whose proposal here needs a statement of reasons (the policy's rule)."""
    if policy is None:
        return []
    region = incident.intake.region
    return [str(a) for a in EnforcementAction if policy.statement_of_reasons.required(region, a)]


@dataclass
class FormError(Exception):
    """A form the action models refuse, said in the reader's language."""

    message: str
    values: dict[str, str]


def parse(form: dict[str, Any], language: str) -> HumanAction:
    """A posted form as an action; empty optional fields are left out. Raises FormError."""
    action_type = str(form.get("type") or "")
    model = MODELS.get(action_type)
    gettext = gettext_for(language)
    if model is None:
        raise FormError(gettext("Unknown action."), {})
    values = {
        name: str(form.get(name) or "").strip()
        for name in model.model_fields
        if name != "type" and isinstance(form.get(name), str)
    }
    body = {"type": action_type, **{k: v for k, v in values.items() if v}}
    if len(body.get("next_update_at", "")) == 16:  # a datetime-local field: the page says UTC
        body["next_update_at"] += ":00Z"
    try:
        return HUMAN_ACTION_ADAPTER.validate_python(body)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = next((str(p) for p in item["loc"] if str(p) in FIELDS), None)
            name = gettext(FIELDS[field]) if field else gettext("Form")
            if item["type"] == "missing":
                problems.append(gettext("%(field)s: please fill this in") % {"field": name})
            else:
                problems.append(f"{name}: {item['msg']}")
        raise FormError("; ".join(problems), values) from None
