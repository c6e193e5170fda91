"""The console's session cookie and its CSRF tokens.

Signing in trades a bearer token (the same tokens as the API) for a session cookie. The cookie
holds the token and a CSRF nonce, encrypted and authenticated with Fernet under a key derived
from Vigil's encryption key ring, so:
- nothing is stored server-side but the sessions signed out (`revoked_sessions`, until their
  cookies would have expired): signing out ends the session on every replica, even for a copy of
  the cookie; any API replica that shares the key ring reads the rest;
- a stolen cookie is not a bearer token: it opens the console only, and only until it expires;
- every request re-authenticates the token, so revoking it (or disabling the user) signs the
  console out at once;
- rotating the key ring keeps sessions alive (every key decrypts, the first encrypts).

Cookies are HttpOnly and SameSite=Strict (Secure over HTTPS); every form post also carries the
session's CSRF nonce, and the sign-in form a nonce of its own (double-submit cookie), so no other
site can make a signed-in browser act, or sign it in as someone else.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete
from sqlalchemy.orm import Session as DbSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response

from vigil.config import Settings
from vigil.db.tables import RevokedSessionRow
from vigil.temporal.codec import KeyRing, load_or_create_keys

SESSION_COOKIE = "vigil_session"
SIGN_IN_COOKIE = "vigil_sign_in"
LANGUAGE_COOKIE = "vigil_language"
# One shift and a half: after that, sign in again even if the token is still valid.
SESSION_SECONDS = 12 * 3600
LANGUAGE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str


def _sealer(ring: KeyRing) -> MultiFernet:
    """One Fernet key per ring key, derived with HKDF so the session key never equals a payload key."""
    keys = []
    for key in ring.keys.values():  # the active key first: it encrypts
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigil console session v1").derive(key)
        keys.append(Fernet(base64.urlsafe_b64encode(derived)))
    return MultiFernet(keys)


@cache
def sealer_for(config: Settings) -> MultiFernet:
    return _sealer(load_or_create_keys(config.encryption_keys_env, config.keys_file))


def new_session(token: str) -> Session:
    return Session(token=token, csrf=secrets.token_urlsafe(24))


def seal(sealer: MultiFernet, session: Session) -> str:
    return sealer.encrypt(json.dumps({"t": session.token, "c": session.csrf}).encode()).decode()


def unseal(sealer: MultiFernet, cookie: str | None) -> Session | None:
    """The session in a cookie, or None if it is missing, forged, tampered with or expired."""
    if not cookie or len(cookie) > 4096:
        return None
    try:
        data = json.loads(sealer.decrypt(cookie.encode(), ttl=SESSION_SECONDS))
        return Session(token=str(data["t"]), csrf=str(data["c"]))
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None


def _session_id(session: Session) -> str:
    return hashlib.sha256(session.csrf.encode()).hexdigest()  # the nonce is the session's own


def revoke(db: DbSession, session: Session) -> None:
    """Sign the session out everywhere: its cookie, and any copy of it, opens nothing any more."""
    now = datetime.now(UTC)
    db.execute(delete(RevokedSessionRow).where(col(RevokedSessionRow.expires_at) < now))  # expired anyway
    if db.get(RevokedSessionRow, _session_id(session)) is None:
        db.add(RevokedSessionRow(id=_session_id(session), expires_at=now + timedelta(seconds=SESSION_SECONDS)))
    db.commit()


def revoked(db: DbSession, session: Session) -> bool:
    return db.get(RevokedSessionRow, _session_id(session)) is not None


def same_token(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None = None, path: str = "/"
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="strict", secure=_secure(request)
    )


def clear_cookie(response: Response, request: Request, name: str, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="strict", secure=_secure(request))
