"""Wellbeing in the console: evidence on the incident page (veiled until a click), reveals counted,
each person's viewing preferences, the exposure view and the break prompt (masked titles in lists:
console/masking.py).

The rules are the API's: who may upload, open or read exposure is vigil.roles; what is sensitive is
the policy's `[wellbeing]`; a reveal is recorded by the same function as POST /api/exposure.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import UploadFile as FormFile

from vigil import auth
from vigil.api.deps import whole_number
from vigil.api.errors import ApiError
from vigil.api.routers import evidence as evidence_api
from vigil.api.routers import exposure as exposure_api
from vigil.console import flash
from vigil.console.render import page
from vigil.console.viewer import Viewer, check_csrf, signed_in
from vigil.db.tables import ViewingPreferenceRow
from vigil.evidence import exposure as exposures
from vigil.evidence.vault import Vault
from vigil.i18n import gettext_for
from vigil.need_to_know import exposure_scope, reads_others_exposure
from vigil.policy import load_policy
from vigil.roles import (
    EVIDENCE_CONTENT_READERS,
    EVIDENCE_UPLOADERS,
    RESPONDERS,
    VIEWING_TEAM_DEFAULTS,
    may_not,
)
from vigil.workflows.state import Incident

router = APIRouter()

TEAM = "*"  # the preferences row leads set for everyone who has not set their own
BLUR_RANGE = (4, 40)


@dataclass(frozen=True)
class Preferences:
    blur: int = 24
    greyscale: bool = True
    autoplay: bool = False
    own: bool = False  # set by the person (else the team's default, or Vigil's)


def preferences(engine: Engine, person: str) -> Preferences:
    with DbSession(engine) as db:
        for name, own in ((person, True), (TEAM, False)):
            row = db.get(ViewingPreferenceRow, name)
            if row is not None:
                return Preferences(row.blur, row.greyscale, row.autoplay, own)
    return Preferences()


def save_preferences(engine: Engine, person: str, by: str, chosen: Preferences) -> None:
    with DbSession(engine) as db:
        row = db.get(ViewingPreferenceRow, person) or ViewingPreferenceRow(
            person=person, updated_at=datetime.now(UTC), updated_by=by
        )
        row.blur, row.greyscale, row.autoplay = chosen.blur, chosen.greyscale, chosen.autoplay
        row.updated_at, row.updated_by = datetime.now(UTC), by
        db.add(row)
        db.commit()


def _vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def _today(engine: Engine, person: str) -> exposure_api.Today:
    return exposure_api.today_of(engine, person)


async def evidence_context(request: Request, viewer: Viewer, incident: Incident) -> dict[str, Any]:
    """What the incident page's evidence and content partials need."""
    vault = _vault(request)
    wellbeing = load_policy().wellbeing
    rows = await run_in_threadpool(vault.items, incident.id)
    also = await run_in_threadpool(vault.also_in, rows)
    prefs = await run_in_threadpool(preferences, vault.engine, viewer.name)
    category = incident.intake.category
    return {
        "evidence": [evidence_api.item_out(row, also.get(row.id, [])) for row in rows],
        "may_upload": viewer.role in EVIDENCE_UPLOADERS,
        "may_open": viewer.role in EVIDENCE_CONTENT_READERS,
        "prefs": prefs,
        "sensitive_links": [
            (index, c) for index, c in enumerate(incident.intake.content) if wellbeing.sensitive(category, c.graphic)
        ],
        "plain_links": [c for c in incident.intake.content if not wellbeing.sensitive(category, c.graphic)],
        "max_upload": vault.max_bytes,
    }


# ---------------------------------------------------------------------------- evidence


