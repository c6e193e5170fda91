"""The watchdog finds an open incident whose history no longer replays, within its interval, and
tells the head of incident management once (docs/reliability.md).

A diverged history is made on purpose: the incident runs its first steps on a worker with a
careless edit of IncidentWorkflow (tests/audit/scratch_workflow.py, two commands swapped), then
the real worker takes over, as after a deploy. Its history no longer matches the real code."""

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest_asyncio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.audit.scratch_workflow import SearchAttributesBeforeTriage
from tests.helpers import ANA, eventually, intake, new_incident_id
from vigil.activities.approvals import ApprovalActivities
from vigil.activities.audit import AuditActivities
from vigil.activities.enforcement import EnforcementActivities, RecordingAdapter
from vigil.activities.projection import ProjectionActivities
from vigil.activities.triage import TriageActivities
from vigil.audit import watchdog
from vigil.db.engine import make_engine, migrate
from vigil.db.tables import OutboxRow, ReplayCheckRow
from vigil.policy import Policy
from vigil.temporal import data_converter, register_search_attributes
from vigil.temporal.incident_client import act, open_incident
from vigil.worker import build_worker, schedule_watchdog
from vigil.workflows.actions import Acknowledge, AddNote
from vigil.workflows.approval import ApprovalWorkflow
from vigil.workflows.messages import ActionRequest
from vigil.workflows.sandbox import WORKFLOW_RUNNER
from vigil.workflows.watchdog import SCHEDULE_ID

INTERVAL = 2  # seconds between watchdog rounds


@pytest_asyncio.fixture
async def namespace(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """A namespace of its own: the watchdog's schedule and list queries see only this test's incidents."""
    from tests.api.conftest import namespace_client

    client = await namespace_client(dev_env, f"vigil-watchdog-{uuid.uuid4().hex[:6]}")
    await register_search_attributes(client)
    yield Client(**{**client.config(), "data_converter": data_converter()})


@pytest_asyncio.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'vigil.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def _careless_worker(client: Client, task_queue: str, engine: Engine, policy: Policy) -> Worker:
    """A worker running the scratch edit of IncidentWorkflow, with the real activities."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SearchAttributesBeforeTriage, ApprovalWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[
            TriageActivities(policy).triage,
            ProjectionActivities(engine, "http://vigil.test").project,
            ApprovalActivities(engine, "http://vigil.test").ask,
            EnforcementActivities(RecordingAdapter(engine)).enforce,
            AuditActivities(client, engine).seal,
        ],
        activity_executor=ThreadPoolExecutor(4),
    )


def _check(engine: Engine, incident_id: str) -> ReplayCheckRow | None:
    return watchdog.replay_check(engine, incident_id)


def _diverged_notices(engine: Engine, incident_id: str) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(
            session.scalars(select(OutboxRow).where(OutboxRow.incident_id == incident_id, OutboxRow.kind == "diverged"))
        )


async def test_a_diverged_open_incident_is_found_within_the_interval_and_alerted_once(
    namespace: Client, engine: Engine, policy: Policy
) -> None:
    task_queue = f"watchdog-{uuid.uuid4().hex[:6]}"
    healthy_id, diverged_id = new_incident_id(), new_incident_id()
    async with _careless_worker(namespace, task_queue, engine, policy):
        await open_incident(namespace, diverged_id, intake(title="Opened by the careless edit"), task_queue=task_queue)
        await act(namespace, diverged_id, Acknowledge(), ANA)
    async with build_worker(namespace, task_queue=task_queue, engine=engine, policy=policy):
        await open_incident(namespace, healthy_id, intake(title="Opened by the real code"), task_queue=task_queue)
        await act(namespace, healthy_id, Acknowledge(), ANA)
        await schedule_watchdog(namespace, task_queue, INTERVAL, budget=50)

        async def both_checked() -> bool:
            return all(_check(engine, i) is not None for i in (healthy_id, diverged_id))

        await eventually(both_checked, timeout=6 * INTERVAL + 20)
        healthy, diverged = _check(engine, healthy_id), _check(engine, diverged_id)
        assert healthy is not None and healthy.result == "ok" and healthy.diverged_since is None
        assert diverged is not None and diverged.result == "nondeterministic", diverged.detail
        assert diverged.divergence_event is not None and diverged.alerted_at is not None
        [notice] = _diverged_notices(engine, diverged_id)
        assert notice.recipient == "tier:head_of_incident_management"
        assert "Opened by the careless edit" not in notice.subject + notice.body  # no title in any notice
        assert diverged_id in notice.subject and "vigil audit repair" in notice.body

        # A diverged incident is checked again every round (so a repair is seen at once), and is
        # not alerted twice.
        first_check = diverged.checked_at

        async def checked_again() -> bool:
            again = _check(engine, diverged_id)
            return again is not None and again.checked_at > first_check

        await eventually(checked_again, timeout=6 * INTERVAL + 20)
        assert len(_diverged_notices(engine, diverged_id)) == 1

        # Once a person acts, the real worker meets the history and fails every task of it: the
        # incident has stalled, and Temporal flags it for the watchdog too.
        note = ActionRequest(action=AddNote(text="anyone there?"), actor=ANA)
        await namespace.get_workflow_handle(diverged_id).signal("act_signal", note.model_dump(mode="json"))

        async def flagged() -> bool:
            return diverged_id in await watchdog.flagged_by_temporal(namespace)

        await eventually(flagged, timeout=60)
        assert healthy_id not in await watchdog.flagged_by_temporal(namespace)
        await namespace.get_schedule_handle(SCHEDULE_ID).delete()
