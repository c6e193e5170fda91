"""What routes depend on: the database, the Temporal client, and who is calling.

Each route declares who may call it with `allow(...)` and a role set from `vigil.roles`;
actions on an incident are further checked per action type by `lifecycle.permitted`.
"""

from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import Client

from vigil.api.errors import ApiError, forbidden, not_found, unavailable
from vigil.auth import ENROLMENT_PREFIX, Principal, authenticate
from vigil.db.tables import IncidentRow
from vigil.domain import Role
from vigil.roles import may_not
from vigil.workflows.state import is_incident_id

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` from `POST /api/tokens/exchange`")


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine  # set by the app's lifespan
    return engine


def get_session(engine: Engine = Depends(get_engine)) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def get_temporal(request: Request) -> Client:
    client: Client | None = request.app.state.temporal
    if client is None:  # the lifespan is still connecting
        raise unavailable("temporal", "not connected to Temporal yet; retry shortly")
    return client


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many_failures(request: Request) -> ApiError | None:
    """429 for a client that failed too many token attempts lately (vigil.auth.FailedAttempts)."""
    wait = request.app.state.failed_attempts.retry_after(client_address(request))
    if wait is None:
        return None
    return ApiError(
        429,
        "too_many_requests",
        f"too many failed token attempts from this address; retry in {wait} s",
        headers={"Retry-After": str(wait)},
    )


def current_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    engine: Engine = Depends(get_engine),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthorized", "send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"}
        )
    limited = too_many_failures(request)
    if limited is not None:
        raise limited  # before the look-up: a limited client learns nothing about any token
    with Session(engine) as session:
        principal = authenticate(session, credentials.credentials)
    if principal is None:
        request.app.state.failed_attempts.failed(client_address(request), credentials.credentials)
        detail = "unknown, revoked or disabled token"
        if credentials.credentials.startswith(ENROLMENT_PREFIX):
            detail = "an enrolment secret acts on nothing: exchange it for your token at POST /api/tokens/exchange"
        raise ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
    return principal


def allow(roles: frozenset[Role], doing: str) -> Callable[..., Principal]:
    """A dependency: the caller, if their role is in `roles`; else 403 saying what they tried."""

    def check(user: Principal = Depends(current_user)) -> Principal:
        if user.role not in roles:
            raise forbidden(may_not(user.role, doing))
        return user

    return check


def whole_number(text: str | None, max_digits: int = 9) -> int | None:
    """The number a query, form or header field holds, or None. ASCII digits only: str.isdigit
    also accepts "²", which int() then refuses (a 500, where the field is simply not a number)."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > max_digits:
        return None
    return int(text)


def check_incident_id(incident_id: str) -> None:
    """A path id that cannot be an incident's is simply not found (and never reaches Temporal)."""
    if not is_incident_id(incident_id):
        raise not_found(f"no incident {incident_id[:40]}")


def projected_incident(engine: Engine, incident_id: str) -> IncidentRow | None:
    """The incident's row in the SQL projection, if it has one yet."""
    with Session(engine) as session:
        return session.get(IncidentRow, incident_id)
