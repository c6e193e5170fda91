"""Encrypts every Temporal payload with AES-GCM, so reporter identities, content links and notes
are unreadable in Temporal's storage and Web UI without the key.

Keys are a ring: the first key encrypts, every key decrypts, and each payload names its key id,
so a rotated-out key still opens old histories. The same ring gives the keys that sign actions
(vigil/temporal/signing.py), so they rotate together.

Decoding never raises in the worker: a payload that arrives unencrypted is passed on marked
`vigil-unencrypted`, and one that cannot be decrypted (an unknown key, altered bytes) becomes a
`binary/vigil-unreadable` payload saying why. The incident workflow records both as refused
actions instead of failing its task; anything else that meets an unreadable payload raises
KeyError_ with the reason, as before (the payload converter below).
"""

import base64
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import EncodingPayloadConverter, PayloadCodec

from vigil.temporal.signing import UNENCRYPTED, UNREADABLE, Signer, trust, unreadable_reason

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
COMPRESSION = "compression"
_NONCE_BYTES = 12
# Incident states are repetitive JSON: compressed first, they shrink several times, and so do the
# histories the server stores and sends. Small payloads are not worth it.
_COMPRESS_FROM_BYTES = 512


class KeyError_(Exception):
    """A key ring that cannot be used, or a payload whose key is not in the ring."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]  # key id -> 32-byte AES key; insertion order: first is active
    active: str

    @classmethod
    def parse(cls, text: str) -> "KeyRing":
        """'kid:base64key,kid:base64key' (also one per line)."""
        keys: dict[str, bytes] = {}
        for item in text.replace("\n", ",").split(","):
            item = item.strip()
            if not item or item.startswith("#"):
                continue
            kid, sep, encoded = item.partition(":")
            if not sep or not kid:
                raise KeyError_(f"encryption key {item[:12]!r}...: expected KEY_ID:BASE64_KEY")
            try:
                key = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise KeyError_(f"encryption key {kid!r}: not valid base64") from exc
            if len(key) != 32:
                raise KeyError_(f"encryption key {kid!r}: must be 32 bytes (AES-256), got {len(key)}")
            keys[kid] = key
        if not keys:
            raise KeyError_("no encryption keys configured")
        return cls(keys=keys, active=next(iter(keys)))

    @staticmethod
    def new_entry(kid: str) -> str:
        return f"{kid}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def load_or_create_keys(env_value: str, keys_file: Path) -> KeyRing:
    """Keys from the environment, else from the file under VIGIL_HOME, created on first use.

    The file is created exclusively, so a worker and an API starting together on one machine
    end up with the same key. Clusters set VIGIL_ENCRYPTION_KEYS on every process instead.
    """
    if env_value:
        return KeyRing.parse(env_value)
    if not keys_file.exists():
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(KeyRing.new_entry("k1") + "\n")
    if keys_file.stat().st_mode & 0o077:  # written by hand, or by an older Vigil: its owner's only
        keys_file.chmod(0o600)
    return KeyRing.parse(keys_file.read_text())


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing):
        self._ring = ring
        self._ciphers = {kid: AESGCM(key) for kid, key in ring.keys.items()}
        self.signer = Signer(ring.keys, ring.active)  # and every key of the ring verifies
        trust(ring.keys)

    @property
    def ring(self) -> KeyRing:
        """The keys (for a process that must decrypt the same payloads: replay_many)."""
        return self._ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def open(self, payload: Payload) -> Payload:
        """Like `decrypt`, but never raises: see the module docstring."""
        if payload.metadata.get("encoding") != ENCODING:
            marked = Payload()
            marked.CopyFrom(payload)
            marked.metadata[UNENCRYPTED] = b"1"
            return marked
        try:
            return self.decrypt(payload)
        except KeyError_ as error:
            reason = str(error)
        except Exception as error:  # altered ciphertext (InvalidTag), bad zlib, bad protobuf
            reason = f"an encrypted payload that cannot be decrypted ({type(error).__name__}): altered, or not Vigil's"
        return Payload(metadata={"encoding": UNREADABLE}, data=reason.encode())

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        kid = self._ring.active
        metadata = {"encoding": ENCODING, KEY_ID: kid.encode()}
        plain = payload.SerializeToString()
        if len(plain) >= _COMPRESS_FROM_BYTES:
            plain = zlib.compress(plain, 6)
            metadata[COMPRESSION] = b"zlib"
        sealed = self._ciphers[kid].encrypt(nonce, plain, kid.encode())
        return Payload(metadata=metadata, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was on, or by another tool
        kid = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise KeyError_(f"payload encrypted with key {kid!r}, which is not in the key ring")
        data = cipher.decrypt(payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:], kid.encode())
        if payload.metadata.get(COMPRESSION) == b"zlib":
            data = zlib.decompress(data)
        return Payload.FromString(data)


class _UnreadablePayloads(EncodingPayloadConverter):
    """Reading an unreadable payload as a value raises KeyError_ with the codec's reason."""

    @property
    def encoding(self) -> str:
        return UNREADABLE.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise KeyError_(unreadable_reason(payload) or "unreadable payload")


class VigilPayloadConverter(PydanticPayloadConverter):
    """Pydantic's converter, plus the codec's unreadable payloads (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.converters = {**self.converters, UNREADABLE: _UnreadablePayloads()}
