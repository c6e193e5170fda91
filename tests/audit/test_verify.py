"""Tamper evidence: the hash chain sealed at close, checked by GET /api/incidents/{id}/verify
and `vigil audit verify ID|FILE`; an altered copy is caught at its first altered event."""

import asyncio
import base64
import json

import pytest

from tests.audit.conftest import World


async def _closed(world: World) -> list[str]:
    items = (await world.get("/api/incidents?status=closed&status=merged&limit=200", "audrey")).json()["items"]
    return [i["id"] for i in items]


async def test_every_sealed_history_is_intact(world: World) -> None:
    closed = await _closed(world)
    assert len(closed) >= 10
    for incident_id in closed:
        response = await world.get(f"/api/incidents/{incident_id}/verify", "audrey")
        assert response.status_code == 200, response.text
        verdict = response.json()
        assert verdict["intact"] and verdict["first_altered_event"] is None, verdict["detail"]
        assert verdict["events"] == verdict["sealed_events"] and verdict["search_attribute_matches"] is True


async def test_the_seal_covers_every_run(world: World) -> None:
    incident_id = world.one("continued-as-new")
    seal = (await world.get(f"/api/incidents/{incident_id}/seal", "adam")).json()
    history = (await world.get(f"/api/incidents/{incident_id}/history?approvals=false", "adam")).json()
    assert len(seal["run_ids"]) == len(history["runs"]) >= 2
    assert len(seal["chain"]) == seal["events"] and seal["chain"][-1] == seal["digest"] == seal["search_attribute"]
    assert seal["events"] > sum(len(r["history"]["events"]) for r in history["runs"][:-1])


async def test_an_open_incident_is_not_sealed_yet(world: World) -> None:
    for path in ("verify", "seal"):
        response = await world.get(f"/api/incidents/{world.one('left-in-triage')}/{path}", "audrey")
        assert response.status_code == 409, response.text
        assert "sealed when the incident closes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("user", "incident_id", "status"),
    [
        ("ana", None, 403),
        ("leo", None, 403),
        ("audrey", "INC-1999-999999", 404),
        ("adam", "whatever", 404),
    ],
)
async def test_verify_is_for_auditors_and_known_incidents(
    world: World, user: str, incident_id: str | None, status: int
) -> None:
    response = await world.get(f"/api/incidents/{incident_id or world.one('rejected')}/verify", user)
    assert response.status_code == status


async def test_cli_verifies_an_incident_by_id(world: World) -> None:
    result = await asyncio.to_thread(world.audit_cli, "verify", world.one("reopened"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"intact  {world.one('reopened')}: all ") and "match the seal" in result.output


async def test_cli_verifies_an_exported_copy_and_catches_a_tampered_one(world: World, tmp_path) -> None:
    incident_id = world.one("continued-as-new")
    document = (await world.get(f"/api/incidents/{incident_id}/history", "audrey")).json()
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(document))
    intact = await asyncio.to_thread(world.audit_cli, "verify", str(copy))
    assert intact.exit_code == 0 and intact.output.startswith("intact"), intact.output

    # Someone rewrites history in the second run: an event is moved back an hour.
    first_run = len(document["runs"][0]["history"]["events"])
    event = document["runs"][1]["history"]["events"][9]
    moment = event["eventTime"]  # 2026-11-25T10:53:12.123456789Z
    event["eventTime"] = f"{moment[:11]}{(int(moment[11:13]) - 1) % 24:02d}{moment[13:]}"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    result = await asyncio.to_thread(world.audit_cli, "verify", str(tampered), "--output-json")
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)
    assert not verdict["intact"]
    assert verdict["first_altered_event"] == first_run + 10
    assert verdict["first_altered"] == {"number": first_run + 10, "run": 2, "event_id": 10}

    said = await asyncio.to_thread(world.audit_cli, "verify", str(tampered))
    assert f"ALTERED {incident_id}: first altered: event {first_run + 10} (run 2, event id 10)" in said.output


async def test_a_changed_encrypted_payload_is_caught_too(world: World, tmp_path) -> None:
    incident_id = world.one("rejected")
    document = (await world.get(f"/api/incidents/{incident_id}/history", "audrey")).json()
    events = document["runs"][0]["history"]["events"]
    accepted = [
        (n, e["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]["input"])
        for n, e in enumerate(events, start=1)
        if "workflowExecutionUpdateAcceptedEventAttributes" in e
    ]
    number, request = next((n, r) for n, r in accepted if r["name"] == "act")  # an action someone took
    payload = request["args"]["payloads"][0]
    data = bytearray(base64.b64decode(payload["data"]))
    data[-1] ^= 1
    payload["data"] = base64.b64encode(bytes(data)).decode()
    (tmp_path / "tampered.jsonl").write_text(json.dumps(document) + "\n")
    result = await asyncio.to_thread(world.audit_cli, "verify", str(tmp_path / "tampered.jsonl"), "--output-json")
    assert result.exit_code == 1 and json.loads(result.stdout)["first_altered_event"] == number


async def test_cli_verify_of_nonsense_says_what_it_expected(world: World, tmp_path) -> None:
    result = await asyncio.to_thread(world.audit_cli, "verify", "yesterday")
    assert result.exit_code == 1 and "neither an incident id" in result.output
    (tmp_path / "x.json").write_text('{"events": []}')
    result = await asyncio.to_thread(world.audit_cli, "verify", str(tmp_path / "x.json"))
    assert result.exit_code == 1 and "not a Vigil history export" in result.output
