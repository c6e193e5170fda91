"""People and their bearer tokens.

A token is shown once, when it is issued; the database keeps only its SHA-256, so a leaked
table grants nothing. Tokens carry 256 random bits, so a fast hash is enough (no password
stretching needed). The CLI (`vigil users ...`) and the API's admin endpoints both use this.

Every token records who issued it. One rule: a token issued by anyone but its holder (an admin
through the API, the operator with `vigil users`) is an **enrolment secret** (`vge_...`): it acts
on nothing, not even reading; its person exchanges it, once and within `ENROLMENT_TTL`, for an
access token of their own (`POST /api/tokens/exchange`, `vigil users enrol`). So an admin who
mints secrets for two leads holds no token that approves, and a secret already exchanged is
refused, which tells its person that someone else used it. Names are case-insensitive and unique
(stored lower-case) and the system's own names are reserved (docs/security.md).
"""

import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.db.tables import TokenRow, UserRow
from vigil.domain import HUMAN_ROLES, Language, Role
from vigil.workflows.state import SYSTEM, Actor

TOKEN_PREFIX = "vgl_"
ENROLMENT_PREFIX = "vge_"
ENROLMENT_TTL = timedelta(days=3)
ACCESS, ENROLMENT = "access", "enrolment"
# Issuers that are not people (":" is never in a user name, so they cannot be mistaken for one).
FIRST_RUN = "vigil:first-run"  # the admin `vigil up` creates on a fresh database
OPERATOR = "vigil:cli"  # `vigil users ...` on the database's machine
# The system actor's name and the names people would take for Vigil, Temporal or the machine.
RESERVED_NAMES = frozenset({SYSTEM.user, "system", "root", "temporal", "operator", "anonymous", "nobody"})
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")  # the same rule as workflows.state.Username
# An address notices can go to: one @, no spaces or control characters, a dot in the domain.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


class UserError(Exception):
    """A user request that cannot be done (duplicate name, unknown user, bad role...)."""


class InvalidUser(UserError):
    """The request itself is wrong (a bad or reserved name, an unknown role): 422, not 409."""


class EnrolmentRefused(UserError):
    """An enrolment secret that cannot be exchanged: unknown, used, expired, or its person gone."""

    def __init__(self, reason: str, known: bool) -> None:
        super().__init__(reason)
        self.known = known  # False: not a secret Vigil issued (401); True: used or expired (409)


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


def normalise_name(name: str) -> str:
    """The name as stored: lower-case. Refuses bad and reserved names."""
    if not _NAME.match(name):
        raise InvalidUser(f"invalid user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-'")
    name = name.lower()
    if name in RESERVED_NAMES:
        raise InvalidUser(f"the user name {name!r} is reserved: Vigil uses it, or people would take it for Vigil's")
    return name


def find_user(session: Session, name: str) -> UserRow | None:
    """The user of this name, whatever its case (names stored before 0006 may have capitals)."""
    exact = session.get(UserRow, name)
    if exact is not None:
        return exact
    return session.scalars(select(UserRow).where(func.lower(col(UserRow.name)) == name.lower())).first()


