"""Replaying stored histories against today's workflow code, with Temporal's Replayer.

A change to IncidentWorkflow or ApprovalWorkflow that would issue different commands for a
history already recorded (a running incident's, after a deploy) makes the replay fail with a
nondeterminism error naming the first event that no longer matches. The report says, per
incident, `ok` or `nondeterministic` with that event (numbered across runs, as everywhere in
the audit), or `failed` when the replay broke for another reason (a payload that no longer
reads, an exception in workflow code).

`replay_many` spreads many histories over processes: the Replayer is Python under one GIL
(a sandbox per history), so one process replays on one core whatever the machine has.
"""

import asyncio
import multiprocessing
import os
import re
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from vigil.audit.counts import HistoryCounts, count_history
from vigil.audit.history import IncidentHistory, event_type_name
from vigil.audit.known_issues import known_cause
from vigil.parent_death import die_with
from vigil.temporal import data_converter
from vigil.temporal.codec import EncryptionCodec, KeyRing
from vigil.workflows.sandbox import WORKFLOW_RUNNER, write_bytecode

# How core names the event it could not match: "... does not handle HistoryEvent(id: 6, ActivityTaskScheduled)".
_EVENT_IN_MESSAGE = [re.compile(r"HistoryEvent\(id: (\d+)"), re.compile(r"event[ _]id[:= ]+(\d+)", re.I)]
_CORE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Divergence:
    workflow_id: str
    run_id: str
    event_id: int | None  # within that run, as Temporal numbers it
    event: int | None  # for the incident's own runs: the event number across runs
    event_type: str | None
    message: str
    known_cause: str | None = None  # a cause outside Vigil's code, recognised in the history (known_issues)


@dataclass(frozen=True)
class ReplayReport:
    incident_id: str
    result: str  # ok | nondeterministic | failed
    workflows: int  # runs replayed: the incident's and its approval requests'
    counts: HistoryCounts  # the history replayed, as every audit report counts it
    divergence: Divergence | None = None

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    @property
    def events(self) -> int:
        return self.counts.events


def _first_line(error: BaseException) -> str:
    text = str(error)
    found = _CORE_MESSAGE.search(text)
    return (found.group(1) if found else text).splitlines()[0][:500] if text else type(error).__name__


def _divergence(history: IncidentHistory, run: WorkflowHistory, error: BaseException) -> Divergence:
    text = str(error)
    event_id = None
    for pattern in _EVENT_IN_MESSAGE:
        found = pattern.search(text)
        if found:
            event_id = int(found.group(1))
            break
    event_type = None
    if event_id is not None and 0 < event_id <= len(run.events):
        event_type = event_type_name(run.events[event_id - 1])
    number = None
    index = next((i for i, r in enumerate(history.runs) if r.run_id == run.run_id), None)
    if event_id is not None and index is not None and run.workflow_id == history.incident_id:
        number = sum(len(r.events) for r in history.runs[:index]) + event_id
    cause = known_cause(run, event_id) if isinstance(error, NondeterminismError) else None
    return Divergence(run.workflow_id, run.run_id, event_id, number, event_type, _first_line(error), cause)


async def replay(
    histories: Sequence[IncidentHistory], converter: DataConverter, workflows: Sequence[type] | None = None
) -> list[ReplayReport]:
    """Replays every run of every incident (and of its approval requests); one report per incident."""
    if workflows is None:
        from vigil.worker import WORKFLOWS  # the worker's registry is what runs in production

        workflows = WORKFLOWS
    owner: dict[int, IncidentHistory] = {}
    runs: list[WorkflowHistory] = []
    for history in histories:
        for run in history.all_workflows():
            owner[id(run)] = history
            runs.append(run)

    async def each() -> AsyncIterator[WorkflowHistory]:
        for run in runs:
            yield run

    first_failure: dict[str, Divergence] = {}
    kinds: dict[str, str] = {}
    write_bytecode()
    replayer = Replayer(workflows=list(workflows), data_converter=converter, workflow_runner=WORKFLOW_RUNNER)
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            history = owner[id(result.history)] if id(result.history) in owner else _find(histories, result.history)
            if result.replay_failure is None or history.incident_id in first_failure:
                continue
            first_failure[history.incident_id] = _divergence(history, result.history, result.replay_failure)
            kinds[history.incident_id] = (
                "nondeterministic" if isinstance(result.replay_failure, NondeterminismError) else "failed"
            )
    return [
        ReplayReport(
            incident_id=h.incident_id,
            result=kinds.get(h.incident_id, "ok"),
            workflows=len(h.all_workflows()),
            counts=count_history(h),
            divergence=first_failure.get(h.incident_id),
        )
        for h in histories
    ]


def _find(histories: Sequence[IncidentHistory], run: WorkflowHistory) -> IncidentHistory:
    """The incident a replayed run belongs to, when the replayer hands back a copy of it."""
    for history in histories:
        if any(r.run_id == run.run_id and r.workflow_id == run.workflow_id for r in history.all_workflows()):
            return history
    raise LookupError(f"replayed a run nobody asked for: {run.workflow_id} {run.run_id}")


# Below this many histories a pool costs more than it saves: each process is a fresh interpreter
# that imports the SDK and the workflows (about a second) before its first replay.
POOL_FROM = 100


async def replay_many(
    histories: Sequence[IncidentHistory], converter: DataConverter, processes: int | None = None
) -> list[ReplayReport]:
    """`replay`, spread over `processes` (default: one per core) when there are `POOL_FROM` or
    more histories; the same reports, in the same order. Each process decrypts with the key ring
    of `converter`'s codec (handed over, not read again from the environment)."""
    processes = pool_size(len(histories), processes)
    codec = converter.payload_codec
    if processes < 2 or not isinstance(codec, EncryptionCodec):
        return await replay(histories, converter)
    shares = [list(range(start, len(histories), processes)) for start in range(processes)]
    loop = asyncio.get_running_loop()
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(processes, mp_context=spawn, initializer=die_with, initargs=(os.getpid(),))
    try:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _replay_with_keys, [histories[i] for i in share], codec.ring)
                for share in shares
            )
        )
    finally:  # waiting for the processes to end blocks: not on the API's event loop
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
    reports: list[ReplayReport | None] = [None] * len(histories)
    for share, part in zip(shares, parts, strict=True):
        for index, report in zip(share, part, strict=True):
            reports[index] = report
    return [r for r in reports if r is not None]


def pool_size(histories: int, processes: int | None = None) -> int:
    """How many processes `replay_many` uses for this many histories: at most one per core (or
    `processes`), at least 50 histories each, and one below `POOL_FROM`."""
    if histories < POOL_FROM:
        return 1
    return max(1, min(processes or os.cpu_count() or 1, histories // (POOL_FROM // 2)))


def _replay_with_keys(histories: list[IncidentHistory], ring: KeyRing) -> list[ReplayReport]:
    """In a pool's process: replay these histories with this key ring."""
    return asyncio.run(replay(histories, data_converter(EncryptionCodec(ring))))
