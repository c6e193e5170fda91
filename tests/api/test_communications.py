"""The communications endpoints: GET /api/incidents/{id}/notifications, post_update through the
API, people's email (POST and PATCH /api/users), and GET /api/events, on SQLite and PostgreSQL.

These stacks' workers do not dispatch (tests/notifications delivers for real), so notices wait:
the endpoint must say so rather than claim anything was sent."""

import asyncio
import json
from typing import Any

import pytest

from tests.api.conftest import Stack
from tests.helpers import eventually
from vigil.api.routers.events import stream
from vigil.auth import Principal
from vigil.domain import Role

FIELDS = {
    "key",
    "kind",
    "recipient",
    "address",
    "channel",
    "status",
    "attempts",
    "sent_at",
    "created_at",
    "reason",
    "language",
    "subject",
}


async def _notices(stack: Stack, incident_id: str, user: str = "audrey") -> list[dict[str, Any]]:
    response = await stack.get(f"/api/incidents/{incident_id}/notifications", user)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_notifications_list_each_notice_and_say_it_waits(stack: Stack) -> None:
    incident = await stack.open()  # the README's SEV1 in LATAM: the on-call lead is told
    iid = incident["id"]
    await stack.act(iid, {"type": "assign", "assignee": "bea"}, "ana")
    items = await eventually(lambda: _with_kinds(stack, iid, {"opened", "assigned"}))
    for item in items:
        assert set(item) == FIELDS
        assert item["status"] == "pending" and item["sent_at"] is None and item["address"] is None
        assert item["reason"]  # why it waits, in words
    opened = next(i for i in items if i["kind"] == "opened")
    assert opened["recipient"] == "tier:regional_on_call_lead:LATAM" and opened["language"] == "es"
    assert "Livestream" not in json.dumps(items)  # never the title


async def _with_kinds(stack: Stack, iid: str, kinds: set[str]) -> list[dict[str, Any]] | None:
    if (await stack.get(f"/api/incidents/{iid}/notifications", "audrey")).status_code == 404:
        return None  # not projected yet: within moments
    got = await _notices(stack, iid)
    return got if kinds <= {i["kind"] for i in got} else None


@pytest.mark.parametrize("user", ["ana", "leo", "audrey", "adam"])
async def test_every_reader_may_read_notifications(sqlite_stack: Stack, user: str) -> None:
    incident = await sqlite_stack.open()
    await eventually(lambda: _with_kinds(sqlite_stack, incident["id"], {"opened"}))
    assert await _notices(sqlite_stack, incident["id"], user)


async def test_notifications_of_an_unknown_or_malformed_incident_are_404_and_no_token_is_401(stack: Stack) -> None:
    for path in ("/api/incidents/INC-1999-000001/notifications", "/api/incidents/nope/notifications"):
        response = await stack.get(path, "ana")
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = await stack.http.get("/api/incidents/INC-1999-000001/notifications")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


async def test_a_status_update_through_the_api_is_recorded_and_queued_for_its_audience(stack: Stack) -> None:
    incident = await stack.open()
    iid = incident["id"]
    response = await stack.act(
        iid, {"type": "post_update", "audience": "leadership", "text": "Stream down; police informed."}, "ana"
    )
    assert response.status_code == 200, response.text
    update = response.json()["updates"][-1]
    assert (update["audience"], update["by"], update["text"]) == ("leadership", "ana", "Stream down; police informed.")
    clock = next(c for c in response.json()["clocks"] if c["id"] == "update.due")
    assert clock["met_at"] is None and clock["cancelled_at"] is None
    items = await eventually(lambda: _with_kinds(stack, iid, {"status_update"}))
    queued = next(i for i in items if i["kind"] == "status_update")
    assert queued["recipient"] == "audience:leadership"
    assert "status update from ana" in queued["subject"] or "actualización de estado de ana" in queued["subject"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "post_update", "audience": "press", "text": "x"},
        {"type": "post_update", "audience": "leadership", "text": ""},
        {"type": "post_update", "audience": "leadership", "text": "x", "next_update_at": "tomorrow"},
        {"type": "post_update", "audience": "leadership", "text": "x", "next_update_at": "2026-12-01T10:00:00"},
        {"type": "post_update", "audience": "leadership", "text": "x", "next_update_at": "2001-01-01T00:00:00Z"},
        {"type": "post_update", "audience": "leadership", "text": "x", "next_update_at": "9999-12-31T23:59:59Z"},
    ],
    ids=["unknown-audience", "empty-text", "not-a-time", "naive-time", "in-the-past", "calendar-end"],
)
async def test_a_malformed_status_update_is_422_and_changes_nothing(sqlite_stack: Stack, body: dict[str, Any]) -> None:
    incident = await sqlite_stack.open()
    before = (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "audrey")).json()
    response = await sqlite_stack.act(incident["id"], body, "ana")
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"
    assert (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "audrey")).json() == before


