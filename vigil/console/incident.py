"""The incident page, and the action forms posted from it (and from the approval inbox).

Reading: the state as the API reads it (`read_incident`: the projection, at least as new as the
`seq` the viewer's own last action answered with) and the timeline from GET /api/incidents/{id}/timeline, asked
in-process with the viewer's own token, so the console shows whatever the API's timeline
becomes (it is being rebuilt from Temporal's history) without knowing how it is made.

Acting: a posted form becomes the API's own action model and goes through the API's own action
handler (the same input checks, then incident_client.act with the viewer as actor), so a refusal
here is the state machine's, word for word, with the API's status code, and in the journal.
"""

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session as DbSession

from vigil import auth
from vigil.api.deps import whole_number
from vigil.api.errors import ApiError
from vigil.api.routers import incidents as incidents_api
from vigil.api.routers.notifications import NotificationItem, incident_notifications
from vigil.api.schemas import web_url
from vigil.audit import watchdog
from vigil.config import settings
from vigil.console import flash, forms, masking, refusals, urgency, wellbeing
from vigil.console.render import current_policy, page
from vigil.console.viewer import Viewer, check_csrf, safe_next, signed_in
from vigil.domain import EnforcementAction, Resolution, Severity, Team
from vigil.i18n import _, gettext_for
from vigil.roles import AUDITORS, RESPONDERS
from vigil.workflows.state import Incident, IncidentId, ProposalStatus

router = APIRouter()

_INCIDENT_ID: TypeAdapter[str] = TypeAdapter(IncidentId)

PROPOSAL_STATUS = {
    ProposalStatus.PENDING: _("waiting for approval"),
    ProposalStatus.APPROVED: _("approved"),
    ProposalStatus.REJECTED: _("rejected"),
    ProposalStatus.EXPIRED: _("expired"),
    ProposalStatus.DONE: _("carried out"),
    ProposalStatus.FAILED: _("failed"),
}


def _valid_id(incident_id: str) -> bool:
    try:
        _INCIDENT_ID.validate_python(incident_id)
    except ValidationError:
        return False
    return True


async def _timeline(request: Request, viewer: Viewer, incident_id: str) -> list[dict[str, Any]] | None:
    """The API's timeline, in the viewer's language; None if it could not be read."""
    transport = httpx.ASGITransport(app=request.app)
    headers = {"Authorization": f"Bearer {viewer.token}", "Accept-Language": viewer.language}
    async with httpx.AsyncClient(transport=transport, base_url="http://console.internal") as client:
        response = await client.get(f"/api/incidents/{incident_id}/timeline", headers=headers)
    if response.status_code != 200:
        return None
    return response.json()["entries"]


def _notifications(request: Request, incident_id: str) -> list[NotificationItem]:
    with DbSession(request.app.state.engine) as db:
        return incident_notifications(db, incident_id)


def _people(request: Request) -> list[str]:
    """Who can be assigned an incident: enabled analysts and leads."""
    with DbSession(request.app.state.engine) as db:
        return [u.name for u in auth.list_users(db) if u.disabled_at is None and u.role in RESPONDERS]


