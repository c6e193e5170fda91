"""Whatever a client sends, the answer is the right status with a JSON error, never a 500,
and a refused request changes nothing."""

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlmodel import col

from tests.api.conftest import Stack, intake_body
from vigil import auth
from vigil.db.tables import TokenRow

JSON = {"Content-Type": "application/json"}


def _assert_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "detail"} and body["detail"]
    if error:
        assert body["error"] == error
    return body


BAD_INTAKES = {
    "malformed JSON": b'{"title": "x", "channel": ',
    "JSON array": b"[1, 2, 3]",
    "JSON string": b'"hello"',
    "empty body": b"",
    "wrong type for reach": json.dumps(intake_body(reach="lots")).encode(),
    "negative reach": json.dumps(intake_body(reach=-5)).encode(),
    "unknown field": json.dumps({**intake_body(), "priority": "urgent"}).encode(),
    "bad channel": json.dumps(intake_body(channel="carrier_pigeon")).encode(),
    "bad category": json.dumps(intake_body(category="rudeness")).encode(),
    "bad region": json.dumps(intake_body(region="MARS")).encode(),
    "bad language": json.dumps(intake_body(language="klingon")).encode(),
    "missing title": json.dumps({k: v for k, v in intake_body().items() if k != "title"}).encode(),
    "blank title": json.dumps(intake_body(title="   ")).encode(),
    "title too long": json.dumps(intake_body(title="x" * 301)).encode(),
    "NUL in description": json.dumps(intake_body(description="a\u0000b")).encode(),
    "deadline without timezone": json.dumps(intake_body(deadline="2026-11-25T10:00:00")).encode(),
    "actor in body": json.dumps({**intake_body(), "actor": {"user": "leo", "role": "lead"}}).encode(),
    "javascript: content URL": json.dumps(intake_body(content=[{"url": "javascript:alert(document.cookie)"}])).encode(),
    "data: content URL": json.dumps(intake_body(content=[{"url": "data:text/html,<script>x</script>"}])).encode(),
    "content URL without a host": json.dumps(intake_body(content=[{"url": "https:///nothing"}])).encode(),
    "relative content URL": json.dumps(intake_body(content=[{"url": "/etc/passwd"}])).encode(),
}


@pytest.mark.parametrize("raw", list(BAD_INTAKES.values()), ids=list(BAD_INTAKES))
async def test_bad_intake_is_422_and_changes_nothing(sqlite_stack: Stack, raw: bytes) -> None:
    before = sqlite_stack.counts()
    response = await sqlite_stack.http.post("/api/incidents", content=raw, headers={**JSON, **sqlite_stack.auth("ana")})
    _assert_error(response, 422, "invalid")
    assert sqlite_stack.counts() == before


async def test_huge_body_is_413_and_changes_nothing(sqlite_stack: Stack) -> None:
    before = sqlite_stack.counts()
    huge = json.dumps(intake_body(description="x" * 2_000_000)).encode()
    headers = {**JSON, **sqlite_stack.auth("ana")}
    response = await sqlite_stack.http.post("/api/incidents", content=huge, headers=headers)
    body = _assert_error(response, 413, "payload_too_large")
    assert "limit" in body["detail"]
    assert sqlite_stack.counts() == before


async def test_huge_body_without_length_is_413(sqlite_stack: Stack) -> None:
    async def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    before = sqlite_stack.counts()
    headers = {**JSON, **sqlite_stack.auth("ana")}
    response = await sqlite_stack.http.post("/api/incidents", content=chunks(), headers=headers)
    _assert_error(response, 413, "payload_too_large")
    assert sqlite_stack.counts() == before


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "vbscript:x"])
async def test_content_urls_must_be_http_or_https(sqlite_stack: Stack, url: str) -> None:
    before = sqlite_stack.counts()
    body = intake_body(content=[{"url": "https://video.example/ok"}, {"url": url, "graphic": True}])
    response = await sqlite_stack.post("/api/incidents", body, "ana")
    assert "content.1.url" in _assert_error(response, 422, "invalid")["detail"]
    assert sqlite_stack.counts() == before


