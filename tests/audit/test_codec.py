"""Encrypted payloads: nothing sensitive readable in Temporal without the key; the codec endpoint
(/codec/decode, /codec/encode) for auditors and leads (who see reporters; admins do not),
Temporal's CLI decoding through it, CORS for the Web UI, and key rotation (a history written under an old
key still reads)."""

import asyncio
import base64
import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from tests.audit.conftest import World, serving
from tests.audit.payloads import outside_the_codec, payloads_in
from tests.helpers import ANA, eventually, intake, new_incident_id
from vigil.api.app import create_app
from vigil.audit import history as histories
from vigil.audit.decode import Undecodable
from vigil.audit.history import IncidentHistory
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.timeline import build_timeline
from vigil.temporal import data_converter
from vigil.temporal.codec import ENCODING, KEY_ID, EncryptionCodec, KeyRing
from vigil.temporal.incident_client import act, open_incident
from vigil.worker import build_worker
from vigil.workflows.actions import Acknowledge, AddNote

# What must never be readable in Temporal without the key (see tests.helpers.intake and the scenarios).
SECRETS = [
    "Agencia Nacional",
    "orders@regulator.example",
    "video.example/v/123",
    "Seen by the night shift",
    "Second wave from the same account",
]
UI_ORIGIN = "http://localhost:8233"


def _payload_json(payload) -> dict:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def _started_input(world: World, incident_id: str) -> dict:
    history = await histories.fetch(world.client, incident_id, approvals=False)
    return _payload_json(history.runs[0].events[0].workflow_execution_started_event_attributes.input.payloads[0])


async def test_histories_without_the_key_show_nothing_sensitive(world: World) -> None:
    checked = 0
    for scenario in ("signals-refused", "reopened", "legal-deadline-missed", "approved-by-two-leads"):
        document = (await world.get(f"/api/incidents/{world.one(scenario)}/history", "audrey")).json()
        text = json.dumps(document, ensure_ascii=False)
        decoded = [(metadata, data) for metadata, data in payloads_in(document)]
        for secret in SECRETS:
            assert secret not in text
            assert not any(secret.encode() in data for _, data in decoded)
        encrypted = [m for m, d in decoded if not outside_the_codec(m, d)]
        assert encrypted and all(m["encoding"] == ENCODING for m in encrypted)
        checked += len(encrypted)
    assert checked > 100


async def test_an_auditor_decodes_through_the_codec_endpoint(world: World) -> None:
    body = {"payloads": [await _started_input(world, world.one("signals-refused"))]}
    for user in ("audrey", "leo"):
        response = await world.post("/codec/decode", body, user, headers={"X-Namespace": world.client.namespace})
        assert response.status_code == 200, response.text
        [payload] = response.json()["payloads"]
        plain = base64.b64decode(payload["data"])
        assert b"orders@regulator.example" in plain and b"video.example/v/123" in plain
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"


async def test_encode_uses_the_active_key_and_decode_reverses_it(world: World) -> None:
    plain = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(b'{"note": "only for auditors"}').decode(),
    }
    encoded = (await world.post("/codec/encode", {"payloads": [plain]}, "audrey")).json()["payloads"][0]
    active = KeyRing.parse(os.environ["VIGIL_ENCRYPTION_KEYS"]).active
    assert base64.b64decode(encoded["metadata"][KEY_ID]).decode() == active
    assert b"only for auditors" not in base64.b64decode(encoded["data"])
    decoded = (await world.post("/codec/decode", {"payloads": [encoded]}, "audrey")).json()["payloads"][0]
    assert decoded == plain


@pytest.mark.parametrize(("user", "status"), [(None, 401), ("ana", 403), ("adam", 403)])
async def test_only_auditors_and_leads_may_use_the_codec(world: World, user: str | None, status: int) -> None:
    body = {"payloads": [await _started_input(world, world.one("rejected"))]}
    for path in ("/codec/decode", "/codec/encode"):
        headers = world.auth(user) if user else {}
        response = await world.http.post(path, json=body, headers=headers)
        assert response.status_code == status and "payloads" not in response.json()


async def test_the_codec_refuses_what_it_cannot_read(world: World) -> None:
    payload = await _started_input(world, world.one("rejected"))
    altered = {**payload, "data": base64.b64encode(base64.b64decode(payload["data"])[:-1] + b"x").decode()}
    foreign = {**payload, "metadata": {**payload["metadata"], KEY_ID: base64.b64encode(b"k0").decode()}}
    cases = [
        ({"payloads": [altered]}, "cannot be decrypted"),
        ({"payloads": [foreign]}, "'k0'"),
        ({"payloads": [{"data": "not base64!"}]}, "not valid base64"),
        ({"payloads": "x"}, ""),
    ]
    for body, words in cases:
        response = await world.post("/codec/decode", body, "audrey")
        assert response.status_code == 422 and words in response.json()["detail"], response.text
    other = await world.http.post(
        "/codec/decode", json={"payloads": [payload]}, headers={**world.auth("audrey"), "X-Namespace": "somebody-else"}
    )
    assert other.status_code == 403 and "serves namespace" in other.json()["detail"]


