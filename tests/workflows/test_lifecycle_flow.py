"""An incident's way through the lifecycle on the real engine: resolve, reopen, close, merge,
refusals that change nothing, and continue-as-new that loses nothing."""

from datetime import timedelta

from tests.helpers import ANA, AUDREY, LEA, eventually, open_new, query_state, refusal, rows, running_worker
from vigil.audit.digest import chain, fetch_runs, sealed_events, verify
from vigil.db.tables import HistorySealRow, IncidentEventRow, IncidentRow
from vigil.temporal import HISTORY_DIGEST
from vigil.temporal.incident_client import act, send_action
from vigil.workflows.actions import (
    Acknowledge,
    AddNote,
    Assign,
    Escalate,
    MergeInto,
    Reopen,
    Resolve,
)
from vigil.workflows.incident import IncidentWorkflow

SEV3 = {"channel": "user_report", "category": "hate_speech", "reach": 10, "region": "LATAM"}


async def _resolved(client, task_queue):
    _, state = await open_new(client, task_queue, **SEV3)
    await act(client, state.id, Acknowledge(), ANA)
    return await act(client, state.id, Resolve(resolution="no_violation", summary="satire, allowed"), ANA)


async def test_reopen_inside_the_window_goes_back_to_investigating(ts_env, ts_client, task_queue, worker):
    state = await _resolved(ts_client, task_queue)
    await ts_env.sleep(timedelta(days=6))
    state = await act(ts_client, state.id, Reopen(reason="the same account posted it again"), ANA)
    assert state.status == "investigating"
    assert state.clock("sla.resolve").running


