"""Post-incident reviews on the time-skipping server: opened on resolving a SEV1/SEV2, reminded
from the due date until completed, follow-ups reminded when due; changes work after the incident
has closed, and the review's rules refuse what they must."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from tests.helpers import ANA, BEA, LEA, eventually, open_new, refusal, rows
from vigil.db.tables import FollowUpRow, OutboxRow, ReviewEventRow, ReviewRow
from vigil.temporal import review_client, signer_of
from vigil.temporal.incident_client import act
from vigil.temporal.signing import signature_for
from vigil.workflows.actions import Acknowledge, RefusalCode, Resolve
from vigil.workflows.incident import IncidentWorkflow
from vigil.workflows.review import ReviewWorkflow
from vigil.workflows.review_state import (
    AddFollowUp,
    CloseFollowUp,
    CompleteReview,
    EditReview,
    Review,
    ReviewActionRequest,
    review_id,
)


def projected(engine: Engine, incident_id: str) -> Review | None:
    found = rows(engine, ReviewRow, incident_id=incident_id)
    return Review.model_validate(found[0].review) if found else None


async def _resolved_sev1(client, task_queue):
    _, state = await open_new(client, task_queue)
    assert state.severity == "SEV1"
    await act(client, state.id, Acknowledge(), ANA)
    return await act(client, state.id, Resolve(resolution="no_violation", summary="Satire, allowed."), ANA)


async def _write_sections(client, incident_id):
    for section, text in (
        ("summary", "A satirical clip was reported as an attack video."),
        ("contributing_factors", "The regulator's order named the wrong URL."),
        ("to_change", "Ask the regulator for the content id with every order."),
    ):
        await review_client.act(client, incident_id, EditReview(section=section, text=text), ANA)


async def test_resolving_a_sev1_opens_a_review_reminded_until_completed_also_after_the_incident_closed(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    state = await _resolved_sev1(ts_client, task_queue)
    review = await eventually(lambda: (r := projected(sqlite_engine, state.id)) and r.key_moments and r)
    assert (review.status, review.owner, review.severity) == ("open", "ana", "SEV1")
    assert review.due_at == state.resolved_at + timedelta(days=5)
    assert [m.type for m in review.key_moments][:1] == ["open"]
    assert {"acknowledge", "resolve"} <= {m.type for m in review.key_moments}
    assert all(m.text["es"] and m.text["en"] != m.text["es"] for m in review.key_moments)
    opened = rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="review_opened")
    assert [o.recipient for o in opened] == ["user:ana"]

    await ts_env.sleep(timedelta(days=5, hours=1))  # past the due date: the owner is reminded
    await eventually(lambda: (r := projected(sqlite_engine, state.id)) and r.reminders == 1)
    await ts_env.sleep(timedelta(days=3))  # and again every day; the reopen window (7 days) closes
    review = await eventually(lambda: (r := projected(sqlite_engine, state.id)) and r.reminders == 4 and r)
    reminders = rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="review_reminder")
    assert len(reminders) == 4 and {r.recipient for r in reminders} == {"user:ana"}
    closed = await ts_client.get_workflow_handle_for(IncidentWorkflow.run, state.id).result()
    assert closed.status == "closed"  # the incident has ended; its review has not

    await _write_sections(ts_client, state.id)  # the incident has closed; its review takes changes
    done = await review_client.act(ts_client, state.id, CompleteReview(), ANA)
    assert (done.status, done.completed_by, done.next_reminder_at) == ("completed", "ana", None)
    final = await ts_client.get_workflow_handle_for(ReviewWorkflow.run, review_id(state.id)).result()
    assert final.status == "completed" and final.reminders == 4  # nothing left to remind: it ended
    events = rows(sqlite_engine, ReviewEventRow, review_id=review_id(state.id))
    assert [e.type for e in sorted(events, key=lambda e: e.entry_no)][-1] == "review_complete"
    assert len(rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="review_reminder")) == 4


async def test_follow_ups_remind_their_owner_when_due_until_done(ts_env, ts_client, task_queue, worker, sqlite_engine):
    state = await _resolved_sev1(ts_client, task_queue)
    await eventually(lambda: projected(sqlite_engine, state.id))
    today = (await ts_env.get_current_time()).date()
    review = await review_client.act(
        ts_client,
        state.id,
        AddFollowUp(
            text="Ask the regulator for content ids.", owner="bea", due=today + timedelta(days=2), serves="triage.rules"
        ),
        ANA,
    )
    follow_up = review.follow_ups[0]
    queued = await eventually(lambda: rows(sqlite_engine, FollowUpRow, owner="bea", status="open"))
    assert [f.id for f in queued] == [follow_up.id] and queued[0].serves == "triage.rules"
    assigned = rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="follow_up_assigned")
    assert [a.recipient for a in assigned] == ["user:bea"]

    await ts_env.sleep(timedelta(days=3, hours=1))  # due two days on: reminded on the day, then daily
    due = await eventually(
        lambda: len(rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="follow_up_reminder")) >= 2
    )
    assert due
    sent = rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="follow_up_reminder")
    assert {s.recipient for s in sent} == {"user:bea"}

    refused = await refusal(
        review_client.act(
            ts_client, state.id, CloseFollowUp(follow_up_id=follow_up.id), ANA.model_copy(update={"user": "chen"})
        )
    )
    assert refused.code == RefusalCode.FORBIDDEN and "bea" in refused.reason
    closed = await review_client.act(
        ts_client, state.id, CloseFollowUp(follow_up_id=follow_up.id, note="Agreed with them."), BEA
    )
    assert closed.follow_ups[0].status == "done" and closed.follow_ups[0].next_reminder_at is None
    await eventually(lambda: not rows(sqlite_engine, FollowUpRow, owner="bea", status="open"))
    count = len(rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="follow_up_reminder"))
    await ts_env.sleep(timedelta(days=2))
    assert len(rows(sqlite_engine, OutboxRow, incident_id=state.id, kind="follow_up_reminder")) == count


async def test_a_review_is_completed_only_when_written_and_by_its_owner_or_a_lead(
    ts_env, ts_client, task_queue, worker, sqlite_engine
):
    state = await _resolved_sev1(ts_client, task_queue)
    await eventually(lambda: projected(sqlite_engine, state.id))
    unwritten = await refusal(review_client.act(ts_client, state.id, CompleteReview(), ANA))
    assert unwritten.code == RefusalCode.INVALID and "summary" in unwritten.reason
    await _write_sections(ts_client, state.id)
    not_owner = await refusal(review_client.act(ts_client, state.id, CompleteReview(), BEA))
    assert not_owner.code == RefusalCode.FORBIDDEN
    past = await refusal(
        review_client.act(
            ts_client,
            state.id,
            AddFollowUp(
                text="Too late.", owner="bea", due=(await ts_env.get_current_time()).date() - timedelta(days=1)
            ),
            ANA,
        )
    )
    assert past.code == RefusalCode.INVALID
    done = await review_client.act(ts_client, state.id, CompleteReview(), LEA)  # a lead may complete it
    assert done.completed_by == "lea"
    after = await refusal(review_client.act(ts_client, state.id, EditReview(section="summary", text="Changed."), ANA))
    assert after.code == RefusalCode.CONFLICT
    assert projected(sqlite_engine, state.id).summary.startswith("A satirical clip")


async def test_resolving_a_sev3_opens_no_review(ts_env, ts_client, task_queue, worker, sqlite_engine):
    _, state = await open_new(ts_client, task_queue, category="hate_speech", channel="user_report", reach=10)
    assert state.severity == "SEV3"
    await act(ts_client, state.id, Acknowledge(), ANA)
    await act(ts_client, state.id, Resolve(resolution="no_violation", summary="Allowed."), ANA)
    await ts_env.sleep(timedelta(days=8))  # closed, sealed
    final = await ts_client.get_workflow_handle_for(IncidentWorkflow.run, state.id).result()
    assert final.status == "closed"
    assert projected(sqlite_engine, state.id) is None
    with pytest.raises(review_client.ReviewNotFound):
        await review_client.act(ts_client, state.id, CompleteReview(), ANA)


async def test_a_review_change_vigil_did_not_sign_is_refused_and_changes_nothing(
    ts_client, task_queue, worker, sqlite_engine
):
    state = await _resolved_sev1(ts_client, task_queue)
    before = await eventually(lambda: projected(sqlite_engine, state.id))
    handle = ts_client.get_workflow_handle(review_id(state.id))
    forged = {"action": {"type": "review_complete"}, "actor": {"user": "ana", "role": "analyst"}}
    signed = ReviewActionRequest(
        action=EditReview(section="summary", text="written by ana"),
        actor=ANA,
        signature=signature_for(signer_of(ts_client), review_id(state.id), CompleteReview(), ANA),
    )
    for body in (forged, signed.model_dump(mode="json")):  # unsigned; another action's signature
        with pytest.raises(Exception) as refused:
            await handle.execute_update("review_act", body, result_type=Review)
        assert "unsigned action" in str(refused.value.__cause__ or refused.value) or "bad signature" in str(
            refused.value.__cause__ or refused.value
        )
    after = await review_client.act(ts_client, state.id, EditReview(section="summary", text="the real one"), ANA)
    assert after.status == before.status == "open" and after.completed_by is None
