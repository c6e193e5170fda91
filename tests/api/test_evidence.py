"""The evidence vault over the API, on SQLite and PostgreSQL: upload, list, fetch, custody,
preservation and legal holds, role rules, bad input, encryption at rest, perceptual duplicates."""

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from tests.api.conftest import Stack
from tests.evidence_files import encoded, picture, png, video
from vigil.config import settings
from vigil.db.tables import ExposureRow

CHILD_SAFETY = {
    "category": "child_safety",
    "channel": "user_report",
    "region": "NA",
    "title": "Reported images of a minor",
}
SPAM = {"category": "spam_scam", "channel": "user_report", "region": "NA", "title": "Crypto giveaway"}


async def opened(stack: Stack, **changes: Any) -> str:
    incident = await stack.open(**changes)
    assert (await stack.get(f"/api/incidents/{incident['id']}", "ana")).status_code == 200  # projected
    return str(incident["id"])


async def upload(
    stack: Stack,
    incident_id: str,
    data: bytes,
    user: str = "ana",
    filename: str = "upload.bin",
    content_type: str = "application/octet-stream",
    **form: str,
) -> httpx.Response:
    return await stack.http.post(
        f"/api/incidents/{incident_id}/evidence",
        files={"file": (filename, data, content_type)},
        data=form,
        headers=stack.auth(user),
    )


