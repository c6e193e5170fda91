"""/api/me and /api/users: who you are; people and tokens (admins manage, everyone may read,
so an analyst can see whom to assign)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from vigil import auth
from vigil.api.deps import allow, current_user, get_session
from vigil.api.errors import conflict, not_found, responses
from vigil.api.schemas import Me, NewToken, UserList, UserOut
from vigil.auth import Principal, UserError
from vigil.db.tables import UserRow
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


@router.post(
    "/users", status_code=201, response_model=NewToken, summary="Add a person", responses=responses(403, 409, 422)
)
def add_user(
    body: NewUser, user: Principal = Depends(allow(ADMINS, "manage users")), session: Session = Depends(get_session)
) -> NewToken:
    """Returns their first token, once."""
    try:
        token = auth.add_user(session, body.name, body.role, body.language.value, body.email)
    except UserError as error:
        raise conflict(str(error)) from None
    return NewToken(user=body.name, role=Role(body.role), token=token)


@router.post(
    "/users/{name}/tokens",
    status_code=201,
    response_model=NewToken,
    summary="Issue another token",
    responses=responses(403, 404, 422),
)
def new_token(
    name: UserName, user: Principal = Depends(allow(ADMINS, "manage tokens")), session: Session = Depends(get_session)
) -> NewToken:
    target = auth.active_user(session, name)
    if target is None:
        raise not_found(f"no enabled user {name}")
    return NewToken(user=name, role=Role(target.role), token=auth.issue_token(session, name))


@router.delete(
    "/users/{name}",
    response_model=UserOut,
    summary="Disable a person, revoking their tokens",
    responses=responses(403, 404, 409, 422),
)
def disable(
    name: UserName, user: Principal = Depends(allow(ADMINS, "manage users")), session: Session = Depends(get_session)
) -> UserOut:
    if name == user.name:
        raise conflict("you cannot disable yourself: ask another admin, or use `vigil users disable`")
    try:
        auth.disable_user(session, name)
    except UserError:
        raise not_found(f"no user {name}") from None
    return UserOut.model_validate(session.get(UserRow, name))


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
    return UserOut.model_validate(session.get(UserRow, name))
