"""`vigil audit repair`: an incident whose history no longer replays is reset to the workflow task
where it diverges; the actions people were answered for are checked against the repaired run,
the projection follows the new run, and the incident's clocks fire again."""

import asyncio
import re
import uuid

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from tests.helpers import ANA, eventually, intake, new_incident_id
from tests.workflows.diverged import careless_worker
from vigil.api.listing import IncidentQuery, list_incidents
from vigil.audit import repair, watchdog
from vigil.audit.history import fetch
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.timeline import build_timeline
from vigil.db.tables import IncidentEventRow, IncidentRow, RepairRow, SlaBreachRow
from vigil.policy import DEFAULT_POLICY_PATH, Policy, parse_policy
from vigil.temporal import data_converter
from vigil.temporal.incident_client import act, open_incident
from vigil.worker import build_worker
from vigil.workflows.actions import Acknowledge, AddNote

RESOLVE_SECONDS = 8


def _quick_resolve_policy() -> Policy:
    """The default policy, with SEV1's resolve clock due in seconds: to see it fire after the repair."""
    text = DEFAULT_POLICY_PATH.read_text()
    text = re.sub(
        r'(\[sla\.SEV1\]\nacknowledge = "[^"]+"\nfirst_response = "[^"]+"\nresolve = )"[^"]+"',
        rf'\1"{RESOLVE_SECONDS}s"',
        text,
    )
    assert f'resolve = "{RESOLVE_SECONDS}s"' in text
    return parse_policy(text, "quick resolve")


def _row(engine: Engine, incident_id: str) -> IncidentRow | None:
    with Session(engine) as session:
        return session.get(IncidentRow, incident_id)


def _breaches(engine: Engine, incident_id: str) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(SlaBreachRow.clock_id).where(SlaBreachRow.incident_id == incident_id)))


async def test_a_diverged_incident_is_repaired_and_its_clocks_fire_again(
    dev_namespace: Client, file_engine: Engine
) -> None:
    policy = _quick_resolve_policy()
    task_queue = f"repair-{uuid.uuid4().hex[:6]}"
    incident_id = new_incident_id()
    async with careless_worker(dev_namespace, task_queue, file_engine, policy):
        opened = await open_incident(dev_namespace, incident_id, intake(title="Careless"), task_queue=task_queue)
        assert opened.severity == "SEV1"
        acked = await act(dev_namespace, incident_id, Acknowledge(), ANA)
        await act(dev_namespace, incident_id, AddNote(text="Looking at the stream now."), ANA)

        async def projected() -> bool:
            row = _row(file_engine, incident_id)
            return row is not None and row.seq >= acked.seq + 1

        await eventually(projected)
    converter = data_converter()
    async with build_worker(dev_namespace, task_queue=task_queue, engine=file_engine, policy=policy):
        found = await repair.plan(dev_namespace, converter, incident_id)
        assert found.diverging_event_id > found.reset_event_id  # reset to the task that issued it
        assert found.kept_entries == 0 and [r.entry.action.type for r in found.redone if r.entry.action] == [
            "open",
            "acknowledge",
            "add_note",
        ]

        report = await repair.repair(
            dev_namespace, converter, file_engine, incident_id, repaired_by="adam", reason="diverged after a deploy"
        )
        assert report.new_run_id and report.new_run_id != found.run_id
        assert report.replays_now is True
        told = [(o.type, o.before, o.after) for o in report.actions]
        assert told == [("acknowledge", "applied", "applied"), ("add_note", "applied", "applied")]
        assert report.differences == 0

        async def caught_up() -> bool:
            row = _row(file_engine, incident_id)
            return (
                row is not None
                and row.status == "investigating"
                and row.state["notes"][-1]["text"] == ("Looking at the stream now.")
            )

        await eventually(caught_up, timeout=30)
        with Session(file_engine) as session:
            entries = session.scalars(
                select(IncidentEventRow.entry_no).where(IncidentEventRow.incident_id == incident_id)
            ).all()
            assert sorted(entries) == list(range(1, len(entries) + 1))  # 1..n, once each
            [stored] = session.scalars(select(RepairRow).where(RepairRow.incident_id == incident_id)).all()
            assert stored.repaired_by == "adam" and stored.report["differences"] == 0
            # Its searchable words were rewound with it, and written again by the repaired run.
            found_by_note, _next = list_incidents(session, IncidentQuery(text="looking stream", ids=[incident_id]))
            assert [r.id for r in found_by_note] == [incident_id]
        [again] = await watchdog_verdict(dev_namespace, file_engine, incident_id)
        assert again.result == "ok"
        journal = await read_journal(await fetch(dev_namespace, incident_id), converter)
        for language, words in (("en", "reset here to repair a history"), ("es", "restableció el flujo para reparar")):
            lines = [i.text for i in build_timeline(Reconstruction(journal), language).entries]
            [reset_line] = [line for line in lines if words in line]
            assert "vigil repair by adam: diverged after a deploy" in reset_line and found.run_id in reset_line

        # The repaired run keeps time: its resolve clock breaches, as a stalled one never would.
        await eventually(lambda: "sla.resolve" in _breaches(file_engine, incident_id), timeout=RESOLVE_SECONDS + 30)


async def watchdog_verdict(client: Client, engine: Engine, incident_id: str) -> list[watchdog.Verdict]:
    """One watchdog check of this incident, in this process."""
    history = await watchdog.fetch_histories(client, [watchdog.Candidate(incident_id, 0)])
    return await asyncio.to_thread(watchdog.replay_in_this_process, list(history))


async def test_an_incident_that_replays_has_nothing_to_repair(dev_namespace: Client, file_engine: Engine) -> None:
    policy = _quick_resolve_policy()
    task_queue = f"repair-{uuid.uuid4().hex[:6]}"
    incident_id = new_incident_id()
    async with build_worker(dev_namespace, task_queue=task_queue, engine=file_engine, policy=policy):
        await open_incident(dev_namespace, incident_id, intake(title="Healthy"), task_queue=task_queue)
        try:
            await repair.plan(dev_namespace, data_converter(), incident_id)
        except repair.NothingToRepair as nothing:
            assert "replays cleanly" in str(nothing)
        else:
            raise AssertionError("a healthy incident was planned for repair")
