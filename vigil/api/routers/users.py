"""/api/me, /api/users and /api/tokens: who you are; people and tokens (admins manage, everyone
may read, so an analyst can see whom to assign). What an admin issues for someone else is an
enrolment secret, which acts on nothing: its person exchanges it at /api/tokens/exchange."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vigil import auth
from vigil.api.deps import allow, client_address, current_user, get_session, too_many_failures
from vigil.api.errors import ApiError, conflict, invalid, not_found, responses
from vigil.api.schemas import Enrolment, Me, NewToken, UserList, UserOut
from vigil.auth import EnrolmentRefused, InvalidUser, Principal, UserError
from vigil.db.tables import TokenRow, UserRow
from vigil.domain import Language, Role
from vigil.roles import ADMINS, READERS
from vigil.workflows.state import Username

router = APIRouter(prefix="/api", tags=["users"])

UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Username
    role: Literal["analyst", "lead", "auditor", "admin"]
    language: Language = Language.EN
    email: Annotated[str, Field(pattern=auth.EMAIL_PATTERN, max_length=320)] | None = Field(
        None, description="Where notices to user:NAME go"
    )


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(pattern=auth.EMAIL_PATTERN, max_length=320)] | None = Field(
        description="Where notices to this person go; null: nowhere"
    )


@router.get("/me", response_model=Me, summary="Who this token belongs to", responses=responses())
def me(user: Principal = Depends(current_user)) -> Me:
    return Me(name=user.name, role=user.role, language=user.language)


@router.get("/users", response_model=UserList, summary="People", responses=responses(403))
def list_users(
    user: Principal = Depends(allow(READERS, "list users")), session: Session = Depends(get_session)
) -> UserList:
    return UserList(items=[UserOut.model_validate(u) for u in auth.list_users(session)])


class Exchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: Annotated[str, Field(min_length=1, max_length=200, description="The enrolment secret an admin gave you")]


def _enrolment(session: Session, secret: str) -> Enrolment:
    row = session.get(TokenRow, auth.hash_token(secret))
    user = session.get(UserRow, row.user) if row else None
    assert row is not None and row.expires_at is not None and user is not None
    return Enrolment(user=user.name, role=Role(user.role), secret=secret, expires_at=row.expires_at)


@router.post(
    "/users",
    status_code=201,
    response_model=Enrolment,
    summary="Add a person",
    responses=responses(403, 409, 422),
)
def add_user(
    body: NewUser, user: Principal = Depends(allow(ADMINS, "manage users")), session: Session = Depends(get_session)
) -> Enrolment:
    """Returns their enrolment secret, once: they exchange it for their own token."""
    try:
        secret = auth.add_user(session, body.name, body.role, body.language.value, body.email, issued_by=user.name)
    except InvalidUser as error:
        raise invalid(str(error)) from None
    except UserError as error:
        raise conflict(str(error)) from None
    return _enrolment(session, secret)


@router.post(
    "/users/{name}/tokens",
    status_code=201,
    response_model=Enrolment,
    summary="Issue an enrolment secret for a person",
    responses=responses(403, 404, 409, 422),
)
def new_token(
    name: UserName, user: Principal = Depends(allow(ADMINS, "manage tokens")), session: Session = Depends(get_session)
) -> Enrolment:
    """For someone else: they exchange it, once, for a token of their own (their others keep working)."""
    target = auth.active_user(session, name)
    if target is None:
        raise not_found(f"no enabled user {name}")
    if target.name == user.name:
        raise conflict("an enrolment secret is for someone else: ask another admin, or use `vigil users token`")
    return _enrolment(session, auth.issue_token(session, target.name, issued_by=user.name))


@router.post(
    "/tokens/exchange",
    status_code=201,
    response_model=NewToken,
    summary="Exchange an enrolment secret for your own token",
    responses=responses(401, 409, 429),
)
def exchange(body: Exchange, request: Request, session: Session = Depends(get_session)) -> NewToken:
    """No bearer token: the secret is the credential, good once and until it expires. Guessing
    secrets is limited per client like guessing tokens (429 with Retry-After)."""
    refused = too_many_failures(request)
    if refused is not None:
        raise refused
    try:
        token, person = auth.enrol(session, body.secret)
    except EnrolmentRefused as error:
        if not error.known:
            request.app.state.failed_attempts.failed(client_address(request), body.secret)
            raise ApiError(401, "unauthorized", str(error)) from None
        raise conflict(str(error)) from None
    return NewToken(user=person.name, role=person.role, token=token)


@router.delete(
    "/users/{name}",
    response_model=UserOut,
    summary="Disable a person, revoking their tokens",
    responses=responses(403, 404, 409, 422),
)
def disable(
    name: UserName, user: Principal = Depends(allow(ADMINS, "manage users")), session: Session = Depends(get_session)
) -> UserOut:
    if name.lower() == user.name.lower():
        raise conflict("you cannot disable yourself: ask another admin, or use `vigil users disable`")
    try:
        auth.disable_user(session, name)
    except UserError:
        raise not_found(f"no user {name}") from None
    return UserOut.model_validate(auth.find_user(session, name))


@router.patch(
    "/users/{name}",
    response_model=UserOut,
    summary="Change where notices to a person go",
    responses=responses(403, 404, 422),
)
def change(
    name: UserName,
    body: UserChange,
    user: Principal = Depends(allow(ADMINS, "manage users")),
    session: Session = Depends(get_session),
) -> UserOut:
    try:
        auth.set_email(session, name, body.email)
    except UserError:
        raise not_found(f"no user {name}") from None
    return UserOut.model_validate(auth.find_user(session, name))