@pytest.mark.parametrize("user", ["audrey", "adam"])
async def test_auditors_and_admins_may_not_post_updates(sqlite_stack: Stack, user: str) -> None:
    incident = await sqlite_stack.open()
    response = await sqlite_stack.act(
        incident["id"], {"type": "post_update", "audience": "leadership", "text": "x"}, user
    )
    assert response.status_code == 403 and response.json()["error"] == "forbidden"


async def test_admins_give_people_an_email_and_nobody_else_may(stack: Stack) -> None:
    made = await stack.post("/api/users", {"name": "mail-person", "role": "analyst", "email": "mp@example.org"}, "adam")
    assert made.status_code in (201, 409), made.text
    listed = {u["name"]: u for u in (await stack.get("/api/users", "ana")).json()["items"]}
    assert listed["mail-person"]["email"] == "mp@example.org"
    changed = await stack.http.patch(
        "/api/users/mail-person", json={"email": "new@example.org"}, headers=stack.auth("adam")
    )
    assert changed.status_code == 200 and changed.json()["email"] == "new@example.org"
    for user in ("ana", "leo", "audrey"):
        refused = await stack.http.patch(
            "/api/users/mail-person", json={"email": "x@example.org"}, headers=stack.auth(user)
        )
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    for bad in ({"email": "not an address"}, {"email": "a@b"}, {"mail": "x@example.org"}, {}):
        refused = await stack.http.patch("/api/users/mail-person", json=bad, headers=stack.auth("adam"))
        assert refused.status_code == 422, (bad, refused.text)
    missing = await stack.http.patch("/api/users/nobody-here", json={"email": None}, headers=stack.auth("adam"))
    assert missing.status_code == 404
    bad_new = await stack.post("/api/users", {"name": "bad-mail", "role": "analyst", "email": "x"}, "adam")
    assert bad_new.status_code == 422
    listed = {u["name"]: u for u in (await stack.get("/api/users", "ana")).json()["items"]}
    assert listed["mail-person"]["email"] == "new@example.org" and "bad-mail" not in listed


async def test_the_event_stream_sends_each_journal_entry_and_resumes_after_the_last_id(stack: Stack) -> None:
    """The stream's own generator on this stack's database (the HTTP stream: tests/console)."""
    ana = Principal(name="ana", role=Role.ANALYST)
    incident = await stack.open()
    iid = incident["id"]
    await stack.act(iid, {"type": "acknowledge"}, "ana")
    await stack.act(iid, {"type": "add_note", "text": "checked"}, "ana")

    async def read(last: int | None, wanted: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        stop = asyncio.Event()

        async def gone() -> bool:
            return stop.is_set()

        async def collect() -> None:
            async for event in stream(stack.engine, ana, last, gone):
                events.append(event)
                mine = [e for e in events if e["event"] == "change" and json.loads(e["data"])["incident_id"] == iid]
                if len(mine) >= wanted:
                    stop.set()
                    return

        await asyncio.wait_for(collect(), 20)
        return events

    first = await eventually(lambda: _first_change(stack, iid))
    events = await read(first - 1, 3)
    assert events[0]["event"] == "waiting" and set(json.loads(events[0]["data"])) == {"approvals", "assigned"}
    mine = [json.loads(e["data"]) | {"id": int(e["id"])} for e in events if e["event"] == "change"]
    mine = [m for m in mine if m["incident_id"] == iid]
    assert [m["kind"] for m in mine] == ["open", "acknowledge", "add_note"]
    assert [m["entry_no"] for m in mine] == [1, 2, 3] and mine == sorted(mine, key=lambda m: m["id"])
    assert all(set(m) >= {"status", "severity", "seq", "kind", "incident_id"} for m in mine)
    resumed = await read(mine[1]["id"], 1)  # as after a reconnect with Last-Event-ID
    again = [
        json.loads(e["data"]) for e in resumed if e["event"] == "change" and json.loads(e["data"])["incident_id"] == iid
    ]
    assert [m["kind"] for m in again] == ["add_note"]


def _first_change(stack: Stack, iid: str) -> int | None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from vigil.db.tables import ChangeRow

    with Session(stack.engine) as session:
        count = session.scalar(select(func.count()).select_from(ChangeRow).where(ChangeRow.incident_id == iid))
        first = session.scalar(select(func.min(ChangeRow.id)).where(ChangeRow.incident_id == iid))
    return first if count and count >= 3 else None
