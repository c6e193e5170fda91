"""Auditing an incident from its Temporal history: the history itself, the timeline in words,
the state after any event, the seal check, and replay against today's code.

Everything here reads Temporal's history, not the SQL projection (which only says which
incidents a filter or a time range selects, and where each seal is kept). Events are numbered
across the runs of an incident's workflow: see vigil.audit.history.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from vigil.api.deps import allow, check_incident_id, get_engine, get_temporal, projected_incident
from vigil.api.errors import ApiError, conflict, invalid, not_found, responses
from vigil.audit import history as histories
from vigil.audit.decode import Undecodable, event_type_name
from vigil.audit.digest import verify
from vigil.audit.journal import Recorded, read_journal
from vigil.audit.reconstruct import EventOutOfRange, Reconstruction
from vigil.audit.replay import replay
from vigil.audit.timeline import Timeline, build_timeline
from vigil.auth import Principal
from vigil.db.tables import HistorySealRow, IncidentRow
from vigil.domain import TERMINAL_STATUSES, Category, Channel, Language, Region, Severity, Status
from vigil.i18n import negotiate
from vigil.roles import AUDITORS, READERS
from vigil.temporal import HISTORY_DIGEST, data_converter
from vigil.workflows.state import Incident

router = APIRouter(tags=["audit"])

MAX_REPLAY = 1000


# ---------------------------------------------------------------------------- reading a history


def converter_of(request: Request) -> DataConverter:
    """The API's Temporal client's converter: the same keys the workers write with."""
    client: Client | None = request.app.state.temporal
    return client.data_converter if client is not None else data_converter()


async def _history(
    temporal: Client, engine: Engine, incident_id: str, approvals: bool = True
) -> histories.IncidentHistory:
    check_incident_id(incident_id)
    try:
        return await histories.fetch(temporal, incident_id, approvals=approvals)
    except histories.HistoryNotFound:
        if await run_in_threadpool(projected_incident, engine, incident_id) is not None:
            raise not_found(
                f"Temporal no longer keeps the history of {incident_id} (its retention period has passed); "
                "read an exported copy with `vigil audit verify FILE`"
            ) from None
        raise not_found(f"no incident {incident_id}") from None


async def _reconstruction(request: Request, temporal: Client, engine: Engine, incident_id: str) -> Reconstruction:
    history = await _history(temporal, engine, incident_id)
    try:
        return Reconstruction(await read_journal(history, converter_of(request)))
    except Undecodable as error:
        raise ApiError(
            503,
            "key_unavailable",
            f"{incident_id}: {error}. Every key that ever encrypted payloads must stay in VIGIL_ENCRYPTION_KEYS",
        ) from None


@router.get(
    "/api/incidents/{incident_id}/history",
    summary="The incident's Temporal history (all runs), as JSON",
    responses={
        200: {
            "description": "A `vigil-history-v1` document: each run as Temporal's own history JSON, "
            "payloads still encrypted; and the approval requests' histories"
        },
        **responses(403, 404),
    },
)
async def history(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "read raw histories")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
    approvals: Annotated[bool, Query(description="Include the approval requests' histories")] = True,
) -> dict[str, Any]:
    """Exactly what Temporal stores, payloads encrypted: check it with `vigil audit verify FILE`,
    replay it, or open it in any Temporal tool (`temporal workflow show --codec-endpoint` decodes)."""
    return (await _history(temporal, engine, incident_id, approvals)).to_document()


@router.get(
    "/api/incidents/{incident_id}/timeline",
    response_model=Timeline,
    summary="What happened, in words, from the history",
    responses=responses(403, 404),
)
async def timeline(
    incident_id: str,
    request: Request,
    user: Principal = Depends(allow(READERS, "read timelines")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> Timeline:
    """Every action with who took it and in which role, refused ones and why, timers that fired,
    clocks breached and by how much, approvals and who was asked, enforcement and its outcome,
    runs continued as new, and the seal; in English or Spanish (`Accept-Language`, else the
    reader's own language). Each entry names the history event that caused it."""
    header = request.headers.get("accept-language")
    language = negotiate(header) if header else (user.language if user.language in set(Language) else "en")
    return build_timeline(await _reconstruction(request, temporal, engine, incident_id), language)


# ---------------------------------------------------------------------------- the state after an event


class EventRef(BaseModel):
    number: int = Field(description="Across runs: 1 is the first event of the first run")
    run: int = Field(description="1 for the first run of the workflow")
    run_id: str
    event_id: int = Field(description="The event's id within its run, as Temporal shows it")
    type: str
    at: datetime


class EntryRef(BaseModel):
    entry_no: int
    type: str
    actor: str
    role: str
    at: datetime
    refused: bool
    via: str = Field(description="How it arrived: update, signal, triage, timer, time, enforcement")
    caused_by_event: int


class StateCheck(BaseModel):
    event: int = Field(description="The event where the workflow recorded this state")
    after_entry: int
    source: str = Field(description="update result, projection batch, carried into a new run, workflow result")
    matches: bool = Field(description="Whether the fold rebuilt exactly this state")


class StateAfterEvent(BaseModel):
    incident_id: str
    after_event: int
    events: int = Field(description="Events in the history, across runs")
    event: EventRef
    entries: int = Field(description="Journal entries folded to get this state")
    last_entry: EntryRef | None
    state: Incident | None = Field(description="null before the triage opened the incident")
    verified: bool = Field(description="Every state the workflow recorded up to this event matches the fold")
    checks: list[StateCheck]
    problems: list[str] = Field(description="Anything the reconstruction could not tie up, for the whole history")


def _event_ref(reconstruction: Reconstruction, number: int) -> EventRef:
    step = reconstruction.journal.step(number)
    run = reconstruction.journal.history.runs[step.run]
    return EventRef(
        number=number,
        run=step.run + 1,
        run_id=run.run_id,
        event_id=step.event.event_id,
        type=event_type_name(step.event),
        at=step.at,
    )


def _entry_ref(recorded: Recorded | None) -> EntryRef | None:
    if recorded is None:
        return None
    entry = recorded.entry
    return EntryRef(
        entry_no=entry.entry_no,
        type=entry.action.type if entry.action else "malformed",
        actor=entry.actor.user if entry.actor else "unknown",
        role=entry.actor.role.value if entry.actor else "unknown",
        at=entry.at,
        refused=entry.refused,
        via=recorded.via,
        caused_by_event=recorded.cause,
    )


@router.get(
    "/api/incidents/{incident_id}/state",
    response_model=StateAfterEvent,
    summary="The state right after history event N, rebuilt from the recorded actions",
    responses=responses(403, 404, 422),
)
async def state_after_event(
    incident_id: str,
    request: Request,
    after_event: Annotated[int | None, Query(ge=1, description="Event number across runs; default: the last")] = None,
    user: Principal = Depends(allow(READERS, "read incidents")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> StateAfterEvent:
    """Folds the journal entries applied up to event N through today's state machine
    (`lifecycle.apply`). An entry counts from the event that caused it: the update accepted,
    the signal, the timer fired, the triage or enforcement activity completed. Every state the
    workflow itself recorded up to N (update results, projection batches, the state carried
    into a new run, the final result) is compared with the fold: `verified` says they all match."""
    reconstruction = await _reconstruction(request, temporal, engine, incident_id)
    number = after_event if after_event is not None else reconstruction.journal.events
    try:
        state = reconstruction.after_event(number)
    except EventOutOfRange as error:
        raise invalid(f"after_event: {error}") from None
    return StateAfterEvent(
        incident_id=incident_id,
        after_event=number,
        events=state.events,
        event=_event_ref(reconstruction, number),
        entries=state.entries,
        last_entry=_entry_ref(state.last),
        state=state.state,
        verified=state.verified,
        checks=[
            StateCheck(event=c.event, after_entry=c.after_entry, source=c.source, matches=c.matches)
            for c in state.checks
        ],
        problems=reconstruction.problems,
    )


# ---------------------------------------------------------------------------- tamper evidence


class StoredSeal(BaseModel):
    incident_id: str
    digest: str = Field(description="SHA-256: the last link of the chain")
    events: int = Field(description="Events the seal covers, across runs (up to the seal's own scheduling)")
    chain: list[str] = Field(description="One link per event: sha256(previous link + the event's canonical JSON)")
    run_ids: list[str | None]
    sealed_at: datetime
    search_attribute: str | None = Field(description="The HistoryDigest search attribute Temporal keeps, if readable")


class Verification(BaseModel):
    incident_id: str
    intact: bool
    events: int = Field(description="Sealed events found in the history")
    sealed_events: int
    first_altered_event: int | None = Field(description="Number (across runs) of the first event that differs")
    first_altered: EventRef | None
    digest: str
    search_attribute_matches: bool | None = Field(description="Whether Temporal's HistoryDigest agrees with the seal")
    detail: str


def _seal_row(engine: Engine, incident_id: str) -> HistorySealRow | None:
    with Session(engine) as session:
        return session.get(HistorySealRow, incident_id)


async def _search_attribute_digest(temporal: Client, incident_id: str) -> str | None:
    try:
        description = await temporal.get_workflow_handle(incident_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.typed_search_attributes.get(HISTORY_DIGEST)


async def _stored_seal(temporal: Client, engine: Engine, incident_id: str) -> StoredSeal:
    check_incident_id(incident_id)
    row = await run_in_threadpool(_seal_row, engine, incident_id)
    if row is None:
        projected = await run_in_threadpool(projected_incident, engine, incident_id)
        if projected is None:
            raise not_found(f"no incident {incident_id}")
        if projected.status not in TERMINAL_STATUSES:
            raise conflict(f"{incident_id} is {projected.status}: a history is sealed when the incident closes")
        raise conflict(f"{incident_id} is {projected.status} but its seal is not recorded yet; retry shortly")
    return StoredSeal(
        incident_id=incident_id,
        digest=row.digest,
        events=row.events,
        chain=row.chain,
        run_ids=row.run_ids,
        sealed_at=row.sealed_at,
        search_attribute=await _search_attribute_digest(temporal, incident_id),
    )


@router.get(
    "/api/incidents/{incident_id}/seal",
    response_model=StoredSeal,
    summary="The hash chain stored when the incident closed",
    responses=responses(403, 404, 409),
)
async def seal(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "read seals")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> StoredSeal:
    """What `vigil audit verify FILE` checks an exported copy against. `409` while the incident
    is open (histories are sealed at close)."""
    return await _stored_seal(temporal, engine, incident_id)


@router.get(
    "/api/incidents/{incident_id}/verify",
    response_model=Verification,
    summary="Is Temporal's history still the one sealed at close?",
    responses=responses(403, 404, 409),
)
async def verify_incident(
    incident_id: str,
    user: Principal = Depends(allow(AUDITORS, "verify histories")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> Verification:
    """Fetches every run, recomputes the hash chain and compares it link by link with the one
    stored at close; points at the first event that differs. Also compares the stored digest
    with the HistoryDigest search attribute, a second copy kept by Temporal."""
    stored = await _stored_seal(temporal, engine, incident_id)
    history = await _history(temporal, engine, incident_id, approvals=False)
    return verification(history, stored)


def verification(history: histories.IncidentHistory, stored: StoredSeal) -> Verification:
    verdict = verify(history.incident_id, history.runs, stored.chain)
    first = None
    if verdict.first_altered is not None and verdict.first_altered < history.event_count:
        numbered = list(history.numbered())[verdict.first_altered]
        run = history.runs[numbered.run]
        first = EventRef(
            number=numbered.number,
            run=numbered.run + 1,
            run_id=run.run_id,
            event_id=numbered.event.event_id,
            type=event_type_name(numbered.event),
            at=numbered.event.event_time.ToDatetime(tzinfo=UTC),
        )
    return Verification(
        incident_id=history.incident_id,
        intact=verdict.intact,
        events=verdict.events,
        sealed_events=stored.events,
        first_altered_event=None if verdict.first_altered is None else verdict.first_altered + 1,
        first_altered=first,
        digest=stored.digest,
        search_attribute_matches=None if stored.search_attribute is None else stored.search_attribute == stored.digest,
        detail=verdict.detail,
    )


# ---------------------------------------------------------------------------- replay


class ReplayFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[Status] = []
    severity: list[Severity] = []
    category: list[Category] = []
    channel: list[Channel] = []
    region: list[Region] = []
    opened_from: datetime | None = None
    opened_to: datetime | None = None


class ReplayRequest(BaseModel):
    """Which incidents to replay: `ids`, or a `filter`, or those closed in a time range."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[str, Field(pattern=r"^INC-\d{4}-\d{6}$")]], Field(max_length=MAX_REPLAY)] = []
    filter: ReplayFilter | None = None
    closed_from: datetime | None = Field(None, description="Incidents closed (or merged) at or after this time")
    closed_to: datetime | None = Field(None, description="... and before this time")
    limit: Annotated[int, Field(ge=1, le=MAX_REPLAY)] = 200

    @model_validator(mode="after")
    def _one_selection(self) -> "ReplayRequest":
        chosen = [bool(self.ids), self.filter is not None, bool(self.closed_from or self.closed_to)]
        if sum(chosen) != 1:
            raise ValueError("send exactly one of: ids, filter, closed_from/closed_to")
        return self


class DivergenceOut(BaseModel):
    workflow_id: str
    run_id: str
    event_id: int | None = Field(description="Within that run")
    event: int | None = Field(description="For the incident's own runs: the number across runs")
    event_type: str | None
    message: str
    known_cause: str | None = Field(None, description="A cause outside Vigil's code that the history shows, if any")


class ReplayReportOut(BaseModel):
    incident_id: str
    result: str = Field(description="ok, nondeterministic, failed, or missing (Temporal has no history)")
    workflows: int = Field(description="Runs replayed: the incident's and its approval requests'")
    events: int
    divergence: DivergenceOut | None = Field(description="The first event today's code no longer produces")


class ReplayResult(BaseModel):
    replayed: int
    ok: int
    nondeterministic: int
    failed: int
    missing: int
    truncated: bool = Field(description="More incidents matched than `limit`")
    reports: list[ReplayReportOut]


def _select(engine: Engine, request: ReplayRequest) -> tuple[list[str], bool]:
    statement = select(IncidentRow.id)
    if request.filter is not None:
        f = request.filter
        for column, values in (
            (IncidentRow.status, f.status),
            (IncidentRow.severity, f.severity),
            (IncidentRow.category, f.category),
            (IncidentRow.channel, f.channel),
            (IncidentRow.region, f.region),
        ):
            if values:
                statement = statement.where(column.in_([v.value for v in values]))
        if f.opened_from:
            statement = statement.where(IncidentRow.opened_at >= f.opened_from)
        if f.opened_to:
            statement = statement.where(IncidentRow.opened_at < f.opened_to)
        statement = statement.order_by(IncidentRow.opened_at, IncidentRow.id)
    else:
        statement = statement.where(IncidentRow.status.in_([s.value for s in TERMINAL_STATUSES]))
        if request.closed_from:
            statement = statement.where(IncidentRow.closed_at >= request.closed_from)
        if request.closed_to:
            statement = statement.where(IncidentRow.closed_at < request.closed_to)
        statement = statement.order_by(IncidentRow.closed_at, IncidentRow.id)
    with Session(engine) as session:
        ids = list(session.scalars(statement.limit(request.limit + 1)))
    return ids[: request.limit], len(ids) > request.limit


@router.post(
    "/api/audit/replay",
    response_model=ReplayResult,
    summary="Replay incidents' histories against today's workflow code",
    responses=responses(403),
)
async def replay_incidents(
    request: Request,
    body: Annotated[
        ReplayRequest,
        Body(
            examples=[
                {"ids": ["INC-2026-000001"]},
                {"filter": {"status": ["closed"], "region": ["EMEA"]}},
                {"closed_from": "2026-11-01T00:00:00Z"},
            ]
        ),
    ],
    user: Principal = Depends(allow(AUDITORS, "replay histories")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> ReplayResult:
    """Temporal's Replayer runs each history (every run, and the approval requests') through
    today's IncidentWorkflow and ApprovalWorkflow. `nondeterministic` means today's code would
    not continue that incident: the report names the first event it no longer produces."""
    if body.ids:
        ids, truncated = list(dict.fromkeys(body.ids))[: body.limit], len(set(body.ids)) > body.limit
    else:
        ids, truncated = await run_in_threadpool(_select, engine, body)
    found, missing = [], []
    for incident_id in ids:
        try:
            found.append(await histories.fetch(temporal, incident_id))
        except histories.HistoryNotFound:
            missing.append(incident_id)
    reports = {r.incident_id: r for r in await replay(found, converter_of(request))} if found else {}
    out = []
    for incident_id in ids:
        report = reports.get(incident_id)
        if report is None:
            out.append(
                ReplayReportOut(incident_id=incident_id, result="missing", workflows=0, events=0, divergence=None)
            )
            continue
        divergence = report.divergence
        out.append(
            ReplayReportOut(
                incident_id=incident_id,
                result=report.result,
                workflows=report.workflows,
                events=report.events,
                divergence=DivergenceOut(**divergence.__dict__) if divergence else None,
            )
        )
    count = {kind: sum(1 for r in out if r.result == kind) for kind in ("ok", "nondeterministic", "failed", "missing")}
    return ReplayResult(replayed=len(found), truncated=truncated, reports=out, **count)
