"""People and tokens, for admins (/admin/users): who has an account, in which role, whether they
have enrolled, their tokens; add a person, issue a new enrolment secret, revoke a token or all
of a person's tokens (which signs them out of the console at once: every request checks the token).

Nobody acts as anybody else: adding a person, or a new secret for one, gives the admin an
enrolment secret (vigil.auth), which acts on nothing; its person exchanges it, once, for a token
of their own (`vigil users enrol`, POST /api/tokens/exchange). The secret is shown once: the form
answers with a redirect (post/redirect/get) and the secret travels to the next page in a cookie
sealed with the session's key, which that page clears, so a reload never shows it again.
"""

import json
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import InvalidToken
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session as DbSession

from vigil import auth
from vigil.api.errors import ApiError, invalid
from vigil.api.routers import users as users_api
from vigil.api.schemas import Enrolment
from vigil.console import flash
from vigil.console.refusals import in_words
from vigil.console.render import aware, page
from vigil.console.session import clear_cookie, set_cookie
from vigil.console.viewer import Viewer, check_csrf, signed_in
from vigil.db.tables import TokenRow, UserRow
from vigil.domain import HUMAN_ROLES, Language
from vigil.i18n import _, gettext_for
from vigil.roles import ADMINS, may_not

router = APIRouter()

HOME = "/admin/users"
SECRET_COOKIE = "vigil_enrolment"
SECRET_SECONDS = 120  # long enough to follow the redirect; the page clears it at once
DONE = {
    "user_added": _("Added. Give them the enrolment secret below; it is shown only this once."),
    "enrolment_issued": _("A new enrolment secret was issued; it is shown only this once."),
    "tokens_revoked": _("Their tokens were revoked: they are signed out everywhere."),
    "token_revoked": _("The token was revoked."),
}


# ---------------------------------------------------------------------------- reading


def enrolment_state(tokens: list[TokenRow], now: datetime) -> str:
    """'enrolled' (they hold a token of their own), 'waiting' (a live secret not yet exchanged) or 'not enrolled'."""
    if any(t.kind == auth.ACCESS for t in tokens):
        return "enrolled"
    live = [t.expires_at for t in tokens if t.used_at is None and t.revoked_at is None]
    return "waiting" if any(expires is not None and aware(expires) > now for expires in live) else "not enrolled"


def _people(request: Request) -> tuple[list[UserRow], dict[str, list[TokenRow]]]:
    with DbSession(request.app.state.engine, expire_on_commit=False) as db:
        return auth.list_users(db), auth.tokens_by_user(db)


def _shown_secret(request: Request) -> Enrolment | None:
    """The secret the last form issued, if this page follows it (and the cookie is genuine)."""
    cookie = request.cookies.get(SECRET_COOKIE)
    if not cookie or len(cookie) > 4096:
        return None
    try:
        data = json.loads(request.app.state.console_sealer.decrypt(cookie.encode(), ttl=SECRET_SECONDS))
        return Enrolment.model_validate(data)
    except (InvalidToken, ValueError):
        return None


async def _users_page(
    request: Request, viewer: Viewer, status: int = 200, error: str | None = None, values: Any = None
) -> Response:
    if viewer.role not in ADMINS:
        message = in_words(may_not(viewer.role, "manage users"), viewer.language)
        return page(request, "error.html", viewer.language, viewer, status=403, message=message)
    people, tokens = await run_in_threadpool(_people, request)
    secret = _shown_secret(request) if status == 200 else None
    done = flash.take(request)
    response = page(
        request,
        "admin_users.html",
        viewer.language,
        viewer,
        status=status,
        people=people,
        tokens=tokens,
        enrolment=lambda name: enrolment_state(tokens.get(name, []), datetime.now(UTC)),
        current=auth.hash_token(viewer.token),
        secret=secret,
        done=DONE.get(done or "") if not error else None,
        error=error,
        values=values or {},
        roles=[r.value for r in HUMAN_ROLES],
        languages=[lang.value for lang in Language],
    )
    if SECRET_COOKIE in request.cookies:
        clear_cookie(response, request, SECRET_COOKIE, path=HOME)
    return response


@router.get(HOME)
async def users_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    return await _users_page(request, viewer)


# ---------------------------------------------------------------------------- acting


async def _form(request: Request, viewer: Viewer) -> dict[str, str]:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(viewer, form)
    return form


