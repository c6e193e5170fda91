"""The reconstruction's checks have teeth: a journal that no longer agrees with the states the
workflow recorded (here, a recorded history whose journal entry was rewritten and re-encrypted
with the right key, so only the checks can tell) is reported, at the event where it shows."""

from tests.histories import HERE, converter
from vigil.audit.history import read_documents
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.workflows.messages import ProjectionBatch

CONVERTER = converter()


async def test_a_rewritten_journal_entry_is_caught_by_the_workflows_own_records() -> None:
    [history] = read_documents((HERE / "rejected.json").read_text())
    assert Reconstruction(await read_journal(history, CONVERTER)).verified

    for event in history.runs[0].events:
        attributes = event.activity_task_scheduled_event_attributes
        if attributes.activity_type.name != "project":
            continue
        [batch] = await CONVERTER.decode(attributes.input.payloads, [ProjectionBatch])
        rejections = [e for e in batch.entries if e.action is not None and e.action.type == "reject"]
        if rejections:
            rejections[0].action.reason = "Approved after all."  # someone rewrites why it was rejected
            del attributes.input.payloads[:]
            attributes.input.payloads.extend(await CONVERTER.encode([batch]))
            break
    else:
        raise AssertionError("the recorded history has no rejection")

    reconstruction = Reconstruction(await read_journal(history, CONVERTER))
    assert not reconstruction.verified
    failed = [c for c in reconstruction.checks if not c.matches]
    assert failed and {c.source for c in failed} >= {"update result"}
    assert all(c.after_entry >= rejections[0].entry_no for c in failed)  # before the rewrite, all still agree
