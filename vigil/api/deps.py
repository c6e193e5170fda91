"""What routes depend on: the database, the Temporal client, and who is calling.

The role matrix lives here too, as named sets that each route declares with `allow(...)`;
actions on an incident are further checked per action type by `lifecycle.permitted`.
"""

from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.client import Client

from vigil.api.errors import ApiError, forbidden, unavailable
from vigil.auth import Principal, authenticate
from vigil.domain import Role

# The role matrix (see README "Roles"): who may call which kind of endpoint.
READERS = frozenset({Role.ANALYST, Role.LEAD, Role.AUDITOR, Role.ADMIN})  # read everything
RESPONDERS = frozenset({Role.ANALYST, Role.LEAD})  # take intake and act on incidents
ADMINS = frozenset({Role.ADMIN})  # manage users and tokens

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` from `vigil users add`")


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(engine: Engine = Depends(get_engine)) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def get_temporal(request: Request) -> Client:
    client = request.app.state.temporal
    if client is None:  # the lifespan is still connecting
        raise unavailable("temporal", "not connected to Temporal yet; retry shortly")
    return client


def current_user(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    engine: Engine = Depends(get_engine),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthorized", "send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"}
        )
    with Session(engine) as session:
        principal = authenticate(session, credentials.credentials)
    if principal is None:
        raise ApiError(
            401, "unauthorized", "unknown, revoked or disabled token", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def allow(roles: frozenset[Role], doing: str) -> Callable[..., Principal]:
    """A dependency: the caller, if their role is in `roles`; else 403 saying what they tried."""

    def check(user: Principal = Depends(current_user)) -> Principal:
        if user.role not in roles:
            article = "an" if user.role.value[0] in "aeiou" else "a"
            raise forbidden(f"{article} {user.role} may not {doing}")
        return user

    return check
