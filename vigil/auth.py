"""People and their bearer tokens.

A token is shown once, when it is issued; the database keeps only its SHA-256, so a leaked
table grants nothing. Tokens carry 256 random bits, so a fast hash is enough (no password
stretching needed). The CLI (`vigil users ...`) and the API's admin endpoints both use this.
"""

import hashlib
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.db.tables import TokenRow, UserRow
from vigil.domain import HUMAN_ROLES, Language, Role
from vigil.workflows.state import Actor

TOKEN_PREFIX = "vgl_"
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")  # the same rule as workflows.state.Username
# An address notices can go to: one @, no spaces or control characters, a dot in the domain.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


class UserError(Exception):
    """A user request that cannot be done (duplicate name, unknown user, bad role...)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's user. The actor in every Temporal message comes from here."""

    name: str
    role: Role
    language: str = "en"

    @property
    def actor(self) -> Actor:
        return Actor(user=self.name, role=self.role)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(f"invalid user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


def parse_role(role: str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in HUMAN_ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(HUMAN_ROLES)}")
    return parsed


def check_email(email: str | None) -> str | None:
    if email is None or email == "":
        return None
    if len(email) > 320 or not _EMAIL.match(email):
        raise UserError(f"invalid email address {email[:80]!r}")
    return email


def add_user(session: Session, name: str, role: str, language: str = "en", email: str | None = None) -> str:
    """Create a user and return their first token. Commits."""
    name, parsed_role, email = _check_name(name), parse_role(role), check_email(email)
    if language not in set(Language):
        raise UserError(f"unknown language {language!r}: use one of {', '.join(Language)}")
    session.add(UserRow(name=name, role=parsed_role.value, language=language, email=email, created_at=_now()))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise UserError(f"user {name!r} already exists") from None
    return issue_token(session, name)


def issue_token(session: Session, name: str) -> str:
    """A new token for an existing, enabled user (their other tokens keep working). Commits."""
    user = session.get(UserRow, name)
    if user is None or user.disabled_at is not None:
        raise UserError(f"no enabled user {name!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(TokenRow(token_hash=hash_token(token), user=name, created_at=_now()))
    session.commit()
    return token


def revoke_tokens(session: Session, name: str) -> int:
    """Revoke every token of a user; returns how many were live. Commits."""
    revoke = update(TokenRow).where(col(TokenRow.user) == name, col(TokenRow.revoked_at).is_(None))
    # An UPDATE's result is a CursorResult; Session.execute is typed as the general Result.
    result = cast(CursorResult[Any], session.execute(revoke.values(revoked_at=_now())))
    session.commit()
    return result.rowcount or 0


def disable_user(session: Session, name: str) -> None:
    """The user can no longer sign in; their history stays. Commits."""
    user = session.get(UserRow, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    if user.disabled_at is None:
        user.disabled_at = _now()
        session.add(user)
    revoke_tokens(session, name)


def set_email(session: Session, name: str, email: str | None) -> None:
    """Where notices to this person go (None: nowhere). Commits."""
    user = session.get(UserRow, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    user.email = check_email(email)
    session.add(user)
    session.commit()


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(col(UserRow.name))))


def active_user(session: Session, name: str) -> UserRow | None:
    user = session.get(UserRow, name)
    return user if user is not None and user.disabled_at is None else None


def authenticate(session: Session, token: str) -> Principal | None:
    """The enabled user a live token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None  # not one of ours: spare the database
    row = session.execute(
        select(col(UserRow.name), col(UserRow.role), col(UserRow.language))
        .join(TokenRow, col(TokenRow.user) == col(UserRow.name))
        .where(
            col(TokenRow.token_hash) == hash_token(token),
            col(TokenRow.revoked_at).is_(None),
            col(UserRow.disabled_at).is_(None),
        )
    ).first()
    if row is None:
        return None
    return Principal(name=row.name, role=Role(row.role), language=row.language)


class FailedAttempts:
    """Failed token attempts per client (its address), to slow down guessing: past `limit`
    failures within `window` seconds the client gets 429 with Retry-After, whatever it sends,
    until the oldest of them is out of the window. Only a guess that could have matched counts
    (Vigil's prefix; anything else is refused without a database look-up). Kept in memory per
    process: each API replica limits on its own, so a cluster of N allows N times the limit."""

    def __init__(self, limit: int = 10, window: float = 300.0, max_clients: int = 10_000):
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._failures: dict[str, list[float]] = {}

    def _recent(self, client: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(client, []) if t > now - self.window]
        if kept:
            self._failures[client] = kept
        else:
            self._failures.pop(client, None)
        return kept

    def retry_after(self, client: str) -> int | None:
        """Seconds this client must wait before trying a token again; None if it may now."""
        now = time.monotonic()
        recent = self._recent(client, now)
        if len(recent) < self.limit:
            return None
        return max(1, math.ceil(recent[-self.limit] + self.window - now))

    def failed(self, client: str, token: str) -> None:
        if not token.startswith(TOKEN_PREFIX):
            return
        if client not in self._failures and len(self._failures) >= self.max_clients:
            self._failures.pop(next(iter(self._failures)))  # the longest-tracked client
        self._failures.setdefault(client, []).append(time.monotonic())