def parse_role(role: str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in HUMAN_ROLES:
        raise InvalidUser(f"unknown role {role!r}: use one of {', '.join(HUMAN_ROLES)}")
    return parsed


def check_email(email: str | None) -> str | None:
    if email is None or email == "":
        return None
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidUser(f"invalid email address {email[:80]!r}")
    return email


def add_user(
    session: Session,
    name: str,
    role: str,
    language: str = "en",
    email: str | None = None,
    *,
    issued_by: str = OPERATOR,
) -> str:
    """Create a user and return their enrolment secret (`enrol` turns it into their token). Commits."""
    name, parsed_role, email = normalise_name(name), parse_role(role), check_email(email)
    if language not in set(Language):
        raise InvalidUser(f"unknown language {language!r}: use one of {', '.join(Language)}")
    existing = find_user(session, name)
    if existing is not None:
        raise UserError(f"user {existing.name!r} already exists (names are case-insensitive)")
    session.add(UserRow(name=name, role=parsed_role.value, language=language, email=email, created_at=_now()))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise UserError(f"user {name!r} already exists (names are case-insensitive)") from None
    return issue_token(session, name, issued_by=issued_by)


def issue_token(session: Session, name: str, *, issued_by: str) -> str:
    """A new token for an existing, enabled user (their other tokens keep working). Issued by
    the user themself: an access token. By anyone else: an enrolment secret. Commits."""
    user = find_user(session, name)
    if user is None or user.disabled_at is not None:
        raise UserError(f"no enabled user {name!r}")
    if issued_by == user.name:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(token_hash=hash_token(token), user=user.name, created_at=_now(), issued_by=issued_by)
    else:
        token = ENROLMENT_PREFIX + secrets.token_urlsafe(32)
        row = TokenRow(
            token_hash=hash_token(token),
            user=user.name,
            created_at=_now(),
            kind=ENROLMENT,
            issued_by=issued_by,
            expires_at=_now() + ENROLMENT_TTL,
        )
    session.add(row)
    session.commit()
    return token


def enrol(session: Session, secret: str) -> tuple[str, Principal]:
    """Exchange an enrolment secret, once, for an access token of its person. Commits."""
    unknown = EnrolmentRefused("not an enrolment secret Vigil issued", known=False)
    if not secret.startswith(ENROLMENT_PREFIX) or len(secret) > 200:
        raise unknown
    row = session.get(TokenRow, hash_token(secret))
    if row is None or row.kind != ENROLMENT:
        raise unknown
    if row.used_at is not None:
        raise EnrolmentRefused(
            f"this enrolment secret was already exchanged ({row.used_at:%Y-%m-%d %H:%M} UTC): if not by you, "
            "tell an admin; ask for a new one",
            known=True,
        )
    now = _now()
    if row.revoked_at is not None or (row.expires_at is not None and _aware(row.expires_at) <= now):
        raise EnrolmentRefused("this enrolment secret has expired or was revoked: ask an admin for a new one", True)
    user = active_user(session, row.user)
    if user is None:
        raise EnrolmentRefused(f"{row.user} is disabled", known=True)
    # Claim the secret with a conditional UPDATE, so two exchanges racing cannot both win.
    claim = update(TokenRow).where(col(TokenRow.token_hash) == row.token_hash, col(TokenRow.used_at).is_(None))
    claimed = cast(CursorResult[Any], session.execute(claim.values(used_at=now)))
    if (claimed.rowcount or 0) != 1:
        session.rollback()
        raise EnrolmentRefused("this enrolment secret was already exchanged: ask an admin for a new one", True)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        TokenRow(
            token_hash=hash_token(token),
            user=user.name,
            created_at=now,
            issued_by=user.name,
            enrolled_from=row.token_hash,
        )
    )
    session.commit()
    return token, Principal(name=user.name, role=Role(user.role), language=user.language)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def revoke_tokens(session: Session, name: str) -> int:
    """Revoke every token of a user; returns how many were live. Commits."""
    user = find_user(session, name)
    name = user.name if user is not None else name
    revoke = update(TokenRow).where(col(TokenRow.user) == name, col(TokenRow.revoked_at).is_(None))
    # An UPDATE's result is a CursorResult; Session.execute is typed as the general Result.
    result = cast(CursorResult[Any], session.execute(revoke.values(revoked_at=_now())))
    session.commit()
    recent_tokens.forget_user(name)
    return result.rowcount or 0


def revoke_token(session: Session, name: str, token_hash: str) -> bool:
    """Revoke one token (or enrolment secret) of a user, named by its hash; False if it is not
    theirs or no longer live. Commits."""
    user = find_user(session, name)
    owner = user.name if user is not None else name
    revoke = update(TokenRow).where(
        col(TokenRow.token_hash) == token_hash, col(TokenRow.user) == owner, col(TokenRow.revoked_at).is_(None)
    )
    result = cast(CursorResult[Any], session.execute(revoke.values(revoked_at=_now())))
    session.commit()
    recent_tokens.forget_user(owner)  # refused from the next request on, here; elsewhere within the cache's seconds
    return (result.rowcount or 0) == 1


