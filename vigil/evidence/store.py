"""Where evidence bytes live: sealed with AES-GCM under the payload key ring (vigil.temporal.codec),
so nothing under VIGIL_HOME (or in a bucket) is readable without the keys.

`BlobStore` is the whole interface a backend implements (put, get, delete by key). `FileStore`
keeps blobs under a directory (VIGIL_EVIDENCE_DIR, default VIGIL_HOME/evidence); `S3Store` in an
S3-compatible bucket (VIGIL_EVIDENCE_S3_BUCKET; docs/wellbeing.md). `backend_for` picks one.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigil.config import Settings
from vigil.temporal.codec import KeyError_, KeyRing

_MAGIC = b"VGEV1"
_NONCE_BYTES = 12


class BlobStore(Protocol):
    def check(self) -> None:
        """Raise StoreUnavailable unless the store can be written now (for /readyz)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


class BlobMissing(Exception):
    """A blob that is not (or no longer) in the store."""


class StoreUnavailable(Exception):
    """The backend cannot be reached or refused the request: nothing was stored or read, try again
    (the API answers 503; an activity retries)."""


def _checked(key: str) -> str:
    """Keys are Vigil's own ids (EV-..., EV-....thumb); anything else is a bug, never a path."""
    if not key.replace("-", "").replace(".", "").isalnum():
        raise ValueError(f"invalid blob key {key[:40]!r}")
    return key


class FileStore:
    """Blobs as files under `root`, two levels of fan-out; written to a temporary name and renamed,
    so a crash never leaves half a blob under the real name."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[-2:] / _checked(key)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreUnavailable(f"evidence directory {self.root} is not writable")

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        temporary = path.with_name(path.name + ".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as error:  # a full disk, a read-only mount, a lost network share
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise StoreUnavailable(f"evidence directory {self.root}: {error}") from None

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(key) from None
        except OSError as error:
            raise StoreUnavailable(f"evidence directory {self.root}: {error}") from None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StoreUnavailable(f"evidence directory {self.root}: {error}") from None


class S3Store:
    """Blobs as objects in an S3-compatible bucket, under an optional prefix. A put is one request,
    so a reader never sees half an object; deleting a missing object succeeds, as S3 does, so a
    purge that runs twice is harmless. Needs boto3 (`pip install "vigil[s3]"`)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint: str = "", region: str = ""):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - the extra is installed wherever S3 is configured
            raise RuntimeError(
                'VIGIL_EVIDENCE_S3_BUCKET is set but boto3 is missing: pip install "vigil[s3]"'
            ) from None
        self.bucket, self.prefix = bucket, prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region or None,
            config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30),
        )

    @contextmanager
    def _answers(self, key: str | None = None) -> Iterator[None]:
        """S3's errors as the store's: a missing key is BlobMissing, anything else (no connection,
        refused, throttled past the retries, a body cut short) StoreUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            if key is not None and error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(key) from None
            raise StoreUnavailable(f"evidence bucket {self.bucket}: {error}") from None
        except BotoCoreError as error:
            raise StoreUnavailable(f"evidence bucket {self.bucket}: {error}") from None

    def check(self) -> None:
        with self._answers():
            self._client.head_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes) -> None:
        with self._answers(key):
            self._client.put_object(
                Bucket=self.bucket, Key=self.prefix + _checked(key), Body=data, ContentType="application/octet-stream"
            )

    def get(self, key: str) -> bytes:
        with self._answers(key):
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(key))["Body"].read()
            return body

    def delete(self, key: str) -> None:
        with self._answers(key):
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + _checked(key))


def backend_for(config: Settings) -> BlobStore:
    """The bucket where one is configured, else the directory."""
    if config.evidence_s3_bucket:
        return S3Store(
            config.evidence_s3_bucket,
            config.evidence_s3_prefix,
            config.evidence_s3_endpoint,
            config.evidence_s3_region,
        )
    return FileStore(config.evidence_dir)


class Sealer:
    """AES-256-GCM with the ring's active key; the blob names its key id, and its own key is the
    associated data, so a blob copied under another item's name does not open."""

    def __init__(self, ring: KeyRing):
        self._ring = ring
        self._ciphers = {kid: AESGCM(key) for kid, key in ring.keys.items()}

    def seal(self, key: str, plain: bytes) -> bytes:
        kid = self._ring.active
        nonce = os.urandom(_NONCE_BYTES)
        kid_bytes = kid.encode()
        return (
            _MAGIC
            + bytes([len(kid_bytes)])
            + kid_bytes
            + nonce
            + self._ciphers[kid].encrypt(nonce, plain, key.encode())
        )

    def open(self, key: str, sealed: bytes) -> bytes:
        if not sealed.startswith(_MAGIC):
            raise KeyError_(f"blob {key}: not a sealed evidence blob")
        length = sealed[len(_MAGIC)]
        start = len(_MAGIC) + 1
        kid = sealed[start : start + length].decode()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise KeyError_(f"blob {key}: sealed with key {kid!r}, which is not in the key ring")
        rest = sealed[start + length :]
        return cipher.decrypt(rest[:_NONCE_BYTES], rest[_NONCE_BYTES:], key.encode())


class SealedStore:
    """A BlobStore whose bytes are sealed before they reach the backend."""

    def __init__(self, backend: BlobStore, ring: KeyRing):
        self.backend = backend
        self.sealer = Sealer(ring)

    def check(self) -> None:
        self.backend.check()

    def put(self, key: str, data: bytes) -> None:
        self.backend.put(key, self.sealer.seal(key, data))

    def get(self, key: str) -> bytes:
        return self.sealer.open(key, self.backend.get(key))

    def delete(self, key: str) -> None:
        self.backend.delete(key)
