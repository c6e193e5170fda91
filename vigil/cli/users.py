"""`vigil users ...`: people and their tokens, straight to the database (run where it is)."""

from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from vigil import auth
from vigil.cli.http import console, fail
from vigil.db.engine import engine, migrate

users_app = typer.Typer(help="People and their tokens (run on a machine with the database).", no_args_is_help=True)


def database_session() -> Session:
    """The database this machine's settings name, migrated on first use."""
    migrate()  # first use on a fresh machine: create the tables
    return Session(engine(), expire_on_commit=False)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="analyst, lead, auditor or admin")],
    language: Annotated[str, typer.Option(help="en or es: notifications and timelines")] = "en",
    email: Annotated[str | None, typer.Option(help="Where notices to this person go")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the secret")] = False,
) -> None:
    """Add a person and print their enrolment secret (shown once; they run `vigil users enrol`)."""
    with database_session() as session:
        try:
            secret = auth.add_user(session, name, role, language, email)
        except auth.UserError as error:
            raise fail(str(error)) from None
    if not quiet:
        console.print(f"added {name.lower()} ({role}). Their enrolment secret (shown once, valid 3 days):")
    print(secret)
    if not quiet:
        console.print("They exchange it for their own token: vigil users enrol SECRET (or POST /api/tokens/exchange)")


@users_app.command("token")
def users_token(name: str, quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False) -> None:
    """Issue another enrolment secret for a person (their tokens keep working)."""
    with database_session() as session:
        try:
            secret = auth.issue_token(session, name, issued_by=auth.OPERATOR)
        except auth.UserError as error:
            raise fail(str(error)) from None
    if not quiet:
        console.print(f"new enrolment secret for {name} (shown once, valid 3 days; `vigil users enrol` it):")
    print(secret)


@users_app.command("enrol")
def users_enrol(
    secret: Annotated[str, typer.Argument(help="The enrolment secret (vge_...) you were given")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the token")] = False,
) -> None:
    """Exchange your enrolment secret, once, for your own token."""
    with database_session() as session:
        try:
            token, person = auth.enrol(session, secret)
        except auth.UserError as error:
            raise fail(str(error)) from None
    if not quiet:
        console.print(f"token for {person.name} ({person.role}), shown once:")
    print(token)


@users_app.command("revoke")
def users_revoke(name: str) -> None:
    """Revoke every token of a person."""
    with database_session() as session:
        count = auth.revoke_tokens(session, name)
    console.print(f"revoked {count} token(s) of {name}")


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a person: their tokens stop working; their history stays."""
    with database_session() as session:
        try:
            auth.disable_user(session, name)
        except auth.UserError as error:
            raise fail(str(error)) from None
    console.print(f"disabled {name}")


@users_app.command("email")
def users_email(name: str, address: Annotated[str, typer.Argument(help="The address; '' clears it")]) -> None:
    """Set where notices to a person go (vigil users email ana ana@example.org)."""
    with database_session() as session:
        try:
            auth.set_email(session, name, address or None)
        except auth.UserError as error:
            raise fail(str(error)) from None
    console.print(f"notices to {name} go to {address}" if address else f"notices to {name} go nowhere")


@users_app.command("list")
def users_list() -> None:
    """Everyone, with role and language."""
    table = Table("name", "role", "language", "email", "created", "disabled")
    with database_session() as session:
        for user in auth.list_users(session):
            table.add_row(
                user.name,
                user.role,
                user.language,
                user.email or "",
                f"{user.created_at:%Y-%m-%d}",
                f"{user.disabled_at:%Y-%m-%d}" if user.disabled_at else "",
            )
    console.print(table)
