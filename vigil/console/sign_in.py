"""Signing in and out, and choosing the console's language."""

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session as DbSession

from vigil.api.deps import client_address, too_many_failures
from vigil.auth import Principal, authenticate
from vigil.console.render import page
from vigil.console.session import (
    LANGUAGE_COOKIE,
    LANGUAGE_SECONDS,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Session,
    clear_cookie,
    new_session,
    revoke,
    same_token,
    seal,
    set_cookie,
)
from vigil.console.viewer import Viewer, check_csrf, current_viewer, language_of, safe_next, signed_in
from vigil.i18n import LANGUAGES, _

router = APIRouter()

WRONG_TOKEN = _("That token is unknown, revoked or belongs to a disabled user.")
FORM_EXPIRED = _("The sign-in form had expired. Please paste your token again.")
TOO_MANY = _("Too many wrong tokens from this address. Wait a few minutes, then try again.")


def _sign_in_form(request: Request, next_url: str, error: str | None = None, status: int = 200) -> Response:
    """The form, with a fresh nonce in a cookie and in the form (double submit)."""
    nonce = secrets.token_urlsafe(24)
    response = page(
        request, "sign_in.html", language_of(request), status=status, nonce=nonce, next_url=next_url, error=error
    )
    set_cookie(response, request, SIGN_IN_COOKIE, nonce, path="/sign-in")
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str = "/") -> Response:
    next_url = safe_next(next)
    if await current_viewer(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return _sign_in_form(request, next_url)


def _authenticate(request: Request, token: str) -> Principal | None:
    with DbSession(request.app.state.engine) as db:
        return authenticate(db, token)


def _revoke(request: Request, session: Session) -> None:
    with DbSession(request.app.state.engine) as db:
        revoke(db, session)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    next_url = safe_next(form.get("next"))
    if not same_token(request.cookies.get(SIGN_IN_COOKIE, ""), form.get("nonce")):
        return _sign_in_form(request, next_url, FORM_EXPIRED, status=403)
    token = str(form.get("token") or "").strip()
    limited = too_many_failures(request)  # the API's limit on failed token attempts, shared
    if limited is not None:
        response = _sign_in_form(request, next_url, TOO_MANY, status=429)
        response.headers.update(limited.headers or {})
        return response
    principal = await run_in_threadpool(_authenticate, request, token) if token else None
    if principal is None:
        request.app.state.failed_attempts.failed(client_address(request), token)
        return _sign_in_form(request, next_url, WRONG_TOKEN, status=401)
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, seal(request.app.state.console_sealer, new_session(token)))
    clear_cookie(response, request, SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    check_csrf(viewer, dict(await request.form()))
    await run_in_threadpool(_revoke, request, viewer.session)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.get("/language/{language}")
async def choose_language(request: Request, language: str, next: str = "/") -> Response:
    """The language switch: remembered in a cookie for a year. A link, so it works signed out too;
    choosing a language changes nothing but how pages read."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in LANGUAGES:
        set_cookie(response, request, LANGUAGE_COOKIE, language, max_age=LANGUAGE_SECONDS)
    return response