async def test_after_the_reopen_window_the_incident_closes_and_takes_no_more_actions(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    state = await _resolved(ts_client, task_queue)
    handle = ts_client.get_workflow_handle_for(IncidentWorkflow.run, state.id)
    await ts_env.sleep(timedelta(days=7, minutes=1))  # the reopen window
    final = await handle.result()
    assert final.status == "closed"

    refused = await refusal(act(ts_client, state.id, Reopen(reason="too late"), ANA))
    assert refused.code == "conflict" and "closed" in refused.reason

    row = await eventually(lambda: rows(sqlite_engine, IncidentRow, id=state.id)[0].history_digest)
    assert row  # sealed: the digest is in the projection...
    description = await handle.describe()
    assert description.typed_search_attributes.get(HISTORY_DIGEST) == row  # ...and in Temporal's index


async def test_the_sealed_history_verifies_and_an_altered_copy_does_not(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    state = await _resolved(ts_client, task_queue)
    await ts_env.sleep(timedelta(days=7, minutes=1))
    await ts_client.get_workflow_handle_for(IncidentWorkflow.run, state.id).result()
    seal = await eventually(lambda: rows(sqlite_engine, HistorySealRow, incident_id=state.id))
    runs = await fetch_runs(ts_client, state.id)
    assert chain(state.id, sealed_events(runs))[-1] == seal[0].digest
    assert verify(state.id, runs, seal[0].chain).intact

    runs[0].events[5].event_time.seconds -= 3600  # someone moves an event back an hour
    verdict = verify(state.id, runs, seal[0].chain)
    assert not verdict.intact and verdict.first_altered == 5


async def test_merge_closes_the_duplicate_and_notes_it_on_the_original(ts_client, task_queue, worker):
    _, original = await open_new(ts_client, task_queue, **SEV3)
    _, duplicate = await open_new(ts_client, task_queue, **SEV3)
    merged = await act(ts_client, duplicate.id, MergeInto(incident_id=original.id), ANA)
    assert merged.status == "merged"
    duplicate_run = ts_client.get_workflow_handle_for(IncidentWorkflow.run, duplicate.id)
    assert (await duplicate_run.result()).merged_into == original.id
    late = await refusal(act(ts_client, duplicate.id, AddNote(text="one more thing"), ANA))
    assert late.code == "conflict" and f"merged into {original.id}" in late.reason

    noted = await eventually(lambda: _notes(ts_client, original.id))
    assert noted[-1].text == f"{duplicate.id} was merged into this incident" and noted[-1].by == "vigil"


async def test_refused_actions_change_nothing_and_say_why(ts_client, task_queue, worker):
    _, state = await open_new(ts_client, task_queue, **SEV3)
    checks = [
        (Escalate(team="legal", reason="too early"), ANA, "conflict", "triage"),
        (Acknowledge(), AUDREY, "forbidden", "auditor"),
    ]
    for action, actor, code, words in checks:
        refused = await refusal(act(ts_client, state.id, action, actor))
        assert refused.code == code and words in refused.reason
    await act(ts_client, state.id, Acknowledge(), ANA)
    refused = await refusal(act(ts_client, state.id, Escalate(team="incident_latam", reason="x"), ANA))
    assert refused.code == "invalid" and "owns this incident" in refused.reason
    after = await query_state(ts_client, state.id)
    assert after.seq == state.seq + 1  # only the acknowledgement


async def test_refused_signals_are_recorded_as_refused_never_applied(ts_client, task_queue, worker, sqlite_engine):
    _, state = await open_new(ts_client, task_queue, **SEV3)
    handle = ts_client.get_workflow_handle(state.id)
    await send_action(ts_client, state.id, Escalate(team="legal", reason="before acknowledging"), ANA)
    await handle.signal(
        IncidentWorkflow.act_signal,
        {"action": {"type": "escalate", "team": "the_moon"}, "actor": {"user": "ana", "role": "analyst"}},
    )
    await send_action(ts_client, state.id, AddNote(text="seen"), ANA)

    events = await eventually(
        lambda: (
            len(rows(sqlite_engine, IncidentEventRow, incident_id=state.id)) >= 4
            and rows(sqlite_engine, IncidentEventRow, incident_id=state.id)
        )
    )
    refused = sorted((e for e in events if e.refused), key=lambda e: e.entry_no)
    assert [e.type for e in refused] == ["escalate", "malformed"]
    assert "triage" in refused[0].reason and "the_moon" in refused[1].reason
    after = await query_state(ts_client, state.id)
    assert after.status == "triage" and [n.text for n in after.notes] == ["seen"]


async def test_a_long_incident_continues_as_new_and_keeps_everything(dev_client, task_queue, sqlite_engine, policy):
    """On the dev server: when an update races a continue-as-new, the time-skipping server waits
    out a 10 s task timeout that the real server does not."""
    ts_client = dev_client
    short = policy.model_copy(update={"history_events_limit": 100})
    async with running_worker(dev_client, task_queue, sqlite_engine, short):
        _, state = await open_new(ts_client, task_queue, **SEV3)
        first_run = (await ts_client.get_workflow_handle(state.id).describe()).run_id
        await act(ts_client, state.id, Acknowledge(), ANA)
        for n in range(40):
            await act(ts_client, state.id, AddNote(text=f"note {n}"), ANA)
            await act(ts_client, state.id, Assign(assignee="bea" if n % 2 == 0 else "ana"), LEA)

        async def moved_on():
            return (await ts_client.get_workflow_handle(state.id).describe()).run_id != first_run

        await eventually(moved_on)
        after = await act(ts_client, state.id, AddNote(text="after the new run"), ANA)
        assert len(after.notes) == 41 and after.seq == 1 + 1 + 80 + 1
        assert len(await fetch_runs(ts_client, state.id)) >= 2

        def all_entries_projected():
            numbers = sorted(e.entry_no for e in rows(sqlite_engine, IncidentEventRow, incident_id=state.id))
            return numbers == list(range(1, after.seq + 1))

        await eventually(all_entries_projected)


def _notes(client, incident_id):
    async def check():
        notes = (await query_state(client, incident_id)).notes
        return notes or None

    return check()


async def test_an_action_retried_with_the_same_request_id_is_applied_once(ts_client, task_queue, worker):
    _, state = await open_new(ts_client, task_queue, **SEV3)
    first = await act(ts_client, state.id, AddNote(text="called the reporter"), ANA, request_id="req-1")
    again = await act(ts_client, state.id, AddNote(text="called the reporter"), ANA, request_id="req-1")
    assert again.seq == first.seq and len(again.notes) == 1
    assert len((await query_state(ts_client, state.id)).notes) == 1
