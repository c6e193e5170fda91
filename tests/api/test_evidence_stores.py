"""The vault's backends through the API when they fail, and its S3 backend: an S3 server on
loopback (moto's, run as its own process: the S3 API over HTTP, signed requests, boto3's credential
chain), since no S3 is reachable from these machines. Sealed at rest in the bucket, fetched back,
purged; an outage of the bucket, or a directory that cannot be written, answered 503 with nothing
recorded."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.api.conftest import Stack
from tests.api.test_evidence import CHILD_SAFETY, SPAM, opened, upload, uploaded
from tests.evidence_files import png
from tests.helpers import free_port
from vigil.config import Settings, settings
from vigil.db.tables import CustodyRow, EvidenceRow, ExposureRow
from vigil.evidence.store import BlobStore, FileStore, S3Store, SealedStore, StoreUnavailable, backend_for
from vigil.evidence.vault import Vault
from vigil.temporal.codec import load_or_create_keys

BUCKET = "vigil-evidence-test"
PREFIX = "evidence/"


class S3Server:
    """moto's S3 server in a process of its own, on a port of its own: stopping it is an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        moto_server = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.endpoint + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        self.client().create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def objects(self) -> dict[str, bytes]:
        client = self.client()
        listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    credentials = {"AWS_ACCESS_KEY_ID": "vigil-test", "AWS_SECRET_ACCESS_KEY": "vigil-test-secret"}
    saved = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)
    server = S3Server()
    server.start()
    yield server
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def vault_on(stack: Stack, configured: Settings | BlobStore) -> Iterator[Stack]:
    """The API's vault on another backend for one test: as the settings would configure it, or one given."""
    usual = stack.app.state.vault
    ring = load_or_create_keys(settings().encryption_keys_env, settings().keys_file)
    backend = backend_for(configured) if isinstance(configured, Settings) else configured
    stack.app.state.vault = Vault(stack.engine, SealedStore(backend, ring), usual.max_bytes)
    try:
        yield stack
    finally:
        stack.app.state.vault = usual


@pytest.fixture
def s3_stack(stack: Stack, s3_server: S3Server) -> Iterator[Stack]:
    configured = Settings(evidence_s3_bucket=BUCKET, evidence_s3_prefix=PREFIX, evidence_s3_endpoint=s3_server.endpoint)
    with vault_on(stack, configured) as on_s3:
        yield on_s3


def test_a_bucket_in_the_settings_chooses_the_s3_backend(tmp_path: Path) -> None:
    chosen = backend_for(Settings(evidence_s3_bucket=BUCKET, evidence_s3_prefix=PREFIX))
    assert isinstance(chosen, S3Store) and chosen.bucket == BUCKET and chosen.prefix == PREFIX
    assert isinstance(backend_for(Settings(evidence_dir_env=str(tmp_path))), FileStore)


async def test_evidence_in_a_bucket_is_sealed_fetched_and_purged(s3_stack: Stack, s3_server: S3Server) -> None:
    incident_id = await opened(s3_stack, **CHILD_SAFETY)
    marker = f"S3-EVIDENCE-{os.urandom(8).hex()}".encode()
    text = (marker + b" ") * 40
    image = png(21)
    chat = await uploaded(s3_stack, incident_id, text, filename="chat.txt")
    picture = await uploaded(s3_stack, incident_id, image)

    stored = s3_server.objects()
    assert {PREFIX + chat["id"], PREFIX + picture["id"], PREFIX + picture["id"] + ".thumb"} <= set(stored)
    for key, body in stored.items():
        assert marker not in body and image[200:264] not in body, key  # sealed before it left Vigil

    assert (await s3_stack.http.get("/readyz")).json()["checks"]["evidence"] == "ok"
    fetched = await s3_stack.get(picture["content_url"], "bea")
    assert fetched.status_code == 200 and fetched.content == image
    thumbnail = await s3_stack.get(f"/api/evidence/{picture['id']}/thumbnail", "bea")
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"  # a JPEG

    vault: Vault = s3_stack.app.state.vault
    row = vault.item(chat["id"])
    assert row is not None and row.preserved_until is not None
    until = row.preserved_until.replace(tzinfo=UTC)  # SQLite gives it back naive
    assert not vault.purge_if_due(row.id, until - timedelta(seconds=1)).done  # still kept
    step = vault.purge_if_due(row.id, until + timedelta(seconds=1))
    assert step.done and "purged" in step.outcome
    assert PREFIX + chat["id"] not in s3_server.objects()
    assert vault.purge_if_due(row.id, until + timedelta(seconds=2)).done  # twice: harmless
    assert (await s3_stack.get(chat["content_url"], "bea")).status_code == 404


