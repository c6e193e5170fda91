"""EvidencePurgeWorkflow on the time-skipping server: an item is purged when its preservation ends
(and the purge is in its chain of custody), never while a legal hold is on it."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.evidence_files import png
from vigil.config import settings
from vigil.db.tables import IncidentRow
from vigil.evidence.store import BlobMissing
from vigil.evidence.vault import Vault, Who
from vigil.policy import Policy
from vigil.workflows.evidence_purge import EvidencePurgeWorkflow, purge_workflow_id


def child_safety_incident() -> IncidentRow:
    now = datetime.now(UTC)
    return IncidentRow(
        id="INC-2026-000001",
        title="t",
        channel="user_report",
        category="child_safety",
        region="NA",
        language="en",
        severity="SEV1",
        status="investigating",
        opened_at=now,
        updated_at=now,
        state={"evidence_hold_until": (now + timedelta(days=365)).isoformat()},
    )


@pytest.fixture
def vault(sqlite_engine: Engine) -> Vault:
    return Vault.from_settings(sqlite_engine, settings())


async def test_evidence_is_purged_when_its_preservation_ends(
    ts_client: Client, worker: Worker, task_queue: str, vault: Vault, policy: Policy
) -> None:
    row = vault.add(child_safety_incident(), png(21), Who("ana", "analyst"), policy)
    assert row.preserved_until is not None
    handle = await ts_client.start_workflow(
        EvidencePurgeWorkflow.run, row.id, id=purge_workflow_id(row.id), task_queue=task_queue
    )
    outcome = await handle.result()  # the server skips the year
    assert outcome.startswith(f"purged {row.id}: preservation ended")
    gone = vault.item(row.id)
    assert gone is not None and gone.deleted_at is not None and gone.deleted_by == "vigil"
    with pytest.raises(BlobMissing):
        vault.store.get(row.blob_key)
    events = [(c.event, c.actor, c.actor_role) for c in vault.custody(row.id)]
    assert events == [("upload", "ana", "analyst"), ("purge", "vigil", "system")]


async def test_a_legal_hold_keeps_evidence_past_its_preservation(
    ts_env: WorkflowEnvironment, ts_client: Client, worker: Worker, task_queue: str, vault: Vault, policy: Policy
) -> None:
    row = vault.add(child_safety_incident(), png(22), Who("ana", "analyst"), policy)
    vault.set_hold(row.id, Who("leo", "lead"), True, "litigation hold")
    handle = await ts_client.start_workflow(
        EvidencePurgeWorkflow.run, row.id, id=purge_workflow_id(row.id), task_queue=task_queue
    )
    await ts_env.sleep(timedelta(days=400))
    held = vault.item(row.id)
    assert held is not None and held.deleted_at is None
    assert vault.store.get(row.blob_key) == png(22)
    vault.set_hold(row.id, Who("leo", "lead"), False, None)
    await handle.signal(EvidencePurgeWorkflow.reconsider)
    assert (await handle.result()).startswith(f"purged {row.id}")
    assert [c.event for c in vault.custody(row.id)] == ["upload", "hold_set", "hold_cleared", "purge"]