def tokens_by_user(session: Session) -> dict[str, list[TokenRow]]:
    """Every token and enrolment secret (their hashes and records, never a token), newest first."""
    found: dict[str, list[TokenRow]] = {}
    for row in session.scalars(select(TokenRow).order_by(col(TokenRow.created_at).desc())):
        found.setdefault(row.user, []).append(row)
    return found


def disable_user(session: Session, name: str) -> None:
    """The user can no longer sign in; their history stays. Commits."""
    user = find_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    if user.disabled_at is None:
        user.disabled_at = _now()
        session.add(user)
    revoke_tokens(session, user.name)


def set_email(session: Session, name: str, email: str | None) -> None:
    """Where notices to this person go (None: nowhere). Commits."""
    user = find_user(session, name)
    if user is None:
        raise UserError(f"no user {name!r}")
    user.email = check_email(email)
    session.add(user)
    session.commit()


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(col(UserRow.name))))


def active_user(session: Session, name: str) -> UserRow | None:
    user = find_user(session, name)
    return user if user is not None and user.disabled_at is None else None


def authenticate(session: Session, token: str) -> Principal | None:
    """The enabled user a live token belongs to, or None. A token seen within the last
    `TOKEN_CACHE_SECONDS` is answered from memory (`recent_tokens`); failures are never cached."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None  # not one of ours: spare the database
    token_hash = hash_token(token)
    cached = recent_tokens.get(token_hash)
    if cached is not None:
        return cached
    generation = recent_tokens.generation
    row = session.execute(
        select(col(UserRow.name), col(UserRow.role), col(UserRow.language))
        .join(TokenRow, col(TokenRow.user) == col(UserRow.name))
        .where(
            col(TokenRow.token_hash) == token_hash,
            col(TokenRow.kind) == ACCESS,  # an enrolment secret acts on nothing
            col(TokenRow.revoked_at).is_(None),
            col(UserRow.disabled_at).is_(None),
        )
    ).first()
    if row is None:
        return None
    principal = Principal(name=row.name, role=Role(row.role), language=row.language)
    recent_tokens.put(token_hash, principal, generation)
    return principal


# How long a process answers a token it has looked up from memory. Revoking (or disabling the
# user) clears this process's entries at once; another API process may accept the token for up
# to this long after (docs/security.md).
TOKEN_CACHE_SECONDS = 5.0


class TokenCache:
    """Principals of tokens looked up lately, keyed by the token's SHA-256 (never the token),
    each for `ttl` seconds: an API request then costs no database round trip for its caller."""

    def __init__(
        self, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()  # requests authenticate on the threadpool
        self.generation = 0  # counts revocations: a look-up that raced one is not kept

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            with self._lock:
                self._entries.pop(token_hash, None)
            return None
        return entry[1]

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return  # a revocation committed while this was looked up: ask the database next time
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # a burst of distinct tokens: start again rather than sort
            self._entries[token_hash] = (self.clock() + self.ttl, principal)

    def forget_user(self, name: str) -> None:
        """Drop every token of `name` (revoked or disabled): refused from the next request on."""
        with self._lock:
            self.generation += 1
            for token_hash in [h for h, (_, p) in self._entries.items() if p.name == name]:
                del self._entries[token_hash]


recent_tokens = TokenCache()


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
        if not token.startswith((TOKEN_PREFIX, ENROLMENT_PREFIX)):
            return
        if client not in self._failures and len(self._failures) >= self.max_clients:
            self._failures.pop(next(iter(self._failures)))  # the longest-tracked client
        self._failures.setdefault(client, []).append(time.monotonic())
