"""The Vigil worker: runs IncidentWorkflow, ApprovalWorkflow, ReviewWorkflow and every activity.

Run as many as you like against one task queue; Temporal shares the work between them.
`vigil worker` runs the workflows and starts `--activity-processes` children (default 1) that
run the activities (vigil/activity_processes.py); 0 runs everything in one process.
"""

import asyncio
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Interceptor, Worker

from vigil.activities.approvals import ApprovalActivities
from vigil.activities.audit import AuditActivities
from vigil.activities.delivery import Channels, DeliveryActivities
from vigil.activities.digest import DigestActivities
from vigil.activities.enforcement import EnforcementActivities, EnforcementAdapter, RecordingAdapter
from vigil.activities.evidence import EvidenceActivities
from vigil.activities.projection import ProjectionActivities
from vigil.activities.reports import ReportActivities
from vigil.activities.reviews import ReviewActivities
from vigil.activities.triage import TriageActivities
from vigil.activities.watchdog import WatchdogActivities
from vigil.activity_processes import ActivityProcesses, die_with_parent
from vigil.activity_processes import identity as activity_process_identity
from vigil.config import settings
from vigil.db.engine import engine as default_engine
from vigil.db.engine import migrate
from vigil.evidence.vault import Vault
from vigil.notifications.directory import DirectoryFile
from vigil.notifications.dispatching import DispatcherWaker, start_dispatcher
from vigil.notifications.schedules import keep_digest_schedule
from vigil.notifications.senders import MailServer
from vigil.policy import Policy, load_policy
from vigil.reports.schedule import ensure_weekly_schedule
from vigil.temporal import connect, register_search_attributes
from vigil.workflows.approval import ApprovalWorkflow
from vigil.workflows.digest import DigestWorkflow
from vigil.workflows.dispatcher import DispatcherWorkflow
from vigil.workflows.evidence_purge import EvidencePurgeWorkflow
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.review import ReviewWorkflow
from vigil.workflows.sandbox import WORKFLOW_RUNNER, write_bytecode
from vigil.workflows.watchdog import SCHEDULE_ID, WatchdogWorkflow
from vigil.workflows.weekly_report import WeeklyReportWorkflow

log = logging.getLogger("vigil.worker")

WORKFLOWS = [
    IncidentWorkflow,
    ApprovalWorkflow,
    ReviewWorkflow,
    WeeklyReportWorkflow,
    WatchdogWorkflow,
    DispatcherWorkflow,
    DigestWorkflow,
    EvidencePurgeWorkflow,
]


def channels_from_settings() -> Channels:
    """Email and webhooks as the environment configures them (VIGIL_SMTP_URL, VIGIL_WEBHOOK_SECRET)."""
    config = settings()
    mail = MailServer.from_url(config.smtp_url, config.mail_from) if config.smtp_url else None
    return Channels(mail=mail, webhook_secret=config.webhook_secret or None)


