"""The web console: HTML pages for analysts, leads and auditors, served by the API's app.

Pages: the queue (/), intake (/intake), an incident (/incidents/{id}) with its action forms and its post-incident
review (/incidents/{id}/review), the approval inbox (/approvals), trends and recommendations
(/trends), the weekly report (/reports/weekly), an incident's audit (/incidents/{id}/audit;
/audit to start from) and people and tokens for admins (/admin/users), in English and Spanish;
sign-in with an API token. The console has no rules of its own: it reads through the API's
functions and acts through the API's action handler, so what a person may do, and why not, is the same everywhere.

`install(app, config)` adds the pages, /static and the sign-in redirect to an app.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from vigil.api.errors import add_handler
from vigil.config import Settings
from vigil.console import (
    admin,
    approvals,
    audit,
    bulk,
    incident,
    intake,
    live,
    on_call,
    queue,
    reports,
    reviews,
    sign_in,
    trends,
    views,
    wellbeing,
)
from vigil.console.render import page
from vigil.console.session import sealer_for
from vigil.console.viewer import BadCsrf, SignInRequired, current_viewer, language_of, sign_in_url
from vigil.i18n import gettext_for

STATIC = Path(__file__).parent.parent / "static"
ROUTERS = [
    sign_in.router,
    queue.router,
    views.router,
    bulk.router,
    intake.router,
    reviews.router,
    incident.router,
    approvals.router,
    audit.router,
    admin.router,
    trends.router,
    reports.router,
    live.router,
    on_call.router,
    wellbeing.router,
]


async def _sign_in_required(request: Request, exc: SignInRequired) -> Response:
    return RedirectResponse(sign_in_url(exc.next_url), status_code=303)


async def _bad_csrf(request: Request, exc: BadCsrf) -> Response:
    viewer = await current_viewer(request)
    language = language_of(request)
    gettext = gettext_for(language)
    message = gettext(
        "This form had expired or did not come from Vigil, so nothing was done. Go back, reload the page and try again."
    )
    return page(request, "error.html", language, viewer, status=403, message=message)


def install(app: FastAPI, config: Settings) -> None:
    app.state.console_sealer = sealer_for(config)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_handler(app, SignInRequired, _sign_in_required)
    add_handler(app, BadCsrf, _bad_csrf)
