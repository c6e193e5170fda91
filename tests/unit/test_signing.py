"""Signed actors (vigil/temporal/signing.py): what verifies, what is refused and why."""

import pytest

from tests.helpers import ANA, LEA
from vigil.domain import Role
from vigil.temporal.codec import EncryptionCodec, KeyRing
from vigil.temporal.signing import check_request, sign_request
from vigil.workflows.actions import AddNote, Approve
from vigil.workflows.messages import ActionRequest
from vigil.workflows.state import SYSTEM, Actor

INCIDENT = "INC-2026-000001"
OLD = KeyRing.new_entry("k1")
NEW = KeyRing.new_entry("k2")


def _signed(ring: str, action=None, actor=LEA, **kwargs) -> ActionRequest:
    codec = EncryptionCodec(KeyRing.parse(ring))
    return sign_request(codec.signer, INCIDENT, action or Approve(approval_id=f"{INCIDENT}-A1"), actor, **kwargs)


def _as_sent(request: ActionRequest) -> ActionRequest:
    """What the workflow reads: the request after a JSON round trip."""
    return ActionRequest.model_validate_json(request.model_dump_json())


def test_a_signed_action_verifies_after_the_trip_through_json() -> None:
    assert check_request(_as_sent(_signed(OLD)), INCIDENT) is None


def test_after_rotation_the_old_key_still_verifies_and_the_new_key_signs() -> None:
    before = _signed(OLD)
    rotated = EncryptionCodec(KeyRing.parse(f"{NEW},{OLD}"))
    after = sign_request(rotated.signer, INCIDENT, AddNote(text="after rotation"), ANA)
    assert after.signature is not None and before.signature is not None
    assert after.signature.kid.startswith("k2.") and before.signature.kid.startswith("k1.")
    assert check_request(_as_sent(before), INCIDENT) is None
    assert check_request(_as_sent(after), INCIDENT) is None


def test_a_key_id_no_ring_holds_is_refused() -> None:
    request = _signed(OLD)
    assert request.signature is not None
    unknown = request.model_copy(update={"signature": request.signature.model_copy(update={"kid": "k9.0123456789ab"})})
    assert check_request(unknown, INCIDENT) == "signed with an unknown key 'k9.0123456789ab'"


def test_two_rings_that_both_name_their_key_k1_do_not_verify_each_other() -> None:
    mine, theirs = _signed(KeyRing.new_entry("k1")), _signed(KeyRing.new_entry("k1"))
    assert mine.signature is not None and theirs.signature is not None
    assert mine.signature.kid != theirs.signature.kid


def test_an_unsigned_action_is_refused() -> None:
    forged = ActionRequest(action=Approve(approval_id=f"{INCIDENT}-A1"), actor=Actor(user="ghost", role=Role.LEAD))
    assert check_request(forged, INCIDENT) == "unsigned action"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", Actor(user="ghost", role=Role.LEAD)),
        ("actor", Actor(user="lea", role=Role.ADMIN)),
        ("action", Approve(approval_id=f"{INCIDENT}-A2")),
        ("action", AddNote(text="something else")),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(field: str, value: object) -> None:
    tampered = _signed(OLD).model_copy(update={field: value})
    assert "bad signature" in (check_request(_as_sent(tampered), INCIDENT) or "")


@pytest.mark.parametrize("field", ["nonce", "issued_at", "internal"])
def test_changing_the_signature_s_own_fields_breaks_it(field: str) -> None:
    request = _signed(OLD)
    assert request.signature is not None
    changed = {"nonce": "another", "issued_at": request.signature.issued_at.replace(year=2030), "internal": True}
    tampered = request.model_copy(update={"signature": request.signature.model_copy(update={field: changed[field]})})
    assert "bad signature" in (check_request(tampered, INCIDENT) or "")


def test_a_signature_for_one_incident_does_not_act_on_another() -> None:
    assert "bad signature" in (check_request(_signed(OLD), "INC-2026-000002") or "")


def test_the_api_never_signs_as_the_system_actor() -> None:
    with pytest.raises(ValueError, match="system"):
        _signed(OLD, AddNote(text="as Vigil"), SYSTEM)
    with pytest.raises(ValueError, match="system"):
        _signed(OLD, AddNote(text="as Vigil"), Actor(user="Vigil", role=Role.ADMIN))


def test_vigil_s_own_note_verifies_only_when_signed_as_internal() -> None:
    note = _signed(OLD, AddNote(text="INC-2026-000009 was merged into this incident"), SYSTEM, internal=True)
    assert check_request(_as_sent(note), INCIDENT) is None
    unsigned = ActionRequest(action=note.action, actor=SYSTEM)
    assert check_request(unsigned, INCIDENT) == "unsigned action claiming to be Vigil itself (system)"


# ---------------------------------------------------------------------------- the codec's marks


async def test_the_codec_marks_what_it_cannot_vouch_for_instead_of_failing() -> None:
    from temporalio.api.common.v1 import Payload

    from vigil.temporal import data_converter
    from vigil.temporal.codec import KeyError_
    from vigil.temporal.signing import UNENCRYPTED, unreadable_reason

    codec = EncryptionCodec(KeyRing.parse(OLD))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    unknown = Payload(metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"k9"}, data=b"\0" * 40)
    (sealed,) = await codec.encode([plain])
    altered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))

    opened = await codec.decode([plain, unknown, altered, sealed])
    assert opened[0].metadata[UNENCRYPTED] == b"1" and opened[0].data == plain.data
    assert "'k9'" in (unreadable_reason(opened[1]) or "")
    assert "cannot be decrypted" in (unreadable_reason(opened[2]) or "")
    assert opened[3] == plain and unreadable_reason(opened[3]) is None
    # Read as a value anywhere else, an unreadable payload raises the codec's error with its reason.
    with pytest.raises(KeyError_, match="'k9'"):
        await data_converter(codec).decode([unknown], [dict])
    assert await data_converter(codec).decode([plain], [dict]) == [{"a": 1}]