async def test_cors_lets_the_temporal_web_ui_call_the_codec_only(world: World) -> None:
    preflight = {
        "Origin": UI_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    response = await world.http.options("/codec/decode", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()

    elsewhere = await world.http.options("/codec/decode", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers

    refused = await world.http.post("/codec/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == UI_ORIGIN

    api = await world.http.get("/api/incidents", headers={**world.auth("audrey"), "Origin": UI_ORIGIN})
    assert api.status_code == 200 and "access-control-allow-origin" not in api.headers


def _temporal_cli() -> str:
    return shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")


async def _workflow_show(world: World, incident_id: str, *codec: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        _temporal_cli(),
        "workflow",
        "show",
        "--workflow-id",
        incident_id,
        "--output",
        "json",
        "--address",
        world.temporal_address,
        "--namespace",
        world.client.namespace,
        *codec,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


async def test_temporal_cli_shows_decoded_payloads_through_the_codec_endpoint(world: World) -> None:
    incident_id = world.one("signals-refused")
    endpoint = f"{world.base_url}/codec"

    code, out, err = await _workflow_show(
        world, incident_id, "--codec-endpoint", endpoint, "--codec-auth", f"Bearer {world.tokens['audrey']}"
    )
    assert code == 0, err
    shown = _everything_readable(json.loads(out))
    assert "orders@regulator.example" in shown and "Seen by the night shift." in shown

    code, out, _ = await _workflow_show(world, incident_id)
    assert code == 0 and "orders@regulator.example" not in _everything_readable(json.loads(out))

    # An analyst's token: the codec answers 403, and the CLI (which retries) gives up showing nothing.
    code, out, err = await _workflow_show(
        world,
        incident_id,
        "--codec-endpoint",
        endpoint,
        "--command-timeout",
        "2s",
        "--codec-auth",
        f"Bearer {world.tokens['ana']}",
    )
    assert code != 0 and "orders@regulator.example" not in out + err


def _everything_readable(document: object) -> str:
    """The JSON as text, plus every payload's data decoded from base64."""
    return json.dumps(document, ensure_ascii=False) + "".join(
        data.decode("utf-8", "replace") for _, data in payloads_in(document)
    )


async def test_a_history_written_under_an_old_key_reads_after_a_new_key_is_put_first(world: World) -> None:
    old_keys = os.environ["VIGIL_ENCRYPTION_KEYS"]  # what the world's client and worker use (tests/conftest.py)
    old_id = KeyRing.parse(old_keys).active.encode()
    new_key = "k2:" + base64.b64encode(b"n" * 32).decode()
    rotated = Client(
        **{
            **world.client.config(),
            "data_converter": data_converter(EncryptionCodec(KeyRing.parse(f"{new_key},{old_keys}"))),
        }
    )
    incident_id, queue = new_incident_id(), "rotation"
    async with build_worker(world.client, task_queue=queue, engine=world.engine):  # before: the old key only
        await open_incident(
            world.client,
            incident_id,
            intake(channel="user_report", category="spam_scam", region="NA", reach=1),
            task_queue=queue,
        )
        await act(world.client, incident_id, Acknowledge(), ANA)
    async with build_worker(rotated, task_queue=queue, engine=world.engine):  # after: k2 first, the old one kept
        await act(rotated, incident_id, AddNote(text="Written after the rotation."), ANA)
        note = "ana (analyst) added a note: Written after the rotation."
        # The note is in the journal once the workflow has recorded it in history; poll for that.
        history, texts = await eventually(lambda: _history_with(rotated, incident_id, note))

        keys = {m[KEY_ID] for m, _ in payloads_in(history.to_document()) if KEY_ID in m}
        assert keys == {old_id, b"k2"}
        assert "ana (analyst) acknowledged the incident." in texts
        with pytest.raises(Undecodable, match="'k2'"):
            await read_journal(history, world.client.data_converter)  # the old ring alone cannot

        app = create_app(temporal=rotated, engine=world.engine)
        async with serving(app) as base:
            token = {"Authorization": f"Bearer {world.tokens['audrey']}"}
            old_payload = _payload_json(
                history.runs[0].events[0].workflow_execution_started_event_attributes.input.payloads[0]
            )
            async with httpx.AsyncClient(base_url=base) as http:
                decoded = await http.post("/codec/decode", json={"payloads": [old_payload]}, headers=token)
                assert decoded.status_code == 200 and b"orders@regulator.example" in base64.b64decode(
                    decoded.json()["payloads"][0]["data"]
                )
                encoded = await http.post("/codec/encode", json={"payloads": decoded.json()["payloads"]}, headers=token)
                assert base64.b64decode(encoded.json()["payloads"][0]["metadata"][KEY_ID]) == b"k2"


async def _history_with(client: Client, incident_id: str, line: str) -> tuple[IncidentHistory, list[str]] | None:
    """The incident's history and timeline lines once `line` is among them, else None."""
    history = await histories.fetch(client, incident_id)
    texts = [
        e.text for e in build_timeline(Reconstruction(await read_journal(history, client.data_converter)), "en").entries
    ]
    return (history, texts) if line in texts else None