async def uploaded(stack: Stack, incident_id: str, data: bytes, **form: str) -> dict[str, Any]:
    response = await upload(stack, incident_id, data, **form)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_upload_is_hashed_sniffed_listed_and_preserved(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    data = png(1)
    item = await uploaded(stack, incident_id, data, description="screenshot of the post")
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert item["media_type"] == "image/png"  # from the bytes, not the client's octet-stream
    assert item["size"] == len(data) and item["uploaded_by"] == "ana" and item["sensitive"] is True
    assert len(item["perceptual_hash"]) == 64
    preserved = datetime.fromisoformat(item["preserved_until"])
    assert preserved - datetime.now(UTC) > timedelta(days=364)  # child safety: 365 days
    listed = (await stack.get(f"/api/incidents/{incident_id}/evidence", "bea")).json()["items"]
    assert [i["id"] for i in listed] == [item["id"]]
    one = (await stack.get(f"/api/evidence/{item['id']}", "audrey")).json()
    assert one["description"] == "screenshot of the post" and one["legal_hold"] is False


async def test_fetching_content_records_custody_and_exposure(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    data = png(2)
    item = await uploaded(stack, incident_id, data)
    content = await stack.get(item["content_url"], "bea")
    assert content.status_code == 200 and content.content == data
    assert content.headers["content-type"] == "image/png" and content.headers["cache-control"] == "no-store"
    assert (await stack.get(item["content_url"] + "?download=true", "leo")).status_code == 200
    thumb = await stack.get(item["thumbnail_url"], "bea")
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"  # a JPEG made by Vigil
    custody = (await stack.get(f"/api/evidence/{item['id']}/custody", "leo")).json()["items"]
    assert [(c["event"], c["actor"]) for c in custody] == [("upload", "ana"), ("view", "bea"), ("download", "leo")]
    with Session(stack.engine) as session:
        seen = session.scalars(select(ExposureRow).where(col(ExposureRow.evidence_id) == item["id"])).all()
    assert sorted((e.person, e.kind, e.category, e.sensitive) for e in seen) == [
        ("bea", "fetch", "child_safety", True),
        ("leo", "fetch", "child_safety", True),
    ]


async def test_preserved_evidence_cannot_be_deleted(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    item = await uploaded(stack, incident_id, png(3))
    refused = await stack.http.delete(f"/api/evidence/{item['id']}", headers=stack.auth("leo"))
    assert refused.status_code == 409
    assert "preserved until" in refused.json()["detail"]
    assert (await stack.get(item["content_url"], "leo")).status_code == 200  # still there


async def test_unpreserved_evidence_is_deleted_by_a_lead_and_custody_remains(stack: Stack) -> None:
    incident_id = await opened(stack, **SPAM)
    item = await uploaded(stack, incident_id, b"Send 1 BTC to get 2 back\n", filename="note.txt")
    assert item["media_type"] == "text/plain" and item["preserved_until"] is None and item["sensitive"] is False
    assert (await stack.http.delete(f"/api/evidence/{item['id']}", headers=stack.auth("ana"))).status_code == 403
    assert (await stack.http.delete(f"/api/evidence/{item['id']}", headers=stack.auth("leo"))).status_code == 204
    gone = await stack.get(f"/api/evidence/{item['id']}", "leo")
    assert gone.status_code == 404 and "deleted by leo" in gone.json()["detail"]
    assert (await stack.get(f"/api/incidents/{incident_id}/evidence", "leo")).json()["items"] == []
    custody = (await stack.get(f"/api/evidence/{item['id']}/custody", "audrey")).json()["items"]
    assert [c["event"] for c in custody] == ["upload", "delete"]


async def test_legal_hold_blocks_deletion_until_a_lead_lifts_it(stack: Stack) -> None:
    incident_id = await opened(stack, **SPAM)
    item = await uploaded(stack, incident_id, png(4))
    hold = f"/api/evidence/{item['id']}/hold"
    assert (await stack.post(hold, {"hold": True, "reason": "subpoena 2026-118"}, "ana")).status_code == 403
    assert (await stack.post(hold, {"hold": True}, "leo")).status_code == 422  # a hold says why
    held = await stack.post(hold, {"hold": True, "reason": "subpoena 2026-118"}, "leo")
    assert held.status_code == 200 and held.json()["legal_hold"] is True and held.json()["legal_hold_by"] == "leo"
    refused = await stack.http.delete(f"/api/evidence/{item['id']}", headers=stack.auth("lucia"))
    assert refused.status_code == 409 and "legal hold set by leo" in refused.json()["detail"]
    assert (await stack.post(hold, {"hold": False}, "lucia")).json()["legal_hold"] is False
    assert (await stack.http.delete(f"/api/evidence/{item['id']}", headers=stack.auth("lucia"))).status_code == 204
    custody = (await stack.get(f"/api/evidence/{item['id']}/custody", "leo")).json()["items"]
    assert [(c["event"], c["actor"]) for c in custody] == [
        ("upload", "ana"),
        ("hold_set", "leo"),
        ("hold_cleared", "lucia"),
        ("delete", "lucia"),
    ]


async def test_role_rules_for_each_evidence_endpoint(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    item = await uploaded(stack, incident_id, png(5))
    eid = item["id"]
    for user in ("audrey", "adam"):  # auditors and admins act on nothing
        assert (await upload(stack, incident_id, png(6), user=user)).status_code == 403
    assert (await upload(stack, incident_id, png(6), user="leo")).status_code == 201
    assert (await stack.get(f"/api/incidents/{incident_id}/evidence", "adam")).status_code == 200  # metadata
    assert (await stack.get(f"/api/evidence/{eid}/content", "adam")).status_code == 403  # never the bytes
    assert (await stack.get(f"/api/evidence/{eid}/thumbnail", "adam")).status_code == 403
    assert (await stack.get(f"/api/evidence/{eid}/content", "audrey")).status_code == 200
    for user in ("ana", "adam"):
        assert (await stack.get(f"/api/evidence/{eid}/custody", user)).status_code == 403
    for user in ("leo", "audrey"):
        assert (await stack.get(f"/api/evidence/{eid}/custody", user)).status_code == 200
    for user in ("ana", "audrey", "adam"):
        assert (await stack.post(f"/api/evidence/{eid}/hold", {"hold": True, "reason": "r"}, user)).status_code == 403
        assert (await stack.http.delete(f"/api/evidence/{eid}", headers=stack.auth(user))).status_code == 403
    assert (await stack.http.get(f"/api/evidence/{eid}")).status_code == 401


async def test_bad_uploads_are_refused_clearly(stack: Stack) -> None:
    incident_id = await opened(stack, **SPAM)
    empty = await upload(stack, incident_id, b"")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    archive = await upload(
        stack, incident_id, b"PK\x03\x04" + b"\x00" * 200, filename="photo.png", content_type="image/png"
    )
    assert archive.status_code == 422 and "application/zip" in archive.json()["detail"]
    binary = await upload(stack, incident_id, os.urandom(64) + b"\x00")
    assert binary.status_code == 422
    broken = await upload(stack, incident_id, png(8)[:120])  # a PNG header, then nothing
    assert broken.status_code == 422 and "cannot be read" in broken.json()["detail"]
    missing = await stack.http.post(
        f"/api/incidents/{incident_id}/evidence", data={"graphic": "true"}, headers=stack.auth("ana")
    )
    assert missing.status_code == 422 and "file" in missing.json()["detail"]
    assert (await upload(stack, "INC-2026-999999", png(8))).status_code == 404
    assert (await upload(stack, "not-an-incident", png(8))).status_code == 404
    assert (await stack.get("/api/evidence/EV-nope", "ana")).status_code == 404
    vault = stack.app.state.vault
    limit, vault.max_bytes = vault.max_bytes, 1000
    try:
        too_big = await upload(stack, incident_id, b"a" * 1001, filename="big.txt")
    finally:
        vault.max_bytes = limit
    assert too_big.status_code == 413 and "1000 bytes" in too_big.json()["detail"]
    assert (await stack.get(f"/api/incidents/{incident_id}/evidence", "ana")).json()["items"] == []


async def test_declared_body_over_the_upload_limit_is_refused_before_reading(stack: Stack) -> None:
    incident_id = await opened(stack, **SPAM)
    limit = settings().evidence_max_bytes + 64 * 1024
    response = await stack.http.post(
        f"/api/incidents/{incident_id}/evidence",
        content=b"x",
        headers={
            **stack.auth("ana"),
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(limit + 1),
        },
    )
    assert response.status_code == 413


async def test_evidence_is_encrypted_at_rest(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    marker = f"EVIDENCE-MARKER-{os.urandom(8).hex()}".encode()
    data = (marker + b" ") * 40
    image = png(9)
    await uploaded(stack, incident_id, data, filename="chat.txt")
    await uploaded(stack, incident_id, image)
    home = settings().home
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any("evidence" in p.parts for p in files)  # the vault wrote there
    for path in files:
        stored = path.read_bytes()
        assert marker not in stored, path
        assert image[200:264] not in stored, path


async def test_same_picture_in_two_incidents_is_flagged(stack: Stack) -> None:
    first = await opened(stack, **CHILD_SAFETY)
    second = await opened(stack, **CHILD_SAFETY)
    unrelated = await opened(stack, **CHILD_SAFETY)
    original = picture(11)
    a = await uploaded(stack, first, encoded(original))
    # The same picture, smaller and re-encoded as JPEG: different bytes, the same PDQ (nearly).
    b = await uploaded(stack, second, encoded(original.resize((240, 180)), "JPEG", quality=80))
    c = await uploaded(stack, unrelated, png(12))
    assert a["sha256"] != b["sha256"]
    assert b["also_in"] == [first]
    assert (await stack.get(f"/api/incidents/{first}/evidence", "ana")).json()["items"][0]["also_in"] == [second]
    assert first not in c["also_in"] and second not in c["also_in"]


async def test_a_video_gets_a_thumbnail_from_its_own_frames(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    clip = await uploaded(stack, incident_id, video(".mp4"), filename="clip.bin")
    assert clip["media_type"] == "video/mp4" and clip["thumbnail_url"] and clip["perceptual_hash"] is None
    frame = await stack.get(clip["thumbnail_url"], "bea")
    assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"  # a JPEG Vigil made
    assert Image.open(io.BytesIO(frame.content)).size == (320, 240)
    webm = await uploaded(stack, incident_id, video(".webm"))
    assert webm["media_type"] == "video/webm" and webm["thumbnail_url"]
    # A file that says it is MP4 but is not one: kept (it is evidence), without a thumbnail.
    broken = await uploaded(stack, incident_id, b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    assert broken["media_type"] == "video/mp4" and broken["thumbnail_url"] is None
    assert (await stack.get(f"/api/evidence/{broken['id']}/thumbnail", "bea")).status_code == 404