async def _incident_page(
    request: Request,
    viewer: Viewer,
    incident_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    failed_form: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    gettext = gettext_for(viewer.language)
    if not _valid_id(incident_id):
        return _error_page(request, viewer, 404, gettext("There is no incident %(id)s.") % {"id": incident_id[:40]})
    try:
        incident = await incidents_api.read_incident(
            request.app.state.engine, incident_id, _seen(request), reader=viewer.role
        )
    except ApiError as failure:
        message = failure.detail
        if failure.status == 404:
            message = gettext("There is no incident %(id)s.") % {"id": incident_id}
        return _error_page(request, viewer, failure.status, message)
    await run_in_threadpool(
        masking.title_read, request.app.state.engine, viewer.name, incident.id, incident.intake.category
    )
    timeline = await _timeline(request, viewer, incident_id)
    check = await run_in_threadpool(watchdog.replay_check, request.app.state.engine, incident_id)
    people = await run_in_threadpool(_people, request)
    notifications = await run_in_threadpool(_notifications, request, incident_id)
    done = flash.take(request)
    policy = current_policy()
    now = datetime.now(UTC)
    offer = forms.offer(viewer, incident, policy, people, now)
    taking = forms.take(viewer, incident.status, incident.assignee)
    # Evidence and content links, veiled where the policy says they are sensitive (console/wellbeing.py).
    care = await wellbeing.evidence_context(request, viewer, incident)
    return page(
        request,
        "incident.html",
        viewer.language,
        viewer,
        status=status,
        incident=incident,
        timeline=timeline,
        people=people,
        forms=offer.forms,
        allowed=lambda kind, values: [v for v in values if kind not in offer.choices or str(v) in offer.choices[kind]],
        choices=offer.choices,
        withheld={kind: refusals.in_words(reason, viewer.language) for kind, reason in offer.withheld.items()},
        taking=taking if taking in offer.forms else None,
        not_actioned=refusals.in_words(offer.refused_choices.get("resolve", {}).get("actioned", ""), viewer.language),
        clocks=urgency.by_urgency(incident.clocks, now),
        sor_required=forms.statement_required_for(incident, policy),
        may_decide=forms.may_decide(viewer, incident),
        titles=forms.TITLES,
        done=forms.DONE.get(done) if done and not error else None,
        error=error,
        diverged=check if check is not None and check.result != "ok" else None,
        failed_form=failed_form,
        values=values or {},
        web_links={c.url for c in incident.intake.content if web_url(c.url)},  # others: text, never a link
        teams=list(Team),
        severities=list(Severity),
        resolutions=list(Resolution),
        enforcement_actions=list(EnforcementAction),
        engaged=_engaged(incident),
        proposal_status=PROPOSAL_STATUS,
        notifications=notifications,
        mail_configured=bool(settings().smtp_url),
        temporal_link=_temporal_link(viewer, incident_id),
        **care,
    )


def _temporal_link(viewer: Viewer, incident_id: str) -> str | None:
    """The incident's workflow in the Temporal Web UI (VIGIL_TEMPORAL_UI_URL), for those who read
    raw histories (vigil.roles.AUDITORS); None when unset."""
    config = settings()
    if not config.temporal_ui_url or viewer.role not in AUDITORS:
        return None
    return f"{config.temporal_ui_url}/namespaces/{quote(config.temporal_namespace)}/workflows/{quote(incident_id)}"


def _seen(request: Request) -> int:
    """The `seq` the viewer's last action answered with (0 when absent or not a number)."""
    return whole_number(request.query_params.get("seen")) or 0


def _engaged(incident: Incident) -> list[Team]:
    """Teams whose answer can be recorded: asked and not closed; those still waiting first."""
    open_ = [e for e in incident.teams if e.closed_reason is None]
    ordered = [e.team for e in open_ if e.waiting] + [e.team for e in open_ if not e.waiting]
    return list(dict.fromkeys(ordered))


def _error_page(request: Request, viewer: Viewer, status: int, message: str) -> Response:
    return page(request, "error.html", viewer.language, viewer, status=status, message=message)


@router.get("/incidents/{incident_id}")
async def incident_page(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    return await _incident_page(request, viewer, incident_id)


@router.post("/incidents/{incident_id}/actions")
async def act(request: Request, incident_id: str, viewer: Viewer = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    next_url = safe_next(form.get("next"), default=f"/incidents/{incident_id}")
    action_type = form.get("type", "")
    try:
        action = forms.parse(form, viewer.language)
    except forms.FormError as invalid:
        return await _incident_page(
            request,
            viewer,
            incident_id,
            status=422,
            error=invalid.message,
            failed_form=action_type,
            values=invalid.values,
        )
    temporal = request.app.state.temporal
    try:
        if temporal is None:
            raise ApiError(503, "temporal_unavailable", "not connected to Temporal yet; retry shortly")
        # The API's own handler: the same role check, input checks and refusals as POST .../actions.
        answer = await incidents_api.act(
            incident_id=incident_id,
            action=action,
            user=viewer.principal,
            temporal=temporal,
            engine=request.app.state.engine,
        )
    except ApiError as refused:
        values = {k: v for k, v in form.items() if k not in ("csrf", "type", "next")}
        gettext = gettext_for(viewer.language)
        message = gettext("Not done: %(reason)s") % {"reason": refusals.in_words(refused.detail, viewer.language)}
        return await _incident_page(
            request, viewer, incident_id, status=refused.status, error=message, failed_form=action_type, values=values
        )
    # `seen`: the page after the redirect shows at least the state this action answered with;
    # what was done is said once, by the flash cookie (a reload does not say it again).
    next_url = re.sub(r"([?&])seen=\d+&?", r"\1", next_url).rstrip("?&")
    separator = "&" if "?" in next_url else "?"
    return flash.redirect(request, f"{next_url}{separator}seen={answer.seq}", action.type)
