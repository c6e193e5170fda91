"""GET /api/events over real HTTP (uvicorn): a text/event-stream that resumes from Last-Event-ID,
and its refusals (no token 401, a Last-Event-ID that is not ours 422)."""

import json

import httpx

from tests.console.conftest import Console


async def _events(console: Console, headers: dict[str, str], wanted: int, incident_id: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    event: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as http:
        async with http.stream("GET", "/api/events", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line == "":
                    if event.get("event") == "change" and json.loads(event["data"])["incident_id"] == incident_id:
                        found.append(event)
                        if len(found) == wanted:
                            return found
                    event = {}
                elif ":" in line and not line.startswith(":"):
                    field, _, value = line.partition(":")
                    event[field] = value.strip()
    return found


async def test_the_stream_resumes_from_last_event_id(console: Console) -> None:
    incident = await console.open()
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    first = await _events(console, console.auth("leo") | {"Last-Event-ID": "0"}, 2, iid)
    assert [json.loads(e["data"])["kind"] for e in first] == ["open", "acknowledge"]
    await console.act(iid, {"type": "add_note", "text": "after the first read"}, "ana")
    resumed = await _events(console, console.auth("leo") | {"Last-Event-ID": first[-1]["id"]}, 1, iid)
    change = json.loads(resumed[0]["data"])
    assert (
        change["kind"] == "add_note"
        and change["status"] == "investigating"
        and int(resumed[0]["id"]) > int(first[-1]["id"])
    )


async def test_the_stream_needs_a_token_and_a_last_event_id_of_ours(console: Console) -> None:
    async with httpx.AsyncClient(base_url=console.base_url, timeout=10) as http:
        response = await http.get("/api/events")
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        for odd in (b"abc", "\u00b2".encode("latin-1")):  # "²": a digit to str.isdigit, not to int()
            response = await http.get("/api/events", headers=console.auth("ana") | {"Last-Event-ID": odd})
            assert response.status_code == 422 and response.json()["error"] == "invalid"
        response = await http.get("/api/events", headers=console.auth("ana"), params={"after": "-1"})
        assert response.status_code == 422 and response.json()["error"] == "invalid"
        response = await http.get("/events")  # the console's own stream: sign in first
        assert response.status_code == 303
