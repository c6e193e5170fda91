"""Intake from the console: a new incident, taken in by the API's own handler.

The form is the JSON intake's fields (title, description, channel, category, region, language,
reach, content links, reporter, external reference); what the API refuses (422 with its field,
409 for a reference already used with another body) is shown on the form, kept as typed.
"""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from vigil.api.errors import ApiError
from vigil.api.routers import incidents as incidents_api
from vigil.console import flash
from vigil.console.refusals import in_words
from vigil.console.render import page
from vigil.console.viewer import Viewer, check_csrf, signed_in
from vigil.domain import Category, Channel, Language, Region
from vigil.i18n import gettext_for
from vigil.roles import RESPONDERS, may_not
from vigil.workflows.state import Intake

router = APIRouter()

_FIELDS = ("title", "description", "channel", "category", "region", "language", "reach", "external_ref")


def _form_page(
    request: Request, viewer: Viewer, status: int = 200, error: str | None = None, values: Any = None
) -> Response:
    return page(
        request,
        "intake.html",
        viewer.language,
        viewer,
        status=status,
        error=error,
        values=values or {},
        channels=list(Channel),
        categories=list(Category),
        regions=list(Region),
        languages=list(Language),
        may_take_in=viewer.role in RESPONDERS,
    )


def intake_of(form: dict[str, str]) -> Intake:
    """The form as the API's intake body; ValidationError names the field that is wrong."""
    body: dict[str, Any] = {k: form[k].strip() for k in _FIELDS if form.get(k, "").strip()}
    links = [line.strip() for line in form.get("content", "").splitlines() if line.strip()]
    body["content"] = [{"url": url, "graphic": form.get("graphic") == "on"} for url in links]
    if form.get("reporter_name", "").strip() or form.get("reporter_email", "").strip():
        body["reporter"] = {
            "name": form.get("reporter_name", "").strip() or None,
            "email": form.get("reporter_email", "").strip() or None,
        }
    return Intake.model_validate(body)


@router.get("/intake")
async def intake_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    return _form_page(request, viewer)


@router.post("/intake")
async def take_in(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    gettext = gettext_for(viewer.language)
    if viewer.role not in RESPONDERS:
        return _form_page(request, viewer, 403, in_words(may_not(viewer.role, "take in incidents"), viewer.language))
    try:
        intake = intake_of(form)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = gettext("Not taken in: %(reason)s") % {"reason": f"{where}: {first['msg']}"}
        return _form_page(request, viewer, 422, message, form)
    temporal = request.app.state.temporal
    try:
        if temporal is None:
            raise ApiError(503, "temporal_unavailable", "not connected to Temporal yet; retry shortly")
        opened = await incidents_api.create_incident(
            intake, request, Response(), user=viewer.principal, temporal=temporal, engine=request.app.state.engine
        )
    except ApiError as refused:
        message = gettext("Not taken in: %(reason)s") % {"reason": in_words(refused.detail, viewer.language)}
        return _form_page(request, viewer, refused.status, message, form)
    return flash.redirect(request, f"/incidents/{opened.id}?seen={opened.seq}", "intake")
