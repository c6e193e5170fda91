"""The baseline: Vigil's workflow shape with nothing of Vigil in it, on the raw Temporal SDK.

`BareIncident` receives the same updates as an incident (an update-with-start for intake, then
one update per action), runs the same activities (triage, a background projection loop,
enforcement) and the same child workflow (an approval that runs one activity and waits for a
`close` signal), keeps one long timer like an SLA clock, and never completes on its own, like an
incident in its reopen window. Activities do nothing; the default data converter (no pydantic,
no encryption); no HTTP, no database. What is left is the engine's own cost. An intake may name a
`variant` (bench.server_cost) that adds one thing Vigil's incidents do; the benchmarks name none.

    python -m bench.bare    a worker for these workflows (the environment names the server,
                            namespace and task queue, like `vigil worker`)
"""

import asyncio
import logging
import os
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import SearchAttributeKey, WorkflowIDConflictPolicy
from temporalio.worker import Worker

QUORUM = {"sev1": 2, "sev3": 0}
# For bench.server_cost's variants: the keyword attributes Vigil upserts (the stage registers them).
SEARCH_ATTRIBUTES = [
    SearchAttributeKey.for_keyword(name) for name in ("Severity", "IncidentStatus", "Category", "Region", "Channel")
]


@activity.defn(name="bare_triage")
async def triage(intake: dict) -> dict:
    return {"severity": intake["kind"]}


@activity.defn(name="bare_project")
async def project(batch: list) -> None:
    return None


@activity.defn(name="bare_ask")
async def ask(request: dict) -> None:
    return None


@activity.defn(name="bare_enforce")
async def enforce(request: dict) -> dict:
    return {"succeeded": True}


ACTIVITIES = [triage, project, ask, enforce]
ACTIVITY_QUEUE_SUFFIX = "-activities"  # where the "activities_elsewhere" variant sends them
_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="BareApproval")
class BareApproval:
    def __init__(self) -> None:
        self.closed = False

    @workflow.run
    async def run(self, request: dict) -> str:
        await workflow.execute_activity(ask, request, start_to_close_timeout=_TIMEOUT)
        await workflow.wait_condition(lambda: self.closed)
        return "closed"

    @workflow.signal
    def close(self, status: str) -> None:
        self.closed = True


@workflow.defn(name="BareIncident")
class BareIncident:
    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.unprojected: list[str] = []
        self.changed = False
        self.asked = self.enforcing = False
        self.variant: dict[str, Any] = {}  # bench.server_cost: what of Vigil's to add (none by default)
        self.clock: asyncio.Task[None] | None = None
        self.last_status: str | None = None

    @workflow.run
    async def run(self, intake: dict) -> dict:
        self.variant = intake.get("variant", {})
        triaged = await workflow.execute_activity(triage, intake, **self._activity_options())
        self.state = {
            "id": workflow.info().workflow_id,
            "kind": intake["kind"],
            "status": "triage",
            "severity": triaged["severity"],
            "votes": [],
            "proposal": None,
        }
        if "pad" in self.variant:  # Vigil's history bytes: update results and projection inputs carry it
            self.state["pad"] = self.variant["pad"]
        self._journal("open")
        asyncio.create_task(self._project_forever())
        self.clock = asyncio.create_task(workflow.sleep(timedelta(days=1)))  # an SLA clock
        while True:  # like an incident, it waits on (its reopen window is far off)
            await workflow.wait_condition(lambda: self.changed)
            self.changed = False
            if self.state["status"] == "pending_approval" and not self.asked:
                self.asked = True
                await workflow.start_child_workflow(
                    BareApproval.run,
                    {"incident": self.state["id"]},
                    id=f"{self.state['id']}-A1",
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
            if self.state["status"] == "actioning" and not self.enforcing:
                self.enforcing = True
                if self.asked:
                    await workflow.get_external_workflow_handle(f"{self.state['id']}-A1").signal(
                        BareApproval.close, "approved"
                    )
                asyncio.create_task(self._enforce())

    @workflow.update
    async def opened(self) -> dict:
        await workflow.wait_condition(lambda: self.state is not None)
        return self.state

    @workflow.update
    def act(self, action: dict) -> dict:
        assert self.state is not None
        kind, state = action["type"], self.state
        if kind == "acknowledge":
            state["status"] = "investigating"
        elif kind == "assign":
            state["assignee"] = action["assignee"]
        elif kind == "escalate":
            state["status"] = "escalated"
        elif kind == "team_response":
            state["status"] = "investigating"
        elif kind == "propose_action":
            state["proposal"] = "pending" if QUORUM[state["kind"]] else "approved"
            state["status"] = "pending_approval" if QUORUM[state["kind"]] else "actioning"
        elif kind == "approve":
            state["votes"].append(action["by"])
            if len(state["votes"]) >= QUORUM[state["kind"]]:
                state["proposal"], state["status"] = "approved", "actioning"
        elif kind == "resolve":
            state["status"] = "resolved"
        self._journal(kind)
        return state

    @workflow.query
    def current(self) -> dict | None:
        return self.state

    def _activity_options(self) -> dict[str, Any]:
        """The "activities_elsewhere" variant: on a queue of their own, as Vigil's activity process
        polls (then they go through the server's matching, never eagerly back to this worker)."""
        elsewhere = {"task_queue": f"{workflow.info().task_queue}{ACTIVITY_QUEUE_SUFFIX}"}
        return {"start_to_close_timeout": _TIMEOUT, **(elsewhere if self.variant.get("activities_elsewhere") else {})}

    def _journal(self, kind: str) -> None:
        self.unprojected.append(kind)
        self.changed = True
        assert self.state is not None
        if self.state["status"] != self.last_status:  # the variants do as Vigil does on a change of status
            self._on_status_change(first=self.last_status is None)
            self.last_status = self.state["status"]

    def _on_status_change(self, first: bool) -> None:
        assert self.state is not None
        if self.variant.get("search_attributes"):  # "all": the five every time; "changed": what changed
            values = [self.state["severity"], self.state["status"], self.state["kind"], "NA", "user_report"]
            pairs = list(zip(SEARCH_ATTRIBUTES, values, strict=True))
            if self.variant["search_attributes"] == "changed" and not first:
                pairs = pairs[1:2]
            workflow.upsert_search_attributes([key.value_set(value) for key, value in pairs])
        if self.variant.get("timers") and not first:  # the next deadline moves: a new timer
            if self.clock is not None:
                self.clock.cancel()
            self.clock = asyncio.create_task(workflow.sleep(timedelta(days=1)))

    async def _project_forever(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self.unprojected))
            batch, self.unprojected = self.unprojected, []
            if "pad" in self.variant:  # the projection input carries the state, as Vigil's
                batch = [*batch, self.variant["pad"]]
            await workflow.execute_activity(project, batch, **self._activity_options())

    async def _enforce(self) -> None:
        await workflow.execute_activity(enforce, {"incident": self.state["id"]}, **self._activity_options())
        self.state["proposal"], self.state["status"] = "done", "investigating"
        self._journal("enforcement_completed")


