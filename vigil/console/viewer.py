"""Who is looking at a console page, and in which language.

`signed_in` is the dependency every console page takes: the session cookie's token is
authenticated again on each request (vigil.auth, the API's own check), so a revoked token or a
disabled user is signed out at once. Without a valid session the page answers with a redirect
to the sign-in form, which brings the person back where they were going.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session as DbSession

from vigil import need_to_know, roles
from vigil.api.routers.exposure import Today, today_of
from vigil.api.waiting import Waiting, waiting_for
from vigil.auth import Principal, authenticate
from vigil.console.session import LANGUAGE_COOKIE, SESSION_COOKIE, Session, revoked, same_token, unseal
from vigil.domain import Role
from vigil.i18n import LANGUAGES, negotiate
from vigil.workflows import lifecycle


class SignInRequired(Exception):
    """Raised by `signed_in`; the console answers with a redirect to the sign-in form."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


class BadCsrf(Exception):
    """A form post without the session's CSRF token: refused, nothing done."""


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    session: Session
    language: str
    # The navigation's counts; console.js keeps them current.
    waiting: Waiting = field(default_factory=lambda: Waiting(approvals=0, assigned=0))
    # Sensitive content seen today, against the policy's soft limit (the break prompt).
    today: Today | None = None

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def token(self) -> str:
        return self.session.token

    def may(self, action_type: str) -> bool:
        """Whether this role may ever take the action (the API's own role check)."""
        return lifecycle.permitted(self.role, action_type)

    @property
    def acts(self) -> bool:
        """Analysts and leads act; auditors and admins read."""
        return self.may("add_note")

    @property
    def audits(self) -> bool:
        """Reads raw histories, replays and seals (vigil.roles.AUDITORS): the audit pages' navigation."""
        return self.role in roles.AUDITORS

    @property
    def administers(self) -> bool:
        """Manages people and tokens (vigil.roles.ADMINS)."""
        return self.role in roles.ADMINS

    @property
    def sees_reporters(self) -> bool:
        """Who reported an incident is need-to-know (vigil.need_to_know)."""
        return need_to_know.sees_reporter(self.role)


def language_of(request: Request) -> str:
    """The language the person chose (a cookie, set by the switch), else their browser's."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language"))


def here(request: Request) -> str:
    """This page's path and query, to come back to after signing in or switching language."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: object, default: str = "/") -> str:
    """A local path to go to next; anything else (other sites, '//host', schemes) goes home."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 32 for c in value):
        return default
    return value


def sign_in_url(next_url: str) -> str:
    return "/sign-in" if next_url == "/" else f"/sign-in?next={quote(next_url, safe='/')}"


def _principal(engine: Engine, session: Session) -> tuple[Principal, Waiting, Today] | None:
    with DbSession(engine) as db:
        if revoked(db, session):  # signed out: the cookie no longer opens anything
            return None
        principal = authenticate(db, session.token)
        if principal is None:
            return None
        waiting = waiting_for(db, principal)
    return principal, waiting, today_of(engine, principal.name)


async def current_viewer(request: Request) -> Viewer | None:
    session = unseal(request.app.state.console_sealer, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    found = await run_in_threadpool(_principal, request.app.state.engine, session)
    if found is None:
        return None
    principal, waiting, today = found
    return Viewer(principal=principal, session=session, language=language_of(request), waiting=waiting, today=today)


async def signed_in(request: Request) -> Viewer:
    """The dependency of every console page: the viewer, or a redirect to sign in."""
    viewer = await current_viewer(request)
    if viewer is None:
        # After a form post the session had expired: back to the page, not to the post.
        raise SignInRequired(here(request) if request.method == "GET" else "/")
    return viewer


def check_csrf(viewer: Viewer, form: Mapping[str, object]) -> None:
    if not same_token(viewer.csrf, form.get("csrf")):
        raise BadCsrf()
