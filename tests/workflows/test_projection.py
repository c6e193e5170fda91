"""The SQL projection mirrors the workflow, on SQLite and on PostgreSQL, and never duplicates."""

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment

from tests.helpers import (
    ANA,
    LEA,
    LEO,
    eventually,
    intake,
    new_incident_id,
    open_new,
    query_state,
    rows,
    running_worker,
)
from vigil import need_to_know
from vigil.activities.projection import ProjectionActivities
from vigil.api.listing import IncidentQuery, list_incidents
from vigil.db import search
from vigil.db.tables import (
    ApprovalRow,
    EnforcementRow,
    EscalationRow,
    IncidentEventRow,
    IncidentRow,
    IncidentSearchRow,
    OutboxRow,
)
from vigil.db.upsert import insert_ignore
from vigil.domain import Role
from vigil.temporal.incident_client import act
from vigil.workflows import lifecycle
from vigil.workflows.actions import (
    Acknowledge,
    AddNote,
    Approve,
    Escalate,
    Open,
    ProposeAction,
    RecordTeamResponse,
    Resolve,
)
from vigil.workflows.messages import JournalEntry, ProjectionBatch
from vigil.workflows.state import SYSTEM


async def _walk(client, task_queue):
    _, state = await open_new(client, task_queue)
    await act(client, state.id, Acknowledge(), ANA)
    await act(client, state.id, Escalate(team="legal", reason="order valid?"), ANA)
    await act(client, state.id, RecordTeamResponse(team="legal", text="valid"), ANA)
    state = await act(
        client,
        state.id,
        ProposeAction(
            action="remove_content", rationale="TCO order", statement_of_reasons="Terrorist content (TCO art. 3)"
        ),
        ANA,
    )
    approval = state.proposals[-1].id
    await act(client, state.id, Approve(approval_id=approval), LEA)
    await act(client, state.id, Approve(approval_id=approval), LEO)

    async def enforced():
        current = await query_state(client, state.id)
        return current.status == "investigating" and current

    await eventually(enforced)
    return await act(client, state.id, Resolve(resolution="actioned", summary="removed within the hour"), ANA)


async def test_projection_mirrors_the_workflow(ts_client, ts_worker_client, task_queue, any_engine, policy):
    async with running_worker(ts_worker_client, task_queue, any_engine, policy):
        final = await _walk(ts_client, task_queue)

        def caught_up():
            found = rows(any_engine, IncidentRow, id=final.id)
            return found and found[0].seq == final.seq and found[0]

        row = await eventually(caught_up)
    assert row.status == "resolved" and row.severity == "SEV1" and row.assignee == "ana"
    # The reporter is sealed in a column of its own (vigil/need_to_know.py): the rest is the state.
    document, _sealed = need_to_know.stored_state(final)
    assert row.state == document and row.state["intake"]["reporter"] is None
    assert need_to_know.read_stored(row.state, row.reporter_sealed, Role.AUDITOR) == final

    events = rows(any_engine, IncidentEventRow, incident_id=final.id)
    assert sorted(e.entry_no for e in events) == list(range(1, final.seq + 1))
    assert [e.type for e in sorted(events, key=lambda e: e.entry_no)][:3] == ["open", "acknowledge", "escalate"]
    assert [e.team for e in rows(any_engine, EscalationRow, incident_id=final.id)] == ["legal"]
    approval = rows(any_engine, ApprovalRow, incident_id=final.id)[0]
    assert approval.status == "approved" and approval.approvers == ["lea", "leo"]
    assert len(rows(any_engine, EnforcementRow, incident_id=final.id)) == 1
    kinds = Counter(o.kind for o in rows(any_engine, OutboxRow, incident_id=final.id))
    assert kinds["escalation"] == 1 and kinds["approval_decided"] == 1 and kinds["approval_requested"] == 1


def test_a_retried_projection_batch_changes_nothing(any_engine, policy):
    """The activity runs again after a timeout: every row is keyed, so the second run is a no-op."""
    incident_id, now = new_incident_id(), datetime.now(UTC)
    opened = Open(
        incident_id=incident_id, intake=intake(), severity="SEV1", triage_reasons=["r"], policy_version=policy.version
    )
    state = lifecycle.apply(None, opened, SYSTEM, now, policy)
    entry = JournalEntry(entry_no=1, action=opened, actor=SYSTEM, at=now, seq=state.seq)
    batch = ProjectionBatch(incident_id=incident_id, entries=[entry], state=state)
    projection = ProjectionActivities(any_engine, "http://vigil.test")
    ActivityEnvironment().run(projection.project, batch)
    ActivityEnvironment().run(projection.project, batch)

    with Session(any_engine) as session:
        assert session.get(IncidentRow, incident_id).seq == 1
    assert len(rows(any_engine, IncidentEventRow, incident_id=incident_id)) == 1
    assert len(rows(any_engine, OutboxRow, incident_id=incident_id)) == 1  # SEV1: the on-call lead is told once


