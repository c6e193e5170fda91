"""Bulk assign and bulk merge from the queue: choose incidents, confirm, and each one goes the way
a single action goes.

The queue's checkboxes and action bar ask for GET /bulk, a confirmation that lists the chosen
incidents and what will happen to each; its form posts to /bulk, which sends one action per
incident through the API's own action handler (the role check, the input checks, then a workflow
update signed as the viewer: the state machine decides each), and the page that follows says per
incident what was done or why it was refused, in words. The confirmation carries a key, so
sending it twice (a reload, a double click) applies each action once and repeats its answer.
"""

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import FormData, QueryParams
from temporalio.service import RPCError

from vigil.api.errors import ApiError
from vigil.api.listing import IncidentQuery, list_incidents
from vigil.api.routers import incidents as incidents_api
from vigil.console import forms, masking, refusals
from vigil.console.render import page
from vigil.console.viewer import Viewer, check_csrf, signed_in
from vigil.i18n import _, gettext_for
from vigil.roles import may_not
from vigil.workflows.actions import HUMAN_ACTION_ADAPTER, HumanAction
from vigil.workflows.state import is_incident_id

log = logging.getLogger("vigil.console")
router = APIRouter()

TEMPORAL_FAILED = _("Temporal did not answer; sending the same confirmation again is safe: nothing is done twice")
MAX_CHOSEN = 100  # a page of the queue holds at most 200; a bulk action this large is a mistake
KINDS = {"assign": "assign", "merge_into": "merge into"}  # bulk action -> what a refusal calls doing it
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,40}$")


@dataclass
class Plan:
    """What the viewer chose: one action, for each of these incidents."""

    kind: str  # a key of KINDS
    ids: list[str]
    assignee: str
    target: str  # merge_into: the incident the others are merged into

    def action(self) -> HumanAction:
        """The action as the API takes it (raises ValidationError for a bad assignee or target)."""
        body: dict[str, Any] = {"type": self.kind}
        body |= {"assignee": self.assignee} if self.kind == "assign" else {"incident_id": self.target}
        return HUMAN_ACTION_ADAPTER.validate_python(body)


def _plan(params: QueryParams | FormData) -> Plan | None:
    kind = str(params.get("bulk") or "")
    chosen = [str(i) for i in params.getlist("id") if isinstance(i, str) and is_incident_id(i)]
    if kind not in KINDS or not chosen:
        return None
    ids = list(dict.fromkeys(chosen))[:MAX_CHOSEN]
    assignee, target = (str(params.get(name) or "").strip()[:64] for name in ("assignee", "incident_id"))
    return Plan(kind=kind, ids=ids, assignee=assignee, target=target.upper())


def _chosen(request: Request, ids: list[str]) -> list[Any]:
    """The chosen incidents as the queue lists them (from the projection), in the order chosen."""
    with DbSession(request.app.state.engine) as db:
        rows, _next = list_incidents(db, IncidentQuery(ids=ids, limit=MAX_CHOSEN))
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def _error(request: Request, viewer: Viewer, status: int, message: str) -> Response:
    return page(request, "error.html", viewer.language, viewer, status=status, message=message)


def _checked(request: Request, viewer: Viewer, plan: Plan | None) -> tuple[Plan, HumanAction] | Response:
    """The plan and its action, or the page that says why there is nothing to confirm."""
    gettext = gettext_for(viewer.language)
    if plan is None:
        return _error(request, viewer, 422, gettext("Choose one or more incidents in the queue, then an action."))
    if not viewer.may(plan.kind):
        reason = refusals.in_words(may_not(viewer.role, KINDS[plan.kind]), viewer.language)
        return _error(request, viewer, 403, gettext("Not done: %(reason)s") % {"reason": reason})
    try:
        return plan, plan.action()
    except ValidationError:
        missing = (
            _("Choose whom to assign them to.") if plan.kind == "assign" else _("Give the incident to merge into.")
        )
        return _error(request, viewer, 422, gettext(missing))


@dataclass
class Result:
    incident_id: str
    done: bool
    said: str  # what was done, or why not, in the viewer's language


@router.get("/bulk")
async def confirm(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    checked = _checked(request, viewer, _plan(request.query_params))
    if isinstance(checked, Response):
        return checked
    plan, _action = checked
    return await _page(request, viewer, plan, key=secrets.token_urlsafe(18), results=None)


async def _page(request: Request, viewer: Viewer, plan: Plan, key: str, results: list[Result] | None) -> Response:
    """The confirmation (no results yet) or what happened: the chosen incidents as the queue lists them."""
    chosen = await run_in_threadpool(_chosen, request, plan.ids)
    seen = await run_in_threadpool(masking.titles_seen, request.app.state.engine, viewer.name, plan.ids)
    rows = masking.mask_rows(chosen, viewer.language, seen)  # as in the queue they were chosen from
    known = {row.id for row in rows}
    return page(
        request,
        "bulk.html",
        viewer.language,
        viewer,
        plan=plan,
        rows=rows,
        titles={row.id: row.title for row in rows},
        unknown=[i for i in plan.ids if i not in known],
        key=key,
        results=results,
    )


async def _apply(request: Request, viewer: Viewer, action: HumanAction, incident_id: str, key: str) -> Result:
    """One incident's action, through the API's own handler, exactly as the incident page sends it."""
    gettext = gettext_for(viewer.language)
    try:
        temporal = request.app.state.temporal
        if temporal is None:
            raise ApiError(503, "temporal_unavailable", "not connected to Temporal yet; retry shortly")
        await incidents_api.act(
            incident_id=incident_id,
            action=action,
            user=viewer.principal,
            temporal=temporal,
            engine=request.app.state.engine,
            idempotency_key=f"bulk-{key}-{incident_id}",  # the same confirmation again: answered once
        )
    except ApiError as refused:
        return Result(incident_id, False, refusals.in_words(refused.detail, viewer.language))
    except RPCError as failed:  # Temporal away for this one: the others still get their answer
        log.warning("bulk %s on %s: Temporal answered %s", action.type, incident_id, failed)
        return Result(incident_id, False, gettext(TEMPORAL_FAILED))
    return Result(incident_id, True, gettext(forms.DONE[action.type]))


@router.post("/bulk")
async def apply(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    form = await request.form()
    check_csrf(viewer, {k: v for k, v in form.items() if isinstance(v, str)})
    checked = _checked(request, viewer, _plan(form))
    if isinstance(checked, Response):
        return checked
    plan, action = checked
    key = str(form.get("key") or "")
    key = key if _KEY.match(key) else secrets.token_urlsafe(18)
    results = [await _apply(request, viewer, action, incident_id, key) for incident_id in plan.ids]
    return await _page(request, viewer, plan, key, results)