@pytest.mark.parametrize("depth", [40, 5000, 100_000])
async def test_a_deeply_nested_body_is_422_saying_so(sqlite_stack: Stack, depth: int) -> None:
    before = sqlite_stack.counts()
    nested = b'{"title": ' + b"[" * depth + b"]" * depth + b"}"
    for path in ("/api/incidents", "/api/incidents/INC-2026-000001/actions"):
        response = await sqlite_stack.http.post(path, content=nested, headers={**JSON, **sqlite_stack.auth("ana")})
        detail = _assert_error(response, 422, "invalid")["detail"]
        assert "levels deep" in detail and "UTF-8" not in detail
    assert sqlite_stack.counts() == before


async def test_brackets_inside_strings_are_not_nesting(sqlite_stack: Stack) -> None:
    in_text = await sqlite_stack.post("/api/incidents", intake_body(description='"[' * 100 + "{\\" * 100), "ana")
    assert in_text.status_code == 201, in_text.text
    read = await sqlite_stack.get(f"/api/incidents/{in_text.json()['id']}", "ana")  # projected: counts settle
    assert read.status_code == 200


async def test_body_that_is_not_json_says_how_to_send_it(sqlite_stack: Stack) -> None:
    response = await sqlite_stack.http.post(
        "/api/incidents",
        content=json.dumps(intake_body()).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **sqlite_stack.auth("ana")},
    )
    body = _assert_error(response, 422, "invalid")
    assert "Content-Type: application/json" in body["detail"]


BAD_ACTIONS = {
    "unknown type": {"type": "delete_everything"},
    "no type": {"team": "legal"},
    "missing field": {"type": "escalate", "team": "legal"},
    "bad team": {"type": "escalate", "team": "marketing", "reason": "x"},
    "bad severity": {"type": "set_severity", "severity": "SEV0", "reason": "x"},
    "bad enforcement action": {"type": "propose_action", "action": "ban_hammer", "rationale": "x"},
    "unknown field": {"type": "acknowledge", "urgent": True},
    "wrong type": {"type": "add_note", "text": 42},
    "empty note": {"type": "add_note", "text": "  "},
    "bad merge target id": {"type": "merge_into", "incident_id": "not-an-id"},
    "assignee nobody knows": {"type": "assign", "assignee": "ghost"},
    "assignee who cannot take incidents": {"type": "assign", "assignee": "audrey"},
    "merge into an unknown incident": {"type": "merge_into", "incident_id": "INC-1999-999999"},
    "NUL in a note": {"type": "add_note", "text": "a\u0000b"},
}


@pytest.mark.parametrize("body", list(BAD_ACTIONS.values()), ids=list(BAD_ACTIONS))
async def test_bad_action_is_422_and_changes_nothing(sqlite_stack: Stack, body: dict) -> None:
    incident = await sqlite_stack.open(title="Target of bad actions")
    acked = (await sqlite_stack.act(incident["id"], {"type": "acknowledge"}, "ana")).json()
    before = (await sqlite_stack.get(f"/api/incidents/{incident['id']}?min_seq={acked['seq']}", "ana")).json()
    response = await sqlite_stack.act(incident["id"], body, "leo")
    _assert_error(response, 422, "invalid")
    after = (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "ana")).json()
    assert after == before


