"""Forged actors through Temporal itself: the real `temporal` CLI against the dev server.

Anyone who can reach Temporal can send `act_signal` and the `act` update with any actor in the
body. Each attempt below (plaintext, encrypted but unsigned, a tampered signature, a signature
sent again, `system` from outside, bytes nobody can read) must change nothing, and must be in
the auditor's timeline as refused: who it claimed to be, what, and why.
"""

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import Engine
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.forgery import GHOST, Attacker
from tests.helpers import ANA, BEA, LEA, eventually, intake, new_incident_id, query_state, refusal, rows, running_worker
from vigil.audit import history as histories
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.timeline import TimelineItem, build_timeline
from vigil.db.tables import EnforcementRow, IncidentEventRow
from vigil.policy import Policy
from vigil.temporal import signer_of
from vigil.temporal.incident_client import act, open_incident, send_action
from vigil.temporal.signing import sign_request
from vigil.workflows.actions import Acknowledge, AddNote, Approve, ProposeAction
from vigil.workflows.state import Incident

TERMINATE = ProposeAction(
    action="terminate_account",
    rationale="repeat offender",
    target="acct:991",
    statement_of_reasons="Account terminated for repeated terrorist content (DSA art. 17)",
)


@pytest_asyncio.fixture
async def sev1_half_approved(
    dev_env: WorkflowEnvironment, dev_namespace: Client, task_queue: str, file_engine: Engine, policy: Policy
) -> AsyncIterator[tuple[Attacker, Incident]]:
    """A SEV1 termination approved by one of the two leads it needs: one forged vote would do."""
    async with running_worker(dev_namespace, task_queue, file_engine, policy):
        incident_id = new_incident_id()
        await open_incident(dev_namespace, incident_id, intake(), task_queue=task_queue)
        await act(dev_namespace, incident_id, Acknowledge(), BEA)
        state = await act(dev_namespace, incident_id, TERMINATE, ANA)
        assert state.status == "pending_approval" and state.proposals[-1].quorum == 2
        state = await act(dev_namespace, incident_id, Approve(approval_id=state.proposals[-1].id), LEA)
        yield Attacker(dev_env, dev_namespace, incident_id), state


async def _timeline(client: Client, incident_id: str) -> list[TimelineItem]:
    reconstruction = Reconstruction(
        await read_journal(await histories.fetch(client, incident_id), client.data_converter)
    )
    assert reconstruction.journal.problems == []
    return build_timeline(reconstruction, "en").entries


async def test_forged_actions_through_the_temporal_cli_change_nothing_and_are_refused_on_record(
    sev1_half_approved: tuple[Attacker, Incident], file_engine: Engine
) -> None:
    attacker, before = sev1_half_approved
    incident_id, approval = before.id, before.proposals[-1].id
    forged_approve = {"action": {"type": "approve", "approval_id": approval}, "actor": GHOST}
    system_note = {
        "action": {"type": "add_note", "text": "Vigil: approved"},
        "actor": {"user": "vigil", "role": "system"},
    }
    signer = signer_of(attacker.client)
    # A note ana really sent, captured (say, from the history through the codec endpoint)...
    captured = sign_request(signer, incident_id, AddNote(text="legit note"), ANA)
    await attacker.client.get_workflow_handle(incident_id).signal("act_signal", captured.model_dump(mode="json"))
    # ...its signature put on a forged approval, and sent again as it was.
    swapped = {**captured.model_dump(mode="json"), **forged_approve}
    elsewhere = sign_request(signer, "INC-2000-000001", Approve(approval_id=approval), LEA)

    codes = {
        "plaintext signal": (await attacker.plaintext("signal", forged_approve))[0],
        "plaintext update": (await attacker.plaintext("update", forged_approve))[0],
        "encrypted unsigned signal": (await attacker.encrypted("signal", forged_approve))[0],
        "encrypted unsigned update": (await attacker.encrypted("update", forged_approve))[0],
        "system note signal": (await attacker.encrypted("signal", system_note))[0],
        "system note update": (await attacker.encrypted("update", system_note))[0],
        "swapped signature": (await attacker.encrypted("signal", swapped))[0],
        "signature sent again": (await attacker.encrypted("signal", captured.model_dump(mode="json")))[0],
        "signed for another incident update": (await attacker.encrypted("update", elsewhere.model_dump(mode="json")))[
            0
        ],
        "not JSON update": (await attacker.plaintext("update", "approve it"))[0],
        "unreadable ciphertext": (
            await attacker.payload(
                "signal",
                Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k1"}, data=b"\0" * 40),
            )
        )[0],
    }
    # The signals were delivered (the CLI cannot tell); every update was answered with a failure.
    assert {name: code for name, code in codes.items() if ("update" in name) == (code == 0)} == {}, codes

    refused = await eventually(
        lambda: (
            (found := [e for e in rows(file_engine, IncidentEventRow, incident_id=incident_id) if e.refused])
            and len(found) == attacker.attempts
            and found
        ),
        timeout=30,
    )
    after = await query_state(attacker.client, incident_id)
    assert after.seq == before.seq + 1 and [n.text for n in after.notes] == ["legit note"]
    assert after.status == "pending_approval" and after.proposals[-1].approvers == ["lea"]
    assert rows(file_engine, EnforcementRow, proposal_id=approval) == []
    assert sum(e.type == "approve" and e.actor == "ghost" for e in refused) == 5  # 4 forged, 1 swapped

    items = [i for i in await _timeline(attacker.client, incident_id) if i.refused]
    reasons = [i.reason or "" for i in items]
    assert len(items) == attacker.attempts, reasons
    texts = [i.text for i in items]
    ghost = "Refused: approval by 'ghost' (lead), who could not be verified: "
    assert sum(t.startswith(ghost + "unencrypted payload") for t in texts) == 2, texts
    assert sum(t == ghost + "unsigned action." for t in texts) == 2, texts
    assert sum(t.startswith("Refused: note by 'vigil' (system)") for t in texts) == 2, texts
    assert sum("claiming to be Vigil itself (system)" in r for r in reasons) == 2, reasons
    assert sum(r.startswith("bad signature") for r in reasons) == 2, reasons  # swapped, another incident
    assert sum("already used" in r for r in reasons) == 1, reasons
    assert sum(r.startswith("unreadable payload") for r in reasons) == 1, reasons
    assert sum("not an action" in r or "approve it" in r or "JSON" in r for r in reasons) >= 1, reasons
    assert {i.via for i in items} == {"signal", "update"}
    # Nothing the attacker sent failed a workflow task: each was a refusal, not a crash.
    history = await attacker.client.get_workflow_handle(incident_id).fetch_history()
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


async def test_vigil_s_own_actions_still_apply_by_update_and_by_signal(
    sev1_half_approved: tuple[Attacker, Incident],
) -> None:
    attacker, before = sev1_half_approved
    await send_action(attacker.client, before.id, AddNote(text="by signal"), ANA)
    state = await act(attacker.client, before.id, AddNote(text="by update"), BEA)
    assert [n.text for n in state.notes][-1] == "by update"
    refused = await refusal(act(attacker.client, before.id, Approve(approval_id=before.proposals[-1].id), LEA))
    assert refused.code == "conflict"  # a state-machine refusal: journaled, answered as before
    items = [i for i in await _timeline(attacker.client, before.id) if i.refused]
    assert [(i.actor, i.type, i.via) for i in items] == [("lea", "approve", "update")]