def test_the_incident_row_only_moves_forward(any_engine, policy):
    """A batch that arrives late (an older state) leaves the newer row as it is; a newer one wins."""
    incident_id, now = new_incident_id(), datetime.now(UTC)
    opened = Open(
        incident_id=incident_id, intake=intake(), severity="SEV1", triage_reasons=["r"], policy_version=policy.version
    )
    first = lifecycle.apply(None, opened, SYSTEM, now, policy)
    second = lifecycle.apply(first, Acknowledge(), ANA, now, policy)
    entries = [
        JournalEntry(entry_no=1, action=opened, actor=SYSTEM, at=now, seq=first.seq),
        JournalEntry(entry_no=2, action=Acknowledge(), actor=ANA, at=now, seq=second.seq),
    ]
    projection = ProjectionActivities(any_engine, "http://vigil.test")

    def projected() -> IncidentRow:
        with Session(any_engine) as session:
            return session.get(IncidentRow, incident_id)

    ActivityEnvironment().run(
        projection.project, ProjectionBatch(incident_id=incident_id, entries=entries, state=second)
    )
    ActivityEnvironment().run(
        projection.project, ProjectionBatch(incident_id=incident_id, entries=entries[:1], state=first)
    )
    row = projected()
    assert (row.seq, row.status, row.acknowledged_at is not None) == (second.seq, second.status.value, True)

    escalate = Escalate(team="legal", reason="order valid?")
    third = lifecycle.apply(second, escalate, ANA, now, policy)
    entries.append(JournalEntry(entry_no=3, action=escalate, actor=ANA, at=now, seq=third.seq))
    ActivityEnvironment().run(
        projection.project, ProjectionBatch(incident_id=incident_id, entries=entries[2:], state=third)
    )
    assert (projected().seq, projected().status) == (third.seq, third.status.value)
    assert len(rows(any_engine, EscalationRow, incident_id=incident_id)) == 1


def test_searchable_words_are_written_once_and_follow_the_newest_state(any_engine, policy):
    """The projection writes an incident's words with its row: a retried batch adds no second row,
    a late older batch does not take back a note's words, and the search finds them."""
    incident_id, now = new_incident_id(), datetime.now(UTC)
    opened = Open(
        incident_id=incident_id, intake=intake(), severity="SEV1", triage_reasons=["r"], policy_version=policy.version
    )
    first = lifecycle.apply(None, opened, SYSTEM, now, policy)
    note = AddNote(text="Mirror found on a paste site")
    second = lifecycle.apply(first, note, ANA, now, policy)
    entries = [
        JournalEntry(entry_no=1, action=opened, actor=SYSTEM, at=now, seq=first.seq),
        JournalEntry(entry_no=2, action=note, actor=ANA, at=now, seq=second.seq),
    ]
    projection = ProjectionActivities(any_engine, "http://vigil.test")
    newer = ProjectionBatch(incident_id=incident_id, entries=entries, state=second)
    ActivityEnvironment().run(projection.project, newer)
    ActivityEnvironment().run(projection.project, newer)
    ActivityEnvironment().run(
        projection.project, ProjectionBatch(incident_id=incident_id, entries=entries[:1], state=first)
    )
    [words] = rows(any_engine, IncidentSearchRow, incident_id=incident_id)
    assert words.seq == second.seq and "paste" in words.document.split()
    assert "orders" not in words.document.split()  # the reporter (orders@regulator.example) is never searchable
    with Session(any_engine) as session:
        found, _next = list_incidents(session, IncidentQuery(text="PASTE mirror", ids=[incident_id]))
    assert [r.id for r in found] == [incident_id]


def test_an_insert_that_meets_an_existing_row_says_it_inserted_nothing(any_engine):
    """The ask for approvers and the projection write the same approval row, concurrently: each
    UPDATEs, then INSERTs if nothing was there, and UPDATEs again if its insert met the other's row
    (db/upsert.py). That hinges on this count, which psycopg 3 reported as -1 ("inserted"): an
    approval row then kept asked_round 0 though its approvers had been asked (seen in CI)."""
    row = {
        "id": "INC-X-A1",
        "incident_id": "INC-X",
        "action": "remove_content",
        "rationale": "r",
        "proposed_by": "bea",
        "requested_at": datetime.now(UTC),
        "severity": "SEV1",
        "region": "EU",
        "quorum": 2,
        "status": "pending",
        "approvers": [],
        "votes": [],
        "seq": 1,
    }
    with Session(any_engine) as session, session.begin():
        assert insert_ignore(session, ApprovalRow, [row]) == 1
        assert insert_ignore(session, ApprovalRow, [row, {**row, "id": "INC-X-A2"}]) == 1
        assert insert_ignore(session, ApprovalRow, [row]) == 0


def test_an_incident_with_more_words_than_a_tsvector_holds_still_projects(any_engine, policy):
    """Notes of pasted hashes and account ids, 1.5 MB of distinct words: PostgreSQL's tsvector holds
    at most 1 MB, and a failing write would stop the incident's projection for good. The words kept
    are the first ones (title, description, the earliest notes), each once."""
    incident_id, now = new_incident_id(), datetime.now(UTC)
    opened = Open(
        incident_id=incident_id, intake=intake(), severity="SEV2", triage_reasons=["r"], policy_version=policy.version
    )
    state = lifecycle.apply(None, opened, SYSTEM, now, policy)
    entries = [JournalEntry(entry_no=1, action=opened, actor=SYSTEM, at=now, seq=state.seq)]
    for n in range(150):
        note = AddNote(text=" ".join(f"h{n:03d}{i:05d}" for i in range(1100))[:10_000])
        state = lifecycle.apply(state, note, ANA, now, policy)
        entries.append(JournalEntry(entry_no=n + 2, action=note, actor=ANA, at=now, seq=state.seq))
    projection = ProjectionActivities(any_engine, "http://vigil.test")
    ActivityEnvironment().run(
        projection.project, ProjectionBatch(incident_id=incident_id, entries=entries, state=state)
    )
    [words] = rows(any_engine, IncidentSearchRow, incident_id=incident_id)
    assert words.seq == state.seq and len(words.document) <= search.MAX_DOCUMENT_CHARS
    with Session(any_engine) as session:
        found, _next = list_incidents(session, IncidentQuery(text="h00000007", ids=[incident_id]))
    assert [r.id for r in found] == [incident_id]