async def test_action_refused_by_the_state_machine_is_409_with_the_reason(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Escalated before acknowledging")
    response = await sqlite_stack.act(incident["id"], {"type": "escalate", "team": "legal", "reason": "x"}, "ana")
    body = _assert_error(response, 409, "conflict")
    assert body["detail"] == "cannot escalate an incident that is triage"
    state = (await sqlite_stack.get(f"/api/incidents/{incident['id']}", "ana")).json()
    assert (state["status"], state["seq"]) == ("triage", incident["seq"])


async def test_well_formed_but_meaningless_action_is_422(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Escalated to its own region")
    await sqlite_stack.act(incident["id"], {"type": "acknowledge"}, "ana")
    response = await sqlite_stack.act(
        incident["id"], {"type": "escalate", "team": "incident_latam", "reason": "x"}, "ana"
    )
    _assert_error(response, 422, "invalid")


@pytest.mark.parametrize(
    "path",
    [
        "/api/incidents/INC-1999-999999",
        "/api/incidents/whatever",
        "/api/incidents/" + "x" * 3000,
        "/api/incidents/INC-1999-999999/timeline",
        "/api/incidents/%00/timeline",
    ],
)
async def test_unknown_incident_is_404(sqlite_stack: Stack, path: str) -> None:
    _assert_error(await sqlite_stack.get(path, "ana"), 404, "not_found")


@pytest.mark.parametrize("incident_id", ["INC-1999-999999", "x" * 3000, "INC-2026-1"])
async def test_action_on_unknown_incident_is_404(sqlite_stack: Stack, incident_id: str) -> None:
    before = sqlite_stack.counts()
    response = await sqlite_stack.act(incident_id, {"type": "acknowledge"}, "ana")
    _assert_error(response, 404, "not_found")
    assert sqlite_stack.counts() == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer vgl_" + "x" * 43},
        {"Authorization": "Basic YW5hOnNlY3JldA=="},
        {"Authorization": "vgl_abc"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
    ids=["none", "empty bearer", "garbage", "unknown token", "basic auth", "no scheme", "enormous"],
)
async def test_bad_token_is_401_and_changes_nothing(sqlite_stack: Stack, headers: dict) -> None:
    before = sqlite_stack.counts()
    response = await sqlite_stack.http.post("/api/incidents", json=intake_body(), headers=headers)
    _assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await sqlite_stack.http.get("/api/incidents", headers=headers)).status_code == 401
    assert sqlite_stack.counts() == before


async def test_revoked_and_disabled_tokens_stop_working(sqlite_stack: Stack) -> None:
    made = await sqlite_stack.post("/api/users", {"name": "temp-analyst", "role": "analyst"}, "adam")
    assert made.status_code == 201
    exchanged = await sqlite_stack.http.post("/api/tokens/exchange", json={"secret": made.json()["secret"]})
    token = exchanged.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await sqlite_stack.http.get("/api/me", headers=bearer)).json()["name"] == "temp-analyst"
    disabled = await sqlite_stack.http.delete("/api/users/temp-analyst", headers=sqlite_stack.auth("adam"))
    assert disabled.status_code == 200 and disabled.json()["disabled_at"]
    _assert_error(await sqlite_stack.http.get("/api/me", headers=bearer), 401, "unauthorized")