def _counts(stack: Stack) -> tuple[int, int, int]:
    with Session(stack.engine) as session:
        return (
            session.scalar(select(func.count()).select_from(EvidenceRow)) or 0,
            session.scalar(select(func.count()).select_from(CustodyRow)) or 0,
            session.scalar(select(func.count()).select_from(ExposureRow)) or 0,
        )


async def test_a_bucket_outage_is_503_and_records_nothing(s3_stack: Stack, s3_server: S3Server) -> None:
    incident_id = await opened(s3_stack, **CHILD_SAFETY)
    kept = await uploaded(s3_stack, incident_id, png(22))
    before = _counts(s3_stack)
    s3_server.stop()
    try:
        refused = await upload(s3_stack, incident_id, png(23))
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "evidence_store_unavailable" and refused.headers["retry-after"]
        unread = await s3_stack.get(kept["content_url"], "bea")
        assert unread.status_code == 503
        ready = await s3_stack.http.get("/readyz")  # still ready: only files need the bucket; it says so
        assert ready.status_code == 200 and ready.json()["checks"]["evidence"].startswith("unreachable")
        assert _counts(s3_stack) == before  # no item, no custody view, no exposure for what nobody saw
    finally:
        s3_server.start()  # a new, empty S3: the outage's test owns nothing after it


async def test_a_directory_that_cannot_be_written_is_503_and_records_nothing(stack: Stack, tmp_path: Path) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    not_a_directory = tmp_path / "evidence"
    not_a_directory.write_text("a file where the evidence directory should be")  # root ignores modes
    with vault_on(stack, Settings(evidence_dir_env=str(not_a_directory))):
        before = _counts(stack)
        refused = await upload(stack, incident_id, png(24))
        assert refused.status_code == 503 and refused.json()["error"] == "evidence_store_unavailable"
        assert _counts(stack) == before
        assert (await stack.http.get("/readyz")).json()["checks"]["evidence"].startswith("unreachable")


class FillsUpAfterOneFile(FileStore):
    """A directory whose disk fills up between an upload's two writes (the original, its thumbnail)."""

    def put(self, key: str, data: bytes) -> None:
        if key.endswith(".thumb"):
            raise StoreUnavailable("No space left on device")
        super().put(key, data)


async def test_an_upload_that_fails_half_way_leaves_no_bytes_behind(stack: Stack, tmp_path: Path) -> None:
    """Bytes with no row would be evidence nobody knows of, held past any preservation: never purged."""
    incident_id = await opened(stack, **CHILD_SAFETY)
    root = tmp_path / "evidence"
    with vault_on(stack, FillsUpAfterOneFile(root)):
        before = _counts(stack)
        refused = await upload(stack, incident_id, png(25))
        assert refused.status_code == 503 and refused.json()["error"] == "evidence_store_unavailable"
        assert _counts(stack) == before
    assert [p for p in root.rglob("*") if p.is_file()] == []


async def test_a_deletion_the_directory_refuses_is_503_and_the_item_stays(stack: Stack, tmp_path: Path) -> None:
    incident_id = await opened(stack, **SPAM)
    with vault_on(stack, FileStore(tmp_path / "evidence")):
        item = await uploaded(stack, incident_id, b"Send 1 BTC to get 2 back\n", filename="note.txt")
    not_a_directory = tmp_path / "lost-share"
    not_a_directory.write_text("a file where the evidence directory should be")
    with vault_on(stack, FileStore(not_a_directory)):
        refused = await stack.http.delete(f"/api/evidence/{item['id']}", headers=stack.auth("leo"))
        assert refused.status_code == 503 and refused.json()["error"] == "evidence_store_unavailable"
    with vault_on(stack, FileStore(tmp_path / "evidence")):
        assert (await stack.get(item["content_url"], "leo")).status_code == 200  # still there, still live
        custody = (await stack.get(f"/api/evidence/{item['id']}/custody", "audrey")).json()["items"]
        assert [c["event"] for c in custody] == ["upload", "view"]


async def test_bytes_gone_under_a_live_item_answer_404_not_500(stack: Stack, tmp_path: Path) -> None:
    """A deletion racing a fetch (the row read, then the blob gone): the fetch is told it was deleted."""
    incident_id = await opened(stack, **SPAM)
    root = tmp_path / "evidence"
    with vault_on(stack, FileStore(root)):
        item = await uploaded(stack, incident_id, b"Send 1 BTC to get 2 back\n", filename="note.txt")
        for blob in root.rglob(item["id"]):
            blob.unlink()
        gone = await stack.get(item["content_url"], "leo")
        assert gone.status_code == 404 and "was deleted" in gone.json()["detail"]
