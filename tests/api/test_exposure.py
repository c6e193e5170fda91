"""Exposure over the API, on SQLite and PostgreSQL: reveals and fetches counted per person,
category and day; who may read whose; the daily soft limit."""

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.api.conftest import Stack
from tests.api.test_evidence import CHILD_SAFETY, opened, uploaded
from tests.evidence_files import png
from vigil.db.tables import ExposureRow
from vigil.evidence import exposure as exposures
from vigil.policy import DEFAULT_POLICY_PATH

LIVESTREAM = {"content": [{"url": "https://video.example/live/1", "graphic": False}]}


def day_of(report: dict[str, Any], person: str) -> dict[str, Any]:
    found = [d for d in report["days"] if d["person"] == person]
    assert len(found) == 1, report
    return found[0]


async def test_a_reveal_and_its_duration_are_counted_by_category_and_day(stack: Stack) -> None:
    incident_id = await opened(stack, **LIVESTREAM)  # violent extremism: sensitive by policy
    before = day_of_or_none((await stack.get("/api/exposure", "bea")).json(), "bea")
    recorded = await stack.post("/api/exposure", {"incident_id": incident_id, "content_index": 0}, "bea")
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["sensitive"] is True
    told = await stack.post(f"/api/exposure/{recorded.json()['id']}/duration", {"seconds": 90}, "bea")
    assert told.status_code == 200
    after = day_of((await stack.get("/api/exposure", "bea")).json(), "bea")
    assert after["reveals"] == (before["reveals"] if before else 0) + 1
    assert after["minutes"] >= 1.5
    extremism = next(c for c in after["categories"] if c["category"] == "violent_extremism")
    assert extremism["reveals"] >= 1


def day_of_or_none(report: dict[str, Any], person: str) -> dict[str, Any] | None:
    found = [d for d in report["days"] if d["person"] == person]
    return found[0] if found else None


async def test_a_console_reveal_and_the_fetch_that_follows_are_one_exposure(stack: Stack) -> None:
    incident_id = await opened(stack, **CHILD_SAFETY)
    item = await uploaded(stack, incident_id, png(31))
    recorded = (
        await stack.post("/api/exposure", {"incident_id": incident_id, "evidence_id": item["id"]}, "bea")
    ).json()
    fetched = await stack.get(f"{item['content_url']}?exposure={recorded['id']}", "bea")
    assert fetched.status_code == 200
    again = await stack.get(item["content_url"], "bea")  # a fetch on its own is one more
    assert again.status_code == 200
    report = (await stack.get("/api/exposure", "bea")).json()
    child = next(c for c in day_of(report, "bea")["categories"] if c["category"] == "child_safety")
    assert child["reveals"] >= 1 and child["fetches"] >= 1
    custody = (await stack.get(f"/api/evidence/{item['id']}/custody", "leo")).json()["items"]
    assert [c["event"] for c in custody].count("view") == 2  # custody records every fetch


async def test_exposure_is_read_by_the_person_their_leads_and_auditors_only(stack: Stack) -> None:
    incident_id = await opened(stack, **LIVESTREAM)
    for person in ("ana", "bea"):
        response = await stack.post("/api/exposure", {"incident_id": incident_id, "content_index": 0}, person)
        assert response.status_code == 201
    own = (await stack.get("/api/exposure", "ana")).json()
    assert own["scope"] == "own" and {d["person"] for d in own["days"]} == {"ana"}
    assert (await stack.get("/api/exposure?person=bea", "ana")).status_code == 403
    team = (await stack.get("/api/exposure", "leo")).json()
    assert team["scope"] == "team" and {"ana", "bea"} <= {d["person"] for d in team["days"]}
    everyone = (await stack.get("/api/exposure?person=bea", "audrey")).json()
    assert everyone["scope"] == "all" and {d["person"] for d in everyone["days"]} == {"bea"}
    admin = (await stack.get("/api/exposure", "adam")).json()
    assert admin["days"] == []  # an admin manages accounts: their own exposure only
    assert (
        await stack.post("/api/exposure", {"incident_id": incident_id, "content_index": 0}, "adam")
    ).status_code == 403


