"""Reviews, the weekly report and recommendations through the API, on the dev server with a real
worker, on SQLite and PostgreSQL: what each answers, who may, and odd input (never a 500)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import Stack
from tests.helpers import eventually
from vigil.db.tables import OutboxRow
from vigil.policy import load_policy
from vigil.reports.schedule import SCHEDULE_ID, ensure_weekly_schedule


def _in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


ROLES = {"analyst": "ana", "lead": "leo", "auditor": "audrey", "admin": "adam"}


async def _resolved_sev1(stack: Stack, title: str) -> str:
    incident = await stack.open(title=title)
    assert incident["severity"] == "SEV1"
    iid = incident["id"]
    assert (await stack.act(iid, {"type": "acknowledge"}, "ana")).status_code == 200
    resolved = await stack.act(iid, {"type": "resolve", "resolution": "no_violation", "summary": "A hoax."}, "ana")
    assert resolved.status_code == 200, resolved.text
    RESOLVED_SEQ[iid] = resolved.json()["seq"]
    return iid


RESOLVED_SEQ: dict[str, int] = {}  # incident -> the seq its resolution answered with


async def _projected(stack: Stack, iid: str) -> dict:
    async def ready() -> dict | None:
        response = await stack.get(f"/api/incidents/{iid}/review", "audrey")
        body = response.json()
        return body if response.headers.get("x-vigil-source") == "projection" and body["key_moments"] else None

    return await eventually(ready, timeout=30)


async def test_a_resolved_sev1_has_its_review_at_once_and_it_is_edited_through_the_actions_path(stack: Stack) -> None:
    iid = await _resolved_sev1(stack, "Review me: hoax threat")
    first = await stack.get(f"/api/incidents/{iid}/review?min_seq={RESOLVED_SEQ[iid]}", "ana")
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["owner"], first.json()["incident_id"]) == ("open", "ana", iid)
    review = await _projected(stack, iid)
    assert {"acknowledge", "resolve"} <= {m["type"] for m in review["key_moments"]}

    edited = await stack.act(iid, {"type": "review_edit", "section": "summary", "text": "A hoax, found fast."}, "bea")
    assert edited.status_code == 200, edited.text
    assert edited.json()["summary"] == "A hoax, found fast." and edited.json()["seq"] == review["seq"] + 1
    added = await stack.act(
        iid,
        {"type": "review_add_follow_up", "text": "Share the hoax pattern.", "owner": "bea", "due": _in_days(30)},
        "ana",
    )
    assert added.status_code == 200 and added.json()["follow_ups"][0]["owner"] == "bea"
    mine = await eventually(lambda: _follow_ups(stack, "bea", iid))
    assert [f["text"] for f in mine] == ["Share the hoax pattern."]

    markdown = await stack.http.get(
        f"/api/incidents/{iid}/review", headers={**stack.auth("leo"), "Accept": "text/markdown"}, params={"lang": "es"}
    )
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert f"# Revisión posterior al incidente {iid}" in markdown.text and "A hoax, found fast." in markdown.text
    pdf = await stack.http.get(
        f"/api/incidents/{iid}/review", headers={**stack.auth("leo"), "Accept": "application/pdf"}
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def _follow_ups(stack: Stack, owner: str, iid: str) -> list[dict]:
    items = (await stack.get(f"/api/follow-ups?owner={owner}", "ana")).json()["items"]
    return [i for i in items if i["incident_id"] == iid]


async def test_review_changes_follow_the_role_rules_and_refuse_bad_input(stack: Stack) -> None:
    iid = await _resolved_sev1(stack, "Review roles")
    before = await _projected(stack, iid)
    for user in ("audrey", "adam"):
        refused = await stack.act(iid, {"type": "review_edit", "section": "summary", "text": "x"}, user)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    for body, status in (
        ({"type": "review_edit", "section": "colour", "text": "x"}, 422),
        ({"type": "review_edit", "section": "summary", "text": "a\u0000b"}, 422),
        ({"type": "review_assign", "owner": "nobody-here"}, 422),
        ({"type": "review_assign", "owner": "audrey"}, 422),  # auditors own no reviews
        ({"type": "review_add_follow_up", "text": "x", "owner": "bea", "due": "2026-02-30"}, 422),
        ({"type": "review_add_follow_up", "text": "x", "owner": "bea", "due": "2001-01-01"}, 422),
        ({"type": "review_add_follow_up", "text": "x", "owner": "bea", "due": "9999-12-31"}, 422),
        ({"type": "review_close_follow_up", "follow_up_id": "nope"}, 409),
        ({"type": "review_complete"}, 422),  # nothing written yet
        ({"type": "review_open", "start": {}}, 422),  # Vigil's own step: not an action anyone sends
    ):
        response = await stack.act(iid, body, "ana")
        assert response.status_code == status, (body, response.text)
        assert set(response.json()) >= {"error", "detail"}
    after = (await stack.get(f"/api/incidents/{iid}/review", "audrey")).json()
    assert after["seq"] == before["seq"]


async def test_an_incident_without_a_review_says_why(stack: Stack) -> None:
    incident = await stack.open(title="Still open")
    iid = incident["id"]
    missing = await stack.get(f"/api/incidents/{iid}/review", "ana")
    assert missing.status_code == 404 and "opens when" in missing.json()["detail"]
    refused = await stack.act(iid, {"type": "review_edit", "section": "summary", "text": "x"}, "ana")
    assert refused.status_code == 409 and "no review" in refused.json()["detail"]
    unknown = await stack.get("/api/incidents/INC-2026-999998/review", "ana")
    assert unknown.status_code == 404
    odd = await stack.get("/api/incidents/not-an-id/review", "ana")
    assert odd.status_code == 404


@pytest.mark.parametrize("role", list(ROLES))
async def test_every_role_reads_reports_recommendations_and_reviews(sqlite_stack: Stack, role: str) -> None:
    user = ROLES[role]
    for path in ("/api/reports/weekly?week=2026-W48", "/api/trends/recommendations", f"/api/follow-ups?owner={user}"):
        response = await sqlite_stack.get(path, user)
        assert response.status_code == 200, (path, response.text)


async def test_the_weekly_report_in_html_pdf_and_json_holds_no_titles(stack: Stack) -> None:
    title = f"Unique title {uuid.uuid4().hex[:8]} that must not leave the console"
    await _resolved_sev1(stack, title)
    html = await stack.get("/api/reports/weekly", "leo")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Weekly report" in html.text and title not in html.text and "Unidad de Policía" not in html.text
    spanish = await stack.get("/api/reports/weekly?lang=es", "leo")
    assert "Informe semanal" in spanish.text
    pdf = await stack.http.get("/api/reports/weekly", headers={**stack.auth("leo"), "Accept": "application/pdf"})
    assert pdf.content.startswith(b"%PDF")
    figures = await stack.http.get(
        "/api/reports/weekly", params={"week": "2026-W48"}, headers={**stack.auth("leo"), "Accept": "application/json"}
    )
    body = figures.json()
    assert (body["week"], body["start"], body["end"], len(body["previous"])) == (
        "2026-W48",
        "2026-11-23",
        "2026-11-29",
        4,
    )
    assert title not in figures.text


@pytest.mark.parametrize(
    "week",
    ["2026-W99", "0000-W01", "9999-W52", "9999-W53", "2021-W53", "2026-W00", "2026-48", "W48", "2026-W4", "x" * 21, ""],
)
async def test_weeks_that_are_not_weeks_are_422(sqlite_stack: Stack, week: str) -> None:
    response = await sqlite_stack.get(f"/api/reports/weekly?week={week}", "leo")
    if week == "":
        assert response.status_code == 200  # no week: last week
        return
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize("week", ["0001-W01", "0001-W02", "9999-W51", "2020-W53"])
async def test_weeks_at_the_calendars_ends_are_reported(sqlite_stack: Stack, week: str) -> None:
    response = await sqlite_stack.http.get(
        f"/api/reports/weekly?week={week}", headers={**sqlite_stack.auth("leo"), "Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["week"] == week


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31&to=9999-12-31",
        "to=0001-01-05",
        "from=2026-05-01&to=2026-04-01",
        "from=2020-01-01&to=2026-01-01",
        "from=2026-02-30",
        "to=9999-12-31",
    ],
)
async def test_bad_recommendation_ranges_are_422(stack: Stack, query: str) -> None:
    response = await stack.get(f"/api/trends/recommendations?{query}", "ana")
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize(
    "query", ["by=team&every=week", "by=triage_rule", "by=all&every=week", "every=month", "by=team&table=teams"]
)
async def test_trend_parameters_new_and_wrong(stack: Stack, query: str) -> None:
    response = await stack.get(f"/api/trends?start=0001-01-01&end=0001-12-31&{query}", "ana")
    if "month" in query:
        assert response.status_code == 422
    else:
        assert response.status_code == 200, response.text


async def test_the_weekly_schedule_sends_the_report_to_its_audience(sqlite_stack: Stack) -> None:
    policy = load_policy()
    await ensure_weekly_schedule(sqlite_stack.temporal, policy, "api-sqlite")
    await ensure_weekly_schedule(sqlite_stack.temporal, policy, "api-sqlite")  # again: updated, not doubled
    handle = sqlite_stack.temporal.get_schedule_handle(SCHEDULE_ID)
    try:
        described = await handle.describe()
        calendar = described.schedule.spec.calendars[0]
        assert (calendar.hour[0].start, calendar.minute[0].start, calendar.day_of_week[0].start) == (8, 0, 1)
        assert described.schedule.spec.time_zone_name == policy.weekly_report.time_zone
        await handle.trigger()

        def sent() -> list:
            from tests.helpers import rows

            return rows(sqlite_stack.engine, OutboxRow, kind="weekly_report")

        notices = await eventually(sent, timeout=30)
        assert notices[0].recipient == "audience:leadership"
        assert "/reports/weekly?week=" in notices[0].body
    finally:
        await handle.delete()


async def test_an_incident_with_a_review_still_reads_and_replays_for_the_auditor(sqlite_stack: Stack) -> None:
    iid = await _resolved_sev1(sqlite_stack, "Audit with a review")
    await _projected(sqlite_stack, iid)
    edited = await sqlite_stack.act(iid, {"type": "review_edit", "section": "went_well", "text": "Fast triage."}, "ana")
    assert edited.status_code == 200
    timeline = await sqlite_stack.get(f"/api/incidents/{iid}/timeline", "audrey")
    assert timeline.status_code == 200, timeline.text
    assert {"acknowledge", "resolve"} <= {e["type"] for e in timeline.json()["entries"]}
    replayed = await sqlite_stack.post("/api/audit/replay", {"ids": [iid]}, "audrey")
    assert replayed.status_code == 200, replayed.text
    assert [r["result"] for r in replayed.json()["reports"]] == ["ok"], replayed.text


@pytest.mark.parametrize(
    "query",
    ["owner=bad%20name", "owner=" + "x" * 65, "owner=a%00b", "week=2026-W48&lang=" + "x" * 30],
)
async def test_odd_follow_up_and_report_parameters_are_422_or_read_never_500(sqlite_stack: Stack, query: str) -> None:
    path = "/api/reports/weekly" if query.startswith("week") else "/api/follow-ups"
    response = await sqlite_stack.get(f"{path}?{query}", "ana")
    if path.endswith("weekly"):
        assert response.status_code == 200  # an unknown language is English
    else:
        assert response.status_code == 422 and response.json()["error"] == "invalid", response.text