def _with_secret(request: Request, enrolment: Enrolment, done: str) -> Response:
    response = flash.redirect(request, HOME, done)
    sealed = request.app.state.console_sealer.encrypt(enrolment.model_dump_json().encode()).decode()
    set_cookie(response, request, SECRET_COOKIE, sealed, max_age=SECRET_SECONDS, path=HOME)
    return response


def _add(request: Request, viewer: Viewer, form: dict[str, str]) -> Enrolment:
    try:
        body = users_api.NewUser.model_validate(
            {
                "name": form.get("name", "").strip(),
                "role": form.get("role", ""),
                "language": form.get("language") or "en",
                "email": form.get("email", "").strip() or None,
            }
        )
    except ValidationError as wrong:
        first = wrong.errors()[0]
        raise invalid(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    with DbSession(request.app.state.engine) as db:
        return users_api.add_user(body, user=viewer.principal, session=db)  # the API's own handler


@router.post(HOME)
async def add_user(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    form = await _form(request, viewer)
    gettext = gettext_for(viewer.language)
    if viewer.role not in ADMINS:
        return await _users_page(request, viewer)  # the 403 page
    try:
        enrolment = await run_in_threadpool(_add, request, viewer, form)
    except ApiError as refused:
        message = gettext("Not added: %(reason)s") % {"reason": in_words(refused.detail, viewer.language)}
        return await _users_page(request, viewer, refused.status, message, form)
    return _with_secret(request, enrolment, "user_added")


def _new_secret(request: Request, viewer: Viewer, name: str) -> Enrolment:
    with DbSession(request.app.state.engine) as db:
        return users_api.new_token(name, user=viewer.principal, session=db)


@router.post(HOME + "/{name}/enrolment")
async def new_enrolment(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:
    await _form(request, viewer)
    if viewer.role not in ADMINS:
        return await _users_page(request, viewer)
    try:
        enrolment = await run_in_threadpool(_new_secret, request, viewer, name[:64])
    except ApiError as refused:
        return await _refusal(request, viewer, refused.status, in_words(refused.detail, viewer.language))
    return _with_secret(request, enrolment, "enrolment_issued")


async def _refusal(request: Request, viewer: Viewer, status: int, reason: str) -> Response:
    """The page again, saying why nothing was done (`reason` in the reader's language)."""
    message = gettext_for(viewer.language)("Not done: %(reason)s") % {"reason": reason}
    return await _users_page(request, viewer, status, message)


def _revoke_all(request: Request, name: str) -> bool:
    with DbSession(request.app.state.engine) as db:
        if auth.find_user(db, name) is None:
            return False
        auth.revoke_tokens(db, name)
        return True


@router.post(HOME + "/{name}/revoke")
async def revoke_all(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:
    """Every token of a person: their console sessions end at once, wherever they are."""
    await _form(request, viewer)
    if viewer.role not in ADMINS:
        return await _users_page(request, viewer)
    gettext = gettext_for(viewer.language)
    if name.lower() == viewer.name.lower():
        return await _refusal(request, viewer, 409, gettext("you cannot revoke all your own tokens: sign out instead"))
    if not await run_in_threadpool(_revoke_all, request, name[:64]):
        return await _refusal(request, viewer, 404, gettext("there is no user %(name)s") % {"name": name[:64]})
    return flash.redirect(request, HOME, "tokens_revoked")


def _revoke_one(request: Request, name: str, token_hash: str) -> bool:
    with DbSession(request.app.state.engine) as db:
        return auth.revoke_token(db, name, token_hash)


@router.post(HOME + "/{name}/tokens/revoke")
async def revoke_one(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:
    form = await _form(request, viewer)
    if viewer.role not in ADMINS:
        return await _users_page(request, viewer)
    gettext = gettext_for(viewer.language)
    token_hash = form.get("token", "")[:64]
    if token_hash == auth.hash_token(viewer.token):
        return await _refusal(
            request, viewer, 409, gettext("this is the token you are signed in with: sign out instead")
        )
    if not await run_in_threadpool(_revoke_one, request, name[:64], token_hash):
        missing = gettext("%(name)s has no live token %(id)s") % {"name": name[:64], "id": token_hash[:12]}
        return await _refusal(request, viewer, 404, missing)
    return flash.redirect(request, HOME, "token_revoked")
