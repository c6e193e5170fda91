"""Signed actors: who may act on an incident is decided by a signature, not by the message.

Every action Vigil sends to an incident's workflow (the API's updates, the CLI and console
through the API, Vigil's own notes) carries an HMAC-SHA256 over a canonical encoding of
(incident id, action, actor, issued_at, nonce, internal flag, key id). The workflow verifies it
before anything else (vigil/workflows/incident.py); anyone who can reach Temporal but holds no
key is then no more able to act than an anonymous caller.

The signing keys are derived from the codec's key ring (vigil/temporal/codec.py), one per
encryption key: the active encryption key signs, every key in the ring verifies, so rotation
is the codec's (put a new key first; keep the old ones while histories they signed may replay).
A signing key id is the encryption key id plus a fingerprint of the derived key, so two rings
that both call their key "k1" (two test servers in one process) never verify each other.

Verification runs inside workflow code: pure and deterministic (hmac, hashlib, json; no clock).
The keys it checks against are the module-level table below, filled by every EncryptionCodec a
process builds; the workflow sandbox passes this module through, so worker and workflow share it.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_DERIVE = b"vigil/action-signature/v1"
# Names that mean Vigil itself: an actor with one of them (or the `system` role) acts only with
# a signature made by Vigil's own worker (`internal`), never from outside.
SYSTEM_NAMES = frozenset({"vigil", "system"})
SYSTEM_ROLE = "system"

# The codec's marks on what it could not vouch for (vigil/temporal/codec.py): a payload that
# arrived unencrypted, and one it could not decrypt (its data says why). Here, not in the codec,
# so workflow code reads them without importing the codec.
UNENCRYPTED = "vigil-unencrypted"
UNREADABLE = b"binary/vigil-unreadable"

_trusted: dict[str, bytes] = {}  # signing key id -> signing key, from every ring this process loaded


def signing_key(encryption_key: bytes) -> bytes:
    return hmac.new(encryption_key, _DERIVE, hashlib.sha256).digest()


def signing_kid(kid: str, key: bytes) -> str:
    return f"{kid}.{hashlib.sha256(key).hexdigest()[:12]}"


def trust(ring: Mapping[str, bytes]) -> None:
    """Accept signatures made with any key of this ring (encryption key id -> AES key)."""
    for kid, encryption_key in ring.items():
        key = signing_key(encryption_key)
        _trusted[signing_kid(kid, key)] = key


def unreadable_reason(payload: Any) -> str | None:
    """Why the codec could not decrypt this payload (a Temporal Payload), or None when it could."""
    if payload.metadata.get("encoding") != UNREADABLE:
        return None
    return bytes(payload.data).decode(errors="replace")


def is_system(actor: Mapping[str, object]) -> bool:
    user = str(actor.get("user", "")).strip().lower()
    return actor.get("role") == SYSTEM_ROLE or user in SYSTEM_NAMES


def canonical(
    *,
    incident_id: str,
    action: Mapping[str, object],
    actor: Mapping[str, object],
    issued_at: datetime,
    nonce: str,
    internal: bool,
    kid: str,
) -> bytes:
    """The bytes a signature covers: sorted-key compact JSON, times in UTC to the microsecond."""
    message = {
        "v": 1,
        "incident_id": incident_id,
        "action": action,
        "actor": actor,
        "issued_at": issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "nonce": nonce,
        "internal": internal,
        "kid": kid,
    }
    return json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class Signed:
    kid: str
    issued_at: datetime
    nonce: str
    internal: bool
    mac: str  # hex


class Signer:
    """Signs with the active key of one ring (and trusts the whole ring for verification)."""

    def __init__(self, ring: Mapping[str, bytes], active: str):
        trust(ring)
        self._key = signing_key(ring[active])
        self.kid = signing_kid(active, self._key)

    def sign(
        self,
        incident_id: str,
        action: Mapping[str, object],
        actor: Mapping[str, object],
        *,
        nonce: str | None = None,
        internal: bool = False,
        issued_at: datetime | None = None,
    ) -> Signed:
        if is_system(actor) and not internal:
            raise ValueError("only Vigil's own worker signs as the system actor")
        issued_at = issued_at or datetime.now(UTC)
        nonce = nonce or secrets.token_hex(16)
        message = canonical(
            incident_id=incident_id,
            action=action,
            actor=actor,
            issued_at=issued_at,
            nonce=nonce,
            internal=internal,
            kid=self.kid,
        )
        mac = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return Signed(kid=self.kid, issued_at=issued_at, nonce=nonce, internal=internal, mac=mac)


def verify(
    incident_id: str, action: Mapping[str, object], actor: Mapping[str, object], signed: Signed | None
) -> str | None:
    """None when the signature holds; else why the action is refused, in words for the journal."""
    if signed is None:
        return "unsigned action" + (" claiming to be Vigil itself (system)" if is_system(actor) else "")
    key = _trusted.get(signed.kid)
    if key is None:
        return f"signed with an unknown key {signed.kid[:40]!r}"
    message = canonical(
        incident_id=incident_id,
        action=action,
        actor=actor,
        issued_at=signed.issued_at,
        nonce=signed.nonce,
        internal=signed.internal,
        kid=signed.kid,
    )
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed.mac):
        return "bad signature (the action, actor or incident is not what was signed)"
    if is_system(actor) and not signed.internal:
        return "claims to be Vigil itself (system) from outside"
    return None


# ---------------------------------------------------------------------------- action requests
# Imported here, below the pure part, so vigil.temporal.codec can import `trust` early.
from pydantic import BaseModel  # noqa: E402

from vigil.workflows.actions import HumanAction  # noqa: E402
from vigil.workflows.messages import ActionRequest  # noqa: E402
from vigil.workflows.state import ActionSignature, Actor  # noqa: E402


def signature_for(
    signer: Signer,
    target_id: str,
    action: BaseModel,
    actor: Actor,
    *,
    nonce: str | None = None,
    internal: bool = False,
) -> ActionSignature:
    """Vigil's signature over one action on one workflow (an incident, or its review)."""
    signed = signer.sign(
        target_id, action.model_dump(mode="json"), actor.model_dump(mode="json"), nonce=nonce, internal=internal
    )
    return ActionSignature(
        kid=signed.kid, issued_at=signed.issued_at, nonce=signed.nonce, internal=signed.internal, mac=signed.mac
    )


def check_signature(target_id: str, action: BaseModel, actor: Actor, signature: ActionSignature | None) -> str | None:
    """None when `signature` is Vigil's over this action, actor and workflow; else the reason it is refused."""
    s = signature
    signed = Signed(kid=s.kid, issued_at=s.issued_at, nonce=s.nonce, internal=s.internal, mac=s.mac) if s else None
    return verify(target_id, action.model_dump(mode="json"), actor.model_dump(mode="json"), signed)


def sign_request(
    signer: Signer,
    incident_id: str,
    action: HumanAction,
    actor: Actor,
    *,
    nonce: str | None = None,
    internal: bool = False,
) -> ActionRequest:
    """The request the workflow accepts: the action, its actor and Vigil's signature over both."""
    signature = signature_for(signer, incident_id, action, actor, nonce=nonce, internal=internal)
    return ActionRequest(action=action, actor=actor, signature=signature)


def check_request(request: ActionRequest, incident_id: str) -> str | None:
    """None when the request is Vigil's, signed for this incident; else the reason it is refused."""
    return check_signature(incident_id, request.action, request.actor, request.signature)
