"""The auditor's pages: an incident's timeline, the state after a chosen event, the replay
verdict, the seal check and the export, each one the audit API's own function called in-process
(vigil.api.routers.audit), so a page says exactly what the API and `vigil audit` say.

Who may open each page is the API's rule (vigil.roles): the timeline and the state after an
event are open to every reader, as GET .../timeline and .../state are; replay, the seal and the
raw history to auditors and admins. Reporters stay sealed as the API seals them
(vigil.need_to_know): the functions called here already leave them out for other roles.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlmodel import col

from vigil.api.deps import whole_number
from vigil.api.errors import ApiError
from vigil.api.routers.audit.history import history
from vigil.api.routers.audit.reading import incident_history
from vigil.api.routers.audit.reconstruction import state_after_event, timeline_in
from vigil.api.routers.audit.replay import replay_incidents
from vigil.api.routers.audit.schemas import ReplayRequest
from vigil.api.routers.audit.seals import seal, verify_incident
from vigil.console.refusals import in_words
from vigil.console.render import download, page
from vigil.console.viewer import Viewer, signed_in
from vigil.db.tables import IncidentRow
from vigil.domain import TERMINAL_STATUSES
from vigil.i18n import gettext_for
from vigil.roles import AUDITORS, READERS, may_not
from vigil.workflows.state import is_incident_id

router = APIRouter()

# Each view: who may open it (the API's role set for the same answer) and how a refusal says it.
VIEWS: dict[str, tuple[frozenset, str]] = {
    "timeline": (READERS, "read timelines"),
    "state": (READERS, "read incidents"),
    "replay": (AUDITORS, "replay histories"),
    "seal": (AUDITORS, "verify histories"),
}
Work = Callable[[], Awaitable[dict[str, Any]]]


def _temporal(request: Request) -> Any:
    client = request.app.state.temporal
    if client is None:
        raise ApiError(503, "temporal_unavailable", "not connected to Temporal yet; retry shortly")
    return client


def _refused(request: Request, viewer: Viewer, status: int, message: str) -> Response:
    return page(request, "error.html", viewer.language, viewer, status=status, message=message)


def _failed(request: Request, viewer: Viewer, incident_id: str, failure: ApiError) -> Response:
    """The API's refusal as a page, in words, with its status."""
    if failure.status == 404 and failure.detail.startswith("no incident"):
        message = gettext_for(viewer.language)("There is no incident %(id)s.") % {"id": incident_id[:40]}
        return _refused(request, viewer, 404, message)
    return _refused(request, viewer, failure.status, in_words(failure.detail, viewer.language))


def _may(viewer: Viewer, view: str) -> bool:
    return viewer.role in VIEWS[view][0]


async def _audit_page(request: Request, viewer: Viewer, incident_id: str, view: str, work: Work) -> Response:
    """The audit page `view` of an incident, or the API's refusal in words with its status."""
    roles, doing = VIEWS[view]
    if viewer.role not in roles:
        return _refused(request, viewer, 403, in_words(may_not(viewer.role, doing), viewer.language))
    try:
        context = await work()
    except ApiError as failure:
        if failure.status != 409:
            return _failed(request, viewer, incident_id, failure)
        context = {"status": 409, "problem": in_words(failure.detail, viewer.language)}  # said on the page
    shown = dict.fromkeys(("problem", "counts", "timeline", "found", "report", "verdict", "stored", "state_json"))
    return page(
        request,
        "audit.html",
        viewer.language,
        viewer,
        status=context.pop("status", 200),
        incident_id=incident_id,
        view=view,
        may=lambda other: _may(viewer, other),
        **(shown | context),
    )


