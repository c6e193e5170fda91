"""Intake: readable sequential ids, and exactly one incident per external_ref, however many
copies arrive at once and at however many API replicas."""

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.api.conftest import Stack, intake_body
from tests.helpers import eventually
from vigil.api.app import create_app
from vigil.db.engine import make_engine
from vigil.db.intake import reserve_incident
from vigil.db.tables import IntakeKeyRow

ID = re.compile(r"^INC-\d{4}-\d{6}$")


def _number(incident_id: str) -> int:
    return int(incident_id.rsplit("-", 1)[1])


async def test_each_intake_gets_the_next_readable_id(stack: Stack) -> None:
    first, second = await stack.open(title="First report"), await stack.open(title="Second report")
    assert ID.match(first["id"]) and ID.match(second["id"])
    assert _number(second["id"]) == _number(first["id"]) + 1


async def test_twenty_concurrent_duplicate_posts_open_one_incident(stack: Stack) -> None:
    ref = f"TCO-2026-{uuid.uuid4().hex[:8]}"
    body = intake_body(external_ref=ref, title="Removal order for an attack video")
    responses = await asyncio.gather(*(stack.post("/api/incidents", body, "ana") for _ in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    (incident_id,) = ids
    assert all(r.json()["status"] == "triage" for r in responses)
    with Session(stack.engine) as session:
        keys = session.scalars(select(IntakeKeyRow).where(IntakeKeyRow.external_ref == ref)).all()
    assert [k.incident_id for k in keys] == [incident_id]
    # Exactly one workflow exists for it, and no id was burnt by the 19 duplicates.
    handle = stack.temporal.get_workflow_handle(incident_id)
    assert (await handle.describe()).id == incident_id
    after = await stack.open(title="The next, unrelated report")
    assert _number(after["id"]) == _number(incident_id) + 1


async def test_duplicates_at_two_api_replicas_open_one_incident(stack: Stack) -> None:
    # A second replica: its own app and its own connection pool to the same database.
    replica_engine = make_engine(stack.engine.url.render_as_string(hide_password=False))
    replica = create_app(temporal=stack.temporal, engine=replica_engine, task_queue=stack.app.state.task_queue)
    ref = f"PRESS-{uuid.uuid4().hex[:8]}"
    body = intake_body(external_ref=ref, channel="press", title="Journalist asks about the threat video")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica), base_url="http://replica") as other:
        posts = [stack.post("/api/incidents", body, "ana") for _ in range(10)]
        posts += [other.post("/api/incidents", json=body, headers=stack.auth("bea")) for _ in range(10)]
        responses = await asyncio.gather(*posts)
    replica_engine.dispose()
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_duplicate_of_a_merged_incident_returns_it_without_reopening(stack: Stack) -> None:
    target = await stack.open(title="Main incident")
    ref = f"DUP-{uuid.uuid4().hex[:8]}"
    duplicate = (await stack.post("/api/incidents", intake_body(external_ref=ref, title="Same thing"), "ana")).json()
    merged = await stack.act(duplicate["id"], {"type": "merge_into", "incident_id": target["id"]}, "ana")
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged"

    async def projected_merged() -> bool:
        response = await stack.get(f"/api/incidents?text={ref}", "ana")
        return response.json()["items"][0]["status"] == "merged"

    await eventually(projected_merged)
    handle = stack.temporal.get_workflow_handle(duplicate["id"])

    async def completed():
        description = await handle.describe()
        return description if description.status and description.status.name == "COMPLETED" else None

    before = await eventually(completed)
    again = await stack.post("/api/incidents", intake_body(external_ref=ref, title="Same thing"), "ana")
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["status"]) == (duplicate["id"], "merged")
    after = await handle.describe()
    assert (after.run_id, after.status) == (before.run_id, before.status)  # not restarted


def test_id_reservation_is_atomic_across_connections(stack: Stack) -> None:
    # 40 reservations from 8 threads, each with its own engine: every number handed out once.
    url = stack.engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda i: reserve_incident(engines[i % 8]).incident_id, range(40)))
    for engine in engines:
        engine.dispose()
    numbers = sorted(_number(i) for i in ids)
    assert len(set(numbers)) == 40
    assert numbers == list(range(numbers[0], numbers[0] + 40))


def test_one_claim_per_external_ref_across_connections(stack: Stack) -> None:
    url = stack.engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url) for _ in range(8)]
    ref = f"RACE-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        reservations = list(pool.map(lambda i: reserve_incident(engines[i % 8], ref), range(24)))
    for engine in engines:
        engine.dispose()
    assert sum(r.created for r in reservations) == 1
    assert len({r.incident_id for r in reservations}) == 1
    with Session(stack.engine) as session:
        assert session.scalar(select(func.count()).where(IntakeKeyRow.external_ref == ref)) == 1


@pytest.mark.parametrize(
    "change",
    [{"category": "spam_scam"}, {"channel": "press"}, {"region": "EMEA"}],
    ids=["category", "channel", "region"],
)
async def test_a_repeated_external_ref_that_says_something_else_is_409_with_the_existing_id(
    stack: Stack, change: dict[str, str]
) -> None:
    """A child-safety report must never fold silently into another incident because a channel
    reused a reference: same reference, different category, channel or region is a conflict."""
    ref = f"conflict-{uuid.uuid4().hex[:8]}"
    first = (await stack.post("/api/incidents", intake_body(external_ref=ref), "ana")).json()
    assert (await stack.get(f"/api/incidents/{first['id']}", "ana")).status_code == 200  # projected
    before = stack.counts()
    other = await stack.post("/api/incidents", intake_body(external_ref=ref, **change), "ana")
    assert other.status_code == 409, other.text
    body = other.json()
    assert body["error"] == "conflict" and body["incident_id"] == first["id"]
    assert first["id"] in body["detail"] and next(iter(change)) in body["detail"]
    assert other.headers["location"] == f"/api/incidents/{first['id']}"
    assert stack.counts() == before
    same = await stack.post("/api/incidents", intake_body(external_ref=ref, title="Retried"), "ana")
    assert same.status_code == 200 and same.json()["id"] == first["id"]