async def test_a_token_revoked_by_another_process_is_refused_once_its_memory_expires(
    sqlite_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process revokes straight in the database, which this process's token cache does
    not hear of: the token is still taken until the cache's entry expires (TOKEN_CACHE_SECONDS,
    on a clock this test moves), then refused."""
    now = [0.0]
    monkeypatch.setattr(auth, "recent_tokens", auth.TokenCache(clock=lambda: now[0]))
    made = await sqlite_stack.post("/api/users", {"name": "elsewhere", "role": "analyst"}, "adam")
    exchanged = await sqlite_stack.http.post("/api/tokens/exchange", json={"secret": made.json()["secret"]})
    bearer = {"Authorization": f"Bearer {exchanged.json()['token']}"}
    assert (await sqlite_stack.http.get("/api/me", headers=bearer)).json()["name"] == "elsewhere"
    with Session(sqlite_stack.engine) as session:
        session.execute(update(TokenRow).where(col(TokenRow.user) == "elsewhere").values(revoked_at=datetime.now(UTC)))
        session.commit()
    assert (await sqlite_stack.http.get("/api/me", headers=bearer)).status_code == 200  # remembered
    now[0] += auth.TOKEN_CACHE_SECONDS
    _assert_error(await sqlite_stack.http.get("/api/me", headers=bearer), 401, "unauthorized")


async def test_duplicate_user_is_409(sqlite_stack: Stack) -> None:
    response = await sqlite_stack.post("/api/users", {"name": "ana", "role": "lead"}, "adam")
    _assert_error(response, 409, "conflict")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "vigil", "role": "system"},
        {"name": "vigil", "role": "analyst"},
        {"name": "System", "role": "lead"},
        {"name": "temporal", "role": "admin"},
        {"name": "bad name!", "role": "analyst"},
        {"name": "x", "role": "analyst", "password": "hunter2"},
    ],
)
async def test_bad_new_user_is_422(sqlite_stack: Stack, body: dict) -> None:
    _assert_error(await sqlite_stack.post("/api/users", body, "adam"), 422, "invalid")


@pytest.mark.parametrize(
    "query",
    [
        "sort=title",
        "order=sideways",
        "limit=0",
        "limit=100000",
        "status=open",
        "severity=SEV9",
        "cursor=not-a-cursor",
        "opened_from=yesterday",
        "region=mars",
    ],
)
async def test_bad_list_parameters_are_422(sqlite_stack: Stack, query: str) -> None:
    _assert_error(await sqlite_stack.get(f"/api/incidents?{query}", "ana"), 422, "invalid")


def _cursor(document: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "text=a%00b",
        "assignee=ana%00",
        "text=%1b[31m",
        "cursor=" + _cursor({"s": "opened_at", "o": "desc", "v": None, "id": "INC-2026-000001\u0000"}),
        "sort=severity&cursor=" + _cursor({"s": "severity", "o": "desc", "v": "a\u0000", "id": "INC-2026-000001"}),
    ],
)
async def test_control_characters_in_list_parameters_are_422_on_both_databases(stack: Stack, query: str) -> None:
    """PostgreSQL cannot take NUL in a parameter: refused before the query, never a 500."""
    _assert_error(await stack.get(f"/api/incidents?{query}", "ana"), 422, "invalid")


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-02-30",
        "by=colour",
        "start=2026-05-01&end=2026-04-01",
        "start=2020-01-01&end=2026-01-01",
        # the calendar's ends: the day after `end`, the 29 days before it
        "start=9999-12-31&end=9999-12-31",
        "end=0001-01-05",
        "end=0001-01-01&by=region",
    ],
)
async def test_bad_trend_parameters_are_422(sqlite_stack: Stack, query: str) -> None:
    _assert_error(await sqlite_stack.get(f"/api/trends?{query}", "ana"), 422, "invalid")


async def test_unknown_route_and_wrong_method_answer_in_json(sqlite_stack: Stack) -> None:
    _assert_error(await sqlite_stack.get("/api/nothing-here", "ana"), 404, "not_found")
    _assert_error(
        await sqlite_stack.http.delete("/api/incidents", headers=sqlite_stack.auth("ana")), 405, "method_not_allowed"
    )


async def test_failed_token_attempts_are_limited_per_client_with_retry_after(sqlite_stack: Stack) -> None:
    """A client guessing tokens gets 429 with Retry-After past the limit, even for a real token
    (nothing learnt about any token while limited); other clients are not affected."""
    limit = sqlite_stack.app.state.failed_attempts.limit

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=sqlite_stack.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://vigil.test")

    async with client("203.0.113.7") as guesser, client("203.0.113.8") as neighbour:
        for attempt in range(limit):
            guess = {"Authorization": f"Bearer vgl_guess{attempt}"}
            _assert_error(await guesser.get("/api/me", headers=guess), 401, "unauthorized")
        for headers in ({"Authorization": "Bearer vgl_guess-more"}, sqlite_stack.auth("ana")):
            limited = await guesser.get("/api/me", headers=headers)
            body = _assert_error(limited, 429, "too_many_requests")
            assert "failed token attempts" in body["detail"]
            assert int(limited.headers["Retry-After"]) >= 1
        # The console's sign-in form counts against the same limit.
        form = await guesser.get("/sign-in")
        nonce = form.headers["set-cookie"].split("vigil_sign_in=", 1)[1].split(";", 1)[0]
        signed = await guesser.post("/sign-in", data={"token": sqlite_stack.tokens["ana"], "nonce": nonce})
        assert signed.status_code == 429 and int(signed.headers["Retry-After"]) >= 1
        assert "vigil_session" not in guesser.cookies
        assert (await neighbour.get("/api/me", headers=sqlite_stack.auth("ana"))).status_code == 200


async def test_guessing_enrolment_secrets_is_limited_like_guessing_tokens(sqlite_stack: Stack) -> None:
    """POST /api/tokens/exchange takes no bearer token, the secret is the credential: unknown
    secrets count as failed attempts, and past the limit the client gets 429 with Retry-After."""
    limit = sqlite_stack.app.state.failed_attempts.limit
    transport = httpx.ASGITransport(app=sqlite_stack.app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as guesser:
        for attempt in range(limit):
            guess = {"secret": f"vge_guess{attempt}"}
            _assert_error(await guesser.post("/api/tokens/exchange", json=guess), 401, "unauthorized")
        limited = await guesser.post("/api/tokens/exchange", json={"secret": "vge_guess-more"})
        _assert_error(limited, 429, "too_many_requests")
        assert int(limited.headers["Retry-After"]) >= 1


async def test_an_unreadable_multipart_upload_is_422(sqlite_stack: Stack) -> None:
    """A multipart body that cannot be parsed is malformed input (422), not a bare 400."""
    incident = (
        await sqlite_stack.http.post(
            "/api/incidents",
            json={"title": "Upload target", "channel": "user_report", "category": "spam_scam", "region": "NA"},
            headers=sqlite_stack.auth("ana"),
        )
    ).json()
    boundary = "209658ad0ae85efb27e7443c51ff967a"
    headers = {**sqlite_stack.auth("ana"), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    body = f"--{boundary}\r\n[None]--{boundary}--\r\n".encode()
    response = await sqlite_stack.http.post(f"/api/incidents/{incident['id']}/evidence", content=body, headers=headers)
    _assert_error(response, 422, "invalid")


@pytest.mark.parametrize("exposure_id", ["0", "33299648651351486464", "2147483648"])
async def test_an_exposure_id_past_the_database_integer_is_422(sqlite_stack: Stack, exposure_id: str) -> None:
    response = await sqlite_stack.http.post(
        f"/api/exposure/{exposure_id}/duration", json={"seconds": 3.5}, headers=sqlite_stack.auth("ana")
    )
    _assert_error(response, 422, "invalid")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/evidence/EV-%00", None),
        ("GET", "/api/evidence/%00/content", None),
        ("GET", "/api/evidence/EV-0123456789abcdef0123%00/thumbnail", None),
        ("GET", "/api/evidence/%00/custody", None),
        ("DELETE", "/api/evidence/%00", None),
        ("POST", "/api/evidence/%00/hold", {"hold": True}),
        ("POST", "/api/exposure", {"incident_id": "INC-2026-000001", "evidence_id": "EV-\u0000"}),
    ],
)
async def test_an_evidence_id_that_cannot_be_one_is_404_on_both_databases(
    stack: Stack, method: str, path: str, body: dict | None
) -> None:
    """PostgreSQL refuses a NUL in text with an error: such an id never reaches the database."""
    response = await stack.http.request(method, path, json=body, headers=stack.auth("leo"))
    _assert_error(response, 404, "not_found")


async def test_odd_exposure_parameters_are_422_on_both_databases(stack: Stack) -> None:
    _assert_error(await stack.get("/api/exposure?person=a%00b", "audrey"), 422, "invalid")
    huge = "/api/evidence/EV-0123456789abcdef0123/content?exposure=33299648651351486464"
    _assert_error(await stack.get(huge, "bea"), 422, "invalid")
