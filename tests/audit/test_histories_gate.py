"""The CI gate: every history in tests/histories/ (recorded on the dev server) still replays
against today's workflow code, and still reads (journal, reconstruction, timeline). See
tests/histories/README.md for what to do when it fails."""

import base64

import pytest

from tests.audit.payloads import outside_the_codec, payloads_in
from tests.histories import TEST_KEYS, converter, recorded
from vigil.audit.history import IncidentHistory, read_documents
from vigil.audit.journal import read_journal
from vigil.audit.reconstruct import Reconstruction
from vigil.audit.replay import POOL_FROM, pool_size, replay, replay_many
from vigil.audit.timeline import build_timeline
from vigil.temporal.codec import ENCODING, KEY_ID

CONVERTER = converter()  # the recorded histories' own key, whatever VIGIL_ENCRYPTION_KEYS this run has


@pytest.fixture(scope="module")
def histories() -> list[IncidentHistory]:
    files = recorded()
    assert len(files) >= 15, "tests/histories/ holds the recorded histories: python -m tests.histories.record"
    return [history for path in files for history in read_documents(path.read_text())]


async def test_every_recorded_history_replays_against_todays_workflows(histories: list[IncidentHistory]) -> None:
    reports = await replay(histories, CONVERTER)
    broken = [f"{r.incident_id}: {r.result} at {r.divergence}" for r in reports if not r.ok]
    assert not broken, "\n".join(broken)
    assert sum(r.workflows for r in reports) > len(reports)  # approval requests and continued runs too


async def test_many_histories_replay_across_processes_as_in_one(histories: list[IncidentHistory]) -> None:
    """`vigil audit replay` of many: a pool of processes, each decrypting with the key ring it is
    handed (the recorded histories' own, not this environment's), answers as one process does."""
    many = (histories * (POOL_FROM // len(histories) + 1))[:POOL_FROM]
    assert pool_size(len(many), 2) == 2
    pooled = await replay_many(many, CONVERTER, processes=2)
    alone = await replay(many, CONVERTER)
    assert [(r.incident_id, r.result, r.workflows, r.events) for r in pooled] == [
        (r.incident_id, r.result, r.workflows, r.events) for r in alone
    ]
    assert all(r.ok for r in pooled)


async def test_the_gate_fails_on_the_recorded_histories_when_commands_are_swapped(
    histories: list[IncidentHistory],
) -> None:
    """The gate's own proof, offline: today's code with two commands swapped (scratch_workflow)
    fails every recorded history at the event where it diverges."""
    from tests.audit.scratch_workflow import SearchAttributesBeforeTriage
    from vigil.workflows.approval import ApprovalWorkflow

    some = histories[:5]
    reports = await replay(some, CONVERTER, workflows=[SearchAttributesBeforeTriage, ApprovalWorkflow])
    assert [r.result for r in reports] == ["nondeterministic"] * len(some)
    assert {(r.divergence.event_type, r.divergence.known_cause) for r in reports} == {("ACTIVITY_TASK_SCHEDULED", None)}


async def test_every_recorded_history_still_reads_and_rebuilds_what_the_workflow_recorded(
    histories: list[IncidentHistory],
) -> None:
    for history in histories:
        reconstruction = Reconstruction(await read_journal(history, CONVERTER))
        assert reconstruction.verified, (
            history.incident_id,
            reconstruction.problems,
            [c for c in reconstruction.checks if not c.matches],
        )
        for language in ("en", "es"):
            assert build_timeline(reconstruction, language).entries


def test_the_recorded_histories_cover_the_paths_that_matter(histories: list[IncidentHistory]) -> None:
    names = {path.stem for path in recorded()}
    for scenario in (
        "approved-by-two-leads",
        "rejected",
        "sla-breached",
        "legal-deadline-missed",
        "signals-refused",
        "reopened",
        "continued-as-new",
        "enforcement-refused",
        "approval-asks-next-tier",
        "severity-lowered",  # four-eyes by the most severe level held (patch four-eyes-by-highest-severity)
    ):
        assert scenario in names
    assert any(len(h.runs) >= 3 for h in histories)  # continue-as-new, more than once
    assert sum(len(h.approvals) for h in histories) >= 8


def test_recorded_payloads_are_encrypted_with_the_test_key(histories: list[IncidentHistory]) -> None:
    keys, count = set(), 0
    for history in histories:
        for metadata, data in payloads_in(history.to_document()):
            if outside_the_codec(metadata, data):
                continue
            assert metadata["encoding"] == ENCODING, metadata
            keys.add(metadata[KEY_ID])
            count += 1
    assert count > 1000 and keys == {TEST_KEYS.split(":")[0].encode()}
    assert base64.b64decode(TEST_KEYS.split(":")[1]) == b"t" * 32