def build_worker(
    client: Client,
    *,
    task_queue: str | None = None,
    engine: Engine | None = None,
    policy: Policy | None = None,
    adapter: EnforcementAdapter | None = None,
    max_cached_workflows: int | None = None,
    activity_threads: int = 16,
    dispatch: bool = False,
    channels: Channels | None = None,
    directory: DirectoryFile | None = None,
    interceptors: Sequence[Interceptor] = (),
    workflows: bool = True,
    activities: bool = True,
    identity: str | None = None,
) -> Worker:
    """`dispatch`: wake the dispatcher whenever notices are written (the `vigil worker` process
    does; tests that deliver say so). The dispatcher's workflow and activities are always here.
    `workflows`/`activities`: poll for only one kind of task (a process of each kind side by side)."""
    engine = engine or default_engine()
    policy = policy or load_policy()
    public_url = settings().public_url
    task_queue = task_queue or settings().task_queue
    if workflows:
        write_bytecode()
    wake = DispatcherWaker(client, task_queue).poke if dispatch else None
    projection = ProjectionActivities(engine, public_url, on_notices=wake)
    approvals = ApprovalActivities(engine, public_url, on_notices=wake)
    delivery = DeliveryActivities(
        engine,
        directory or DirectoryFile.load(),
        channels or channels_from_settings(),
        public_url,
        policy.notifications,
        on_notices=wake,
    )
    digest = DigestActivities(engine, public_url, on_notices=wake)
    enforcement = EnforcementActivities(adapter or RecordingAdapter(engine))
    triage = TriageActivities(policy)
    audit = AuditActivities(client, engine)
    reviews = ReviewActivities(client, engine, public_url)
    reports = ReportActivities(engine, policy, public_url)
    watch = WatchdogActivities(client, engine, public_url)
    evidence = EvidenceActivities(Vault.from_settings(engine, settings()))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS if workflows else [],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[
            triage.triage,
            projection.project,
            approvals.ask,
            enforcement.enforce,
            audit.seal,
            audit.note_merge,
            delivery.plan,
            delivery.deliver,
            digest.write,
            watch.watch,
            reviews.start_review,
            reviews.key_moments,
            reviews.project_review,
            reports.send_weekly_report,
            evidence.purge_evidence,
        ]
        if activities
        else [],
        activity_executor=ThreadPoolExecutor(max_workers=activity_threads, thread_name_prefix="vigil-activity"),
        max_concurrent_activities=activity_threads,
        # Each cached incident keeps its sandboxed state in memory; evicted ones replay on demand
        # (VIGIL_WORKER_CACHE).
        max_cached_workflows=max_cached_workflows or settings().worker_cache,
        graceful_shutdown_timeout=timedelta(seconds=20),
        interceptors=interceptors,
        identity=identity,
    )


async def run_worker(activity_processes: int = 1) -> None:
    """Connect, migrate, and run until SIGTERM or Ctrl-C; in-flight activities get time to finish.
    With `activity_processes` > 0 this process runs the workflows and that many children the
    activities."""
    config = settings()
    policy = load_policy()  # a bad policy file stops start-up here, naming the key
    directory = DirectoryFile.load()  # and so does a bad directory file
    channels = channels_from_settings()  # and a VIGIL_SMTP_URL that is not one
    migrate(default_engine())
    if config.worker_metrics:
        Runtime.set_default(
            Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=config.worker_metrics))),
            error_if_already_set=False,
        )
    client = await connect(config)
    await register_search_attributes(client)
    await ensure_weekly_schedule(client, policy, config.task_queue)
    children = ActivityProcesses(activity_processes)
    worker = build_worker(
        client, policy=policy, dispatch=True, channels=channels, directory=directory, activities=not activity_processes
    )
    await schedule_watchdog(client, config.task_queue, config.watchdog_interval, config.watchdog_budget)
    stop = _stop_on_signals()
    children.start()
    log.info("worker on task queue %s at %s", config.task_queue, config.temporal_address)
    try:
        async with worker:
            await start_dispatcher(client, config.task_queue)
            await keep_digest_schedule(client, config.task_queue, policy.digest)
            if channels.mail is None:
                log.warning("VIGIL_SMTP_URL is not set: email notices wait in the outbox (mail is not configured)")
            supervise = asyncio.create_task(children.keep_running())
            await stop.wait()
            supervise.cancel()
            log.info("shutting down: finishing in-flight work")
    finally:
        await children.stop()


async def run_activity_worker() -> None:
    """`vigil worker --activities-only`: the activities alone, beside a workflow worker."""
    die_with_parent()
    config = settings()
    client = await connect(config)
    worker = build_worker(client, dispatch=True, workflows=False, identity=activity_process_identity())
    stop = _stop_on_signals()
    log.info("activity worker on task queue %s at %s", config.task_queue, config.temporal_address)
    async with worker:
        await stop.wait()
        log.info("activity worker shutting down: finishing in-flight activities")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def schedule_watchdog(client: Client, task_queue: str, interval_seconds: int, budget: int) -> None:
    """Create or update the watchdog's Schedule (every worker may; the first one creates it).
    An interval of 0 pauses it."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            WatchdogWorkflow.run, budget, id=f"{SCHEDULE_ID}-round", task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=max(interval_seconds, 1)))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            paused=interval_seconds <= 0, note="VIGIL_WATCHDOG_INTERVAL=0" if interval_seconds <= 0 else ""
        ),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        async def same(update: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SCHEDULE_ID).update(same)
