"""Need-to-know: the one place that decides who sees who reported an incident, and whose exposure
to sensitive content a person may read.

Reporter identity and contact details (`intake.reporter`) are shown to the roles in
`vigil.roles.REPORTER_READERS` (leads and auditors) and to nobody else: not analysts, who act on
the content, not admins, who manage accounts. Every way out of Vigil goes through this module:

- the API's incident answers (one incident, an intake's answer, an action's answer, the state
  after an event): `for_reader`;
- the projection, which keeps the reporter only in the incident's row, encrypted with the payload
  key ring of vigil.temporal.codec (`stored_state`, `seal_reporter`; `read_stored` decrypts it for
  those who see reporters), out of the state's JSON and out of the journal's opening action
  (`without_reporter`): a reader that forgets to ask gets no reporter;
- the console (`Viewer.sees_reporters`) and the payload codec for Temporal's tools
  (`PAYLOAD_READERS`: a decoded payload holds the reporter, so the same people);
- the timeline (`timeline_for_reader`: its entries keep the recorded action, and the opening one
  holds the intake);
- lists, approvals, notifications, SSE events and reports carry no reporter at all.

Exposure (vigil.evidence.exposure) is health data: a person reads their own, leads their team's,
auditors everyone's (`exposure_scope`, from the role sets in vigil.roles); the API's report, the
console's exposure page and the queue's "least exposed today" hint all ask `exposure_readable` or
`reads_others_exposure`. No notification, digest, report or export carries it.
"""

import base64
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col
from temporalio.api.common.v1 import Payload

from vigil import roles
from vigil.db.tables import UserRow
from vigil.domain import Role
from vigil.workflows.state import Incident, Reporter

if TYPE_CHECKING:
    from vigil.audit.timeline import Timeline

# Who may decode (and encode) Temporal payloads through the codec endpoint: a payload holds the
# whole intake, reporter included, so exactly those who see reporters.
PAYLOAD_READERS = roles.REPORTER_READERS

_SEALED_PREFIX = "vigil-sealed-v1:"


def sees_reporter(role: Role) -> bool:
    """Whether this role may see who reported an incident and how to reach them."""
    return roles.sees_reporters(role)


def for_reader(incident: Incident, role: Role) -> Incident:
    """The incident as this role may read it: without the reporter unless it sees reporters."""
    if sees_reporter(role) or incident.intake.reporter is None:
        return incident
    return incident.model_copy(update={"intake": incident.intake.model_copy(update={"reporter": None})})


def for_reader_or_none(incident: Incident | None, role: Role) -> Incident | None:
    return None if incident is None else for_reader(incident, role)


def without_reporter(value: Any) -> Any:
    """A recorded action's JSON without any reporter (the opening action carries the intake)."""
    if isinstance(value, dict):
        return {k: (None if k == "reporter" else without_reporter(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_reporter(v) for v in value]
    return value


def timeline_for_reader(timeline: "Timeline", role: Role) -> "Timeline":
    """The timeline as this role may read it: each entry's recorded action without the reporter
    unless it sees reporters (the words never name the reporter)."""
    if sees_reporter(role):
        return timeline
    entries = [e.model_copy(update={"action": without_reporter(e.action)}) for e in timeline.entries]
    return timeline.model_copy(update={"entries": entries})


# ---------------------------------------------------------------------------- at rest


def seal_reporter(reporter: dict[str, Any] | None) -> str | None:
    """The reporter, encrypted with the active payload key, as text for a database column."""
    if reporter is None:
        return None
    from vigil.temporal import codec  # the configured key ring (VIGIL_ENCRYPTION_KEYS or the keys file)

    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(reporter, sort_keys=True).encode())
    return _SEALED_PREFIX + base64.b64encode(codec().encrypt(plain).SerializeToString()).decode()


def open_reporter(sealed: str | None) -> Reporter | None:
    """The reporter a `seal_reporter` column holds (any key of the ring opens it)."""
    if not sealed:
        return None
    from vigil.temporal import codec

    if not sealed.startswith(_SEALED_PREFIX):
        raise ValueError("not a sealed reporter")
    payload = codec().decrypt(Payload.FromString(base64.b64decode(sealed.removeprefix(_SEALED_PREFIX))))
    return Reporter.model_validate(json.loads(payload.data))


def stored_state(state: Incident) -> tuple[dict[str, Any], str | None]:
    """What the projection writes: the state's JSON without the reporter, and the reporter sealed."""
    document = state.model_dump(mode="json")
    reporter = document["intake"].get("reporter")
    document["intake"]["reporter"] = None
    return document, seal_reporter(reporter)


def read_stored(document: dict[str, Any], sealed: str | None, role: Role | None) -> Incident:
    """The projection's state as `role` may read it (None: Vigil itself, without the reporter)."""
    incident = Incident.model_validate(document)
    if role is not None and sees_reporter(role) and sealed:
        intake = incident.intake.model_copy(update={"reporter": open_reporter(sealed)})
        incident = incident.model_copy(update={"intake": intake})
    return incident


# ---------------------------------------------------------------- exposure: health data


def exposure_scope(role: Role) -> str:
    """Whose exposure a person may read: 'all', 'team' or 'own'."""
    if role in roles.EXPOSURE_ALL_READERS:
        return "all"
    return "team" if role in roles.EXPOSURE_TEAM_READERS else "own"


def reads_others_exposure(role: Role) -> bool:
    return exposure_scope(role) != "own"


def exposure_readable(engine: Engine, viewer: str, role: Role) -> set[str] | None:
    """Whose exposure the viewer may read: None for everyone (auditors); a lead's team (every
    analyst and lead: the directory has no teams of people yet); else the viewer alone."""
    scope = exposure_scope(role)
    if scope == "all":
        return None
    if scope == "own":
        return {viewer}
    with Session(engine) as session:
        team = session.scalars(
            select(col(UserRow.name)).where(col(UserRow.role).in_([Role.ANALYST.value, Role.LEAD.value]))
        ).all()
    return set(team) | {viewer}
