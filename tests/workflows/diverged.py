"""Incidents whose history no longer replays, made on purpose: the first steps run on a worker
with a careless edit of IncidentWorkflow (tests/audit/scratch_workflow.py, two commands
swapped), then the real worker takes over, as after a bad deploy."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from tests.audit.scratch_workflow import SearchAttributesBeforeTriage
from vigil.activities.approvals import ApprovalActivities
from vigil.activities.audit import AuditActivities
from vigil.activities.enforcement import EnforcementActivities, RecordingAdapter
from vigil.activities.projection import ProjectionActivities
from vigil.activities.triage import TriageActivities
from vigil.policy import Policy
from vigil.workflows.approval import ApprovalWorkflow
from vigil.workflows.sandbox import WORKFLOW_RUNNER


def careless_worker(client: Client, task_queue: str, engine: Engine, policy: Policy) -> Worker:
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