@workflow.defn(name="BareTimer")
class BareTimer:
    """For the timer benchmark: sleeps until `due` (ISO 8601), then says how late it woke."""

    @workflow.run
    async def run(self, due: str) -> float:
        wake = datetime.fromisoformat(due)
        await workflow.sleep(max(wake - workflow.now(), timedelta(0)))
        return (workflow.now() - wake).total_seconds()


WORKFLOWS = [BareIncident, BareApproval, BareTimer]

# The same steps the API driver takes (bench.workload.next_step), as raw updates.
STEPS = {
    "sev3": ["acknowledge", "assign", "escalate", "team_response", "propose_action", "wait", "resolve"],
    "sev1": [
        "acknowledge",
        "assign",
        "escalate",
        "team_response",
        "propose_action",
        "approve",
        "approve",
        "wait",
        "resolve",
    ],
}


class SdkDriver:
    """Carries bare incidents through the same steps with the SDK: updates, and queries while enforcing."""

    def __init__(self, client: Client, task_queue: str, poll: float = 0.05, variant: dict[str, Any] | None = None):
        self.client, self.task_queue, self.poll, self.variant = client, task_queue, poll, variant or {}
        self.latencies: list[float] = []

    async def run(self, kind: str, workflow_id: str) -> dict:
        start = WithStartWorkflowOperation(
            BareIncident.run,
            {"kind": kind, "variant": self.variant} if self.variant else {"kind": kind},
            id=workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        state = await self.client.execute_update_with_start_workflow(
            BareIncident.opened, start_workflow_operation=start
        )
        handle = self.client.get_workflow_handle(workflow_id)
        votes = iter(("leo", "lucia"))
        for step in STEPS[kind]:
            if step == "wait":
                while state["status"] == "actioning":
                    await asyncio.sleep(self.poll)
                    state = await handle.query(BareIncident.current)
                continue
            action = {"type": step, "assignee": "bea", "by": next(votes) if step == "approve" else "bea"}
            started = asyncio.get_running_loop().time()
            state = await handle.execute_update(BareIncident.act, action)
            self.latencies.append(asyncio.get_running_loop().time() - started)
        return state


async def _serve() -> None:
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    task_queue = os.environ.get("VIGIL_TASK_QUEUE", "bare")
    client = await Client.connect(address, namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    max_cached = int(os.environ.get("BENCH_MAX_CACHED_WORKFLOWS", "2000"))  # bench.stage passes Vigil's
    worker = Worker(
        client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES, max_cached_workflows=max_cached
    )
    elsewhere = Worker(client, task_queue=f"{task_queue}{ACTIVITY_QUEUE_SUFFIX}", activities=ACTIVITIES)
    logging.getLogger("bench.bare").info("worker on task queue %s at %s", task_queue, address)
    await asyncio.gather(worker.run(), elsewhere.run())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve())