@router.get("/incidents/{incident_id}/audit")
async def timeline_page(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    async def work() -> dict[str, Any]:
        engine = request.app.state.engine
        found = await timeline_in(request, _temporal(request), engine, incident_id, viewer.language, viewer.role)
        return {"timeline": found, "counts": found.counts}

    return await _audit_page(request, viewer, incident_id, "timeline", work)


def _event_number(text: str | None) -> int | None:
    """The event asked for: None for the last; ApiError 422 for anything but a whole number."""
    if text is None or text == "":
        return None
    number = whole_number(text)
    if number is None or number < 1:
        raise ApiError(422, "invalid", f"after_event: {text[:20]!r} is not an event number (1 or more)")
    return number


@router.get("/incidents/{incident_id}/audit/state")
async def state_page(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    async def work() -> dict[str, Any]:
        number = _event_number(request.query_params.get("after_event"))
        temporal, engine = _temporal(request), request.app.state.engine
        found = await state_after_event(incident_id, request, number, viewer.principal, temporal, engine)
        state = found.state.model_dump(mode="json") if found.state is not None else None
        return {"found": found, "counts": found.counts, "state_json": json.dumps(state, indent=2, ensure_ascii=False)}

    return await _audit_page(request, viewer, incident_id, "state", work)


@router.get("/incidents/{incident_id}/audit/replay")
async def replay_page(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    async def work() -> dict[str, Any]:
        temporal, engine = _temporal(request), request.app.state.engine
        if not is_incident_id(incident_id):
            raise ApiError(404, "not_found", f"no incident {incident_id[:40]}")
        body = ReplayRequest(ids=[incident_id])
        report = (await replay_incidents(request, body, viewer.principal, temporal, engine)).reports[0]
        if report.result == "missing":  # the API's own answer for why: unknown, or past retention
            await incident_history(temporal, engine, incident_id, approvals=False)
        return {"report": report, "counts": report.counts}

    return await _audit_page(request, viewer, incident_id, "replay", work)


@router.get("/incidents/{incident_id}/audit/seal")
async def seal_page(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    async def work() -> dict[str, Any]:
        temporal, engine = _temporal(request), request.app.state.engine
        verdict = await verify_incident(incident_id, viewer.principal, temporal, engine)
        stored = await seal(incident_id, viewer.principal, temporal, engine)
        return {"verdict": verdict, "stored": stored, "counts": verdict.counts}

    return await _audit_page(request, viewer, incident_id, "seal", work)


@router.get("/incidents/{incident_id}/audit/export")
async def export(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    """The raw history (GET /api/incidents/{id}/history's document, payloads encrypted), as a file."""
    if viewer.role not in AUDITORS:
        return _refused(request, viewer, 403, in_words(may_not(viewer.role, "read raw histories"), viewer.language))
    try:
        document = await history(incident_id, viewer.principal, _temporal(request), request.app.state.engine, True)
    except ApiError as failure:
        return _failed(request, viewer, incident_id, failure)
    return download(json.dumps(document), f"{incident_id}-history.json", "application/json")


# ---------------------------------------------------------------------------- the auditor's start


def _ended(request: Request) -> list[IncidentRow]:
    """The incidents that ended most recently: what an auditor checks first."""
    ended = [s.value for s in TERMINAL_STATUSES]
    with DbSession(request.app.state.engine) as db:
        statement = select(IncidentRow).where(col(IncidentRow.status).in_(ended))
        return list(db.scalars(statement.order_by(col(IncidentRow.closed_at).desc()).limit(20)))


@router.get("/audit")
async def audit_start(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    """Open an incident's audit by its id; the incidents that ended last, to start from."""
    wanted = (request.query_params.get("incident") or "").strip().upper()
    if is_incident_id(wanted):
        return RedirectResponse(f"/incidents/{wanted}/audit", status_code=303)
    ended = await run_in_threadpool(_ended, request)
    gettext = gettext_for(viewer.language)
    problem = gettext("%(id)s is not an incident number (INC-YYYY-NNNNNN).") % {"id": wanted[:40]} if wanted else None
    return page(
        request,
        "audit_start.html",
        viewer.language,
        viewer,
        status=422 if wanted else 200,
        ended=ended,
        problem=problem,
    )
