"""The watchdog finds an open incident whose history no longer replays, within its interval, and
tells the head of incident management once (docs/reliability.md). The diverged history is made
on purpose (tests/workflows/diverged.py)."""

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from tests.helpers import ANA, eventually, intake, new_incident_id
from tests.workflows.diverged import careless_worker
from vigil.audit import watchdog
from vigil.db.tables import OutboxRow, ReplayCheckRow
from vigil.policy import Policy
from vigil.temporal import signer_of
from vigil.temporal.incident_client import act, open_incident
from vigil.temporal.signing import sign_request
from vigil.worker import build_worker, schedule_watchdog
from vigil.workflows.actions import Acknowledge, AddNote
from vigil.workflows.watchdog import SCHEDULE_ID

INTERVAL = 2  # seconds between watchdog rounds


def _check(engine: Engine, incident_id: str) -> ReplayCheckRow | None:
    return watchdog.replay_check(engine, incident_id)


def _diverged_notices(engine: Engine, incident_id: str) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(
            session.scalars(select(OutboxRow).where(OutboxRow.incident_id == incident_id, OutboxRow.kind == "diverged"))
        )


async def test_a_diverged_open_incident_is_found_within_the_interval_and_alerted_once(
    dev_namespace: Client, file_engine: Engine, policy: Policy
) -> None:
    task_queue = f"watchdog-{uuid.uuid4().hex[:6]}"
    healthy_id, diverged_id = new_incident_id(), new_incident_id()
    async with careless_worker(dev_namespace, task_queue, file_engine, policy):
        await open_incident(
            dev_namespace, diverged_id, intake(title="Opened by the careless edit"), task_queue=task_queue
        )
        await act(dev_namespace, diverged_id, Acknowledge(), ANA)
    async with build_worker(dev_namespace, task_queue=task_queue, engine=file_engine, policy=policy):
        await open_incident(dev_namespace, healthy_id, intake(title="Opened by the real code"), task_queue=task_queue)
        await act(dev_namespace, healthy_id, Acknowledge(), ANA)
        await schedule_watchdog(dev_namespace, task_queue, INTERVAL, budget=50)

        async def both_checked() -> bool:
            return all(_check(file_engine, i) is not None for i in (healthy_id, diverged_id))

        await eventually(both_checked, timeout=6 * INTERVAL + 20)
        healthy, diverged = _check(file_engine, healthy_id), _check(file_engine, diverged_id)
        assert healthy is not None and healthy.result == "ok" and healthy.diverged_since is None
        assert diverged is not None and diverged.result == "nondeterministic", diverged.detail
        assert diverged.divergence_event is not None and diverged.alerted_at is not None
        [notice] = _diverged_notices(file_engine, diverged_id)
        assert notice.recipient == "tier:head_of_incident_management"
        assert "Opened by the careless edit" not in notice.subject + notice.body  # no title in any notice
        assert diverged_id in notice.subject and "vigil audit repair" in notice.body

        # A diverged incident is checked again every round (so a repair is seen at once), and is
        # not alerted twice.
        first_check = diverged.checked_at

        async def checked_again() -> bool:
            again = _check(file_engine, diverged_id)
            return again is not None and again.checked_at > first_check

        await eventually(checked_again, timeout=6 * INTERVAL + 20)
        assert len(_diverged_notices(file_engine, diverged_id)) == 1

        # Once a person acts, the real worker meets the history and fails every task of it: the
        # incident has stalled, and Temporal flags it for the watchdog too.
        note = sign_request(signer_of(dev_namespace), diverged_id, AddNote(text="anyone there?"), ANA)
        await dev_namespace.get_workflow_handle(diverged_id).signal("act_signal", note.model_dump(mode="json"))

        async def flagged() -> bool:
            return diverged_id in await watchdog.flagged_by_temporal(dev_namespace)

        await eventually(flagged, timeout=60)
        assert healthy_id not in await watchdog.flagged_by_temporal(dev_namespace)
        await dev_namespace.get_schedule_handle(SCHEDULE_ID).delete()
