"""POST /api/incidents/{id}/repair and GET .../repairs: who may, and what they answer when there is
nothing to repair (the repair itself, on a history made to diverge: tests/workflows/test_repair.py)."""

import pytest

from tests.api.conftest import Stack


async def test_an_incident_that_replays_has_nothing_to_repair(sqlite_stack: Stack) -> None:
    incident = await sqlite_stack.open(title="Nothing wrong with it")
    for dry_run in (True, False):
        response = await sqlite_stack.post(
            f"/api/incidents/{incident['id']}/repair", {"reason": "checking", "dry_run": dry_run}, "adam"
        )
        assert response.status_code == 409, response.text
        assert "replays cleanly" in response.json()["detail"]
    repairs = await sqlite_stack.get(f"/api/incidents/{incident['id']}/repairs", "audrey")
    assert repairs.status_code == 200 and repairs.json() == []


@pytest.mark.parametrize("user", ["ana", "leo", "audrey"])
async def test_only_admins_repair(sqlite_stack: Stack, user: str) -> None:
    incident = await sqlite_stack.open(title="Not yours to reset")
    response = await sqlite_stack.post(f"/api/incidents/{incident['id']}/repair", {"reason": "x"}, user)
    assert response.status_code == 403
    assert "may not repair incidents" in response.json()["detail"]


@pytest.mark.parametrize("user", ["ana", "leo"])
async def test_repairs_are_read_by_auditors_and_admins(sqlite_stack: Stack, user: str) -> None:
    incident = await sqlite_stack.open(title="Whose repairs")
    assert (await sqlite_stack.get(f"/api/incidents/{incident['id']}/repairs", user)).status_code == 403
    assert (await sqlite_stack.get(f"/api/incidents/{incident['id']}/repairs", "adam")).status_code == 200


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x", "force": True}, {"reason": "x", "dry_run": 3}])
async def test_a_bad_repair_request_is_422(sqlite_stack: Stack, body: dict) -> None:
    incident = await sqlite_stack.open(title="Bad repair request")
    response = await sqlite_stack.post(f"/api/incidents/{incident['id']}/repair", body, "adam")
    assert response.status_code == 422, response.text


async def test_repairing_an_unknown_incident_is_404(sqlite_stack: Stack) -> None:
    for incident_id in ("INC-1999-000404", "not-an-id"):
        response = await sqlite_stack.post(f"/api/incidents/{incident_id}/repair", {"reason": "x"}, "adam")
        assert response.status_code == 404, response.text