async def test_past_the_daily_soft_limit_the_answer_says_so(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_PATH.read_text().replace("daily_reveals = 40", "daily_reveals = 2")
    strict.write_text(text)
    monkeypatch.setenv("VIGIL_POLICY", str(strict))
    incident_id = await opened(stack, **LIVESTREAM)
    answers = [
        (await stack.post("/api/exposure", {"incident_id": incident_id, "content_index": 0}, "lena")).json()
        for _ in range(2)
    ]
    assert answers[-1]["today"]["over_limit"] is True and answers[-1]["today"]["limit_reveals"] == 2
    assert day_of((await stack.get("/api/exposure", "lena")).json(), "lena")["over_limit"] is True


async def test_bad_exposure_requests_are_refused(stack: Stack) -> None:
    incident_id = await opened(stack, **LIVESTREAM)
    assert (
        await stack.post("/api/exposure", {"incident_id": incident_id, "content_index": 5}, "ana")
    ).status_code == 404
    assert (await stack.post("/api/exposure", {"incident_id": incident_id}, "ana")).status_code == 404
    missing = {"incident_id": incident_id, "evidence_id": "EV-nothing"}
    assert (await stack.post("/api/exposure", missing, "ana")).status_code == 404
    assert (
        await stack.post("/api/exposure", {"incident_id": "INC-2026-999999", "content_index": 0}, "ana")
    ).status_code == 404
    assert (await stack.post("/api/exposure", {"incident_id": incident_id, "seconds": -1}, "ana")).status_code == 422
    mine = (await stack.post("/api/exposure", {"incident_id": incident_id, "content_index": 0}, "ana")).json()
    assert (await stack.post(f"/api/exposure/{mine['id']}/duration", {"seconds": 5}, "bea")).status_code == 404
    assert (await stack.get("/api/exposure?from=2026-12-09&to=2026-12-01", "ana")).status_code == 422
    assert (await stack.get("/api/exposure?from=2026-01-01&to=2026-12-01", "ana")).status_code == 422
    assert (await stack.get("/api/exposure?from=yesterday", "ana")).status_code == 422


async def test_days_are_utc_days_summed_by_the_database(stack: Stack) -> None:
    """Exposures either side of midnight UTC fall on two days; non-sensitive ones are listed by
    category but not counted towards the limit (days() groups in SQL, on each database)."""
    incident_id = await opened(stack, **LIVESTREAM)
    person = f"night-{uuid.uuid4().hex[:6]}"
    late, early = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC)
    made = [(late, True, 30.0), (late, True, 60.0), (early, True, 15.0), (early, False, 600.0)]
    with Session(stack.engine) as session:
        for at, sensitive, seconds in made:
            category = "violent_extremism" if sensitive else "spam_scam"
            session.add(
                ExposureRow(person=person, incident_id=incident_id, category=category, sensitive=sensitive,
                            kind="reveal", at=at, seconds=seconds, content_index=0)
            )  # fmt: skip
        session.commit()
    found = exposures.days(stack.engine, date(2026, 3, 1), date(2026, 3, 2), {person})
    assert [(d.day, d.reveals, d.seconds) for d in found] == [(date(2026, 3, 1), 2, 90.0), (date(2026, 3, 2), 1, 15.0)]
    assert found[1].categories["spam_scam"] == {"reveals": 1, "seconds": 600.0}
    assert exposures.days(stack.engine, date(2026, 3, 2), date(2026, 3, 2), {person})[0].reveals == 1
    assert exposures.days(stack.engine, date(1, 1, 1), date(1, 1, 1), {"nobody-at-all"}) == []
    for edge in ("from=9999-12-31&to=9999-12-31", "to=0001-01-01", "from=0001-01-01&to=0001-01-02"):
        answer = await stack.get(f"/api/exposure?{edge}", "audrey")
        assert answer.status_code == 200 and answer.json()["days"] == [], (edge, answer.text)