@router.post("/incidents/{incident_id}/evidence")
async def upload(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    form = await request.form()
    check_csrf(viewer, form)
    if viewer.role not in EVIDENCE_UPLOADERS:
        return _problem(request, viewer, 403, may_not(viewer.role, "add evidence"))
    file = form.get("file")
    if not isinstance(file, FormFile):  # what a parsed form holds (FastAPI's UploadFile is a subclass)
        return _problem(request, viewer, 422, gettext_for(viewer.language)("Choose a file to upload."))
    description = form.get("description")
    try:
        temporal = request.app.state.temporal
        if temporal is None:
            raise ApiError(503, "temporal_unavailable", "not connected to Temporal yet; retry shortly")
        await evidence_api.upload_evidence(
            incident_id,
            request,
            cast(UploadFile, file),
            description if isinstance(description, str) and description.strip() else None,
            form.get("graphic") == "on",
            user=viewer.principal,
            engine=request.app.state.engine,
            temporal=temporal,
            vault=_vault(request),
        )
    except ApiError as refused:
        gettext = gettext_for(viewer.language)
        return _problem(request, viewer, refused.status, gettext("Not done: %(reason)s") % {"reason": refused.detail})
    return flash.redirect(request, f"/incidents/{incident_id}#evidence", "evidence")


@router.get("/evidence/{evidence_id}/thumbnail")
async def thumbnail(request: Request, evidence_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    if viewer.role not in EVIDENCE_CONTENT_READERS:
        return Response(status_code=403)
    try:
        return await evidence_api.get_thumbnail(evidence_id, user=viewer.principal, vault=_vault(request))
    except ApiError as refused:
        return Response(status_code=refused.status)


@router.get("/evidence/{evidence_id}/content")
async def content(request: Request, evidence_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    """The bytes, from the console (a custody view; the exposure is the reveal it follows, if any)."""
    if viewer.role not in EVIDENCE_CONTENT_READERS:
        return _problem(request, viewer, 403, may_not(viewer.role, "open evidence"))
    raw = request.query_params.get("exposure", "")
    try:
        return await evidence_api.get_content(
            evidence_id,
            download=False,
            exposure=whole_number(raw) or None,  # 9 digits at most: within the database's integer
            user=viewer.principal,
            vault=_vault(request),
        )
    except ApiError as refused:
        return _problem(request, viewer, refused.status, refused.detail)


# ---------------------------------------------------------------------------- reveals


@router.post("/exposure")
async def reveal(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    """console.js's reveal: JSON {incident_id, evidence_id | content_index, csrf}."""
    try:
        body = json.loads(await request.body())
        assert isinstance(body, dict)
    except (ValueError, AssertionError):
        return JSONResponse({"error": "invalid", "detail": "expected a JSON object"}, status_code=422)
    check_csrf(viewer, body)
    if viewer.role not in EVIDENCE_CONTENT_READERS:
        return JSONResponse({"error": "forbidden", "detail": may_not(viewer.role, "see incident content")}, 403)
    try:
        wanted = exposure_api.RevealRequest.model_validate({k: v for k, v in body.items() if k != "csrf"})
        recorded = await run_in_threadpool(exposure_api.record, request.app.state.engine, viewer.name, wanted)
    except exposures.NotRevealable as missing:
        return JSONResponse({"error": "not_found", "detail": str(missing)}, status_code=404)
    except ValueError as bad:
        return JSONResponse({"error": "invalid", "detail": str(bad)[:300]}, status_code=422)
    return JSONResponse(recorded.model_dump(mode="json"), status_code=201)


@router.post("/exposure/{exposure_id}/duration")
async def duration(
    request: Request, exposure_id: Annotated[int, Path(ge=1, le=2**31 - 1)], viewer: Viewer = Depends(signed_in)
) -> Response:
    """The browser's beacon when a revealed item is hidden again or the page is left."""
    form = await request.form()
    check_csrf(viewer, form)
    try:
        seconds = float(str(form.get("seconds", "")))
    except ValueError:
        return Response(status_code=422)
    if not 0 <= seconds <= exposures.MAX_REPORTED_SECONDS:
        seconds = min(max(seconds, 0.0), exposures.MAX_REPORTED_SECONDS)
    found = await run_in_threadpool(
        exposures.report_duration, request.app.state.engine, exposure_id, viewer.name, seconds
    )
    return Response(status_code=204 if found else 404)


# ---------------------------------------------------------------------------- preferences and exposure pages


@router.get("/preferences")
async def preferences_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    engine = request.app.state.engine
    mine = await run_in_threadpool(preferences, engine, viewer.name)
    team = await run_in_threadpool(preferences, engine, TEAM)
    return page(
        request,
        "preferences.html",
        viewer.language,
        viewer,
        mine=mine,
        team=team,
        may_set_team=viewer.role in VIEWING_TEAM_DEFAULTS,
        blur_range=BLUR_RANGE,
        done=flash.take(request) == "saved",
    )


@router.post("/preferences")
async def save_preferences_form(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    whose = viewer.name
    if form.get("scope") == "team":
        if viewer.role not in VIEWING_TEAM_DEFAULTS:
            return _problem(request, viewer, 403, may_not(viewer.role, "set the team's viewing defaults"))
        whose = TEAM
    asked = whole_number(form.get("blur"))
    blur = Preferences.blur if asked is None else asked
    chosen = Preferences(
        blur=min(max(blur, BLUR_RANGE[0]), BLUR_RANGE[1]),
        greyscale=form.get("greyscale") == "on",
        autoplay=form.get("autoplay") == "on",
    )
    await run_in_threadpool(save_preferences, request.app.state.engine, whose, viewer.name, chosen)
    return flash.redirect(request, "/preferences", "saved")


@router.get("/exposure")
async def exposure_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    """Your own day; a lead's team over the last week; an auditor's everyone's."""
    engine = request.app.state.engine
    scope = exposure_scope(viewer.role)
    end = datetime.now(UTC).date()
    start = end if scope == "own" else end - timedelta(days=6)
    report = await exposure_api.report(start=start, end=end, person=None, user=viewer.principal, engine=engine)
    today = await run_in_threadpool(_today, engine, viewer.name)
    least = await run_in_threadpool(least_exposed, engine) if reads_others_exposure(viewer.role) else []
    return page(request, "exposure.html", viewer.language, viewer, report=report, scope=scope, today=today, least=least)


def least_exposed(engine: Engine) -> list[tuple[str, int]]:
    """Analysts and leads, least exposed to sensitive content today first (name, views)."""
    with DbSession(engine) as db:
        people = [u.name for u in auth.list_users(db) if u.disabled_at is None and u.role in RESPONDERS]
    return exposures.least_exposed_today(engine, people)


def _problem(request: Request, viewer: Viewer, status: int, message: str) -> Response:
    return page(request, "error.html", viewer.language, viewer, status=status, message=message)
