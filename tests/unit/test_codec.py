"""The payload codec: AES-GCM with a key ring, compression for large payloads."""

import base64

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload

from vigil.temporal.codec import COMPRESSION, ENCODING, KEY_ID, EncryptionCodec, KeyError_, KeyRing


def _ring(*kids: str) -> KeyRing:
    return KeyRing.parse(",".join(f"{kid}:{base64.b64encode(kid.encode().ljust(32, b'.')).decode()}" for kid in kids))


def _payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def test_a_payload_round_trips_and_hides_its_text():
    codec = EncryptionCodec(_ring("k1"))
    sealed = codec.encrypt(_payload('{"reporter": "orders@regulator.example"}'))
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert b"regulator" not in sealed.data
    assert codec.decrypt(sealed).data == b'{"reporter": "orders@regulator.example"}'


def test_large_payloads_are_compressed_before_encryption():
    codec = EncryptionCodec(_ring("k1"))
    state = '{"clocks": [' + ",".join('{"id": "sla.acknowledge", "kind": "sla"}' for _ in range(100)) + "]}"
    sealed = codec.encrypt(_payload(state))
    assert sealed.metadata[COMPRESSION] == b"zlib"
    assert len(sealed.data) < len(state) / 5
    assert codec.decrypt(sealed).data == state.encode()
    assert COMPRESSION not in codec.encrypt(_payload("{}")).metadata  # small: not worth it


def test_payloads_sealed_before_compression_still_open():
    """Histories recorded before compression was added carry no compression mark."""
    codec = EncryptionCodec(_ring("k1"))
    plain = _payload("x" * 4000)
    nonce = b"\x00" * 12
    cipher = codec._ciphers["k1"]
    old = Payload(
        metadata={"encoding": ENCODING, KEY_ID: b"k1"},
        data=nonce + cipher.encrypt(nonce, plain.SerializeToString(), b"k1"),
    )
    assert codec.decrypt(old).data == plain.data


def test_rotation_encrypts_with_the_first_key_and_opens_with_any():
    old = EncryptionCodec(_ring("k1")).encrypt(_payload("note"))
    rotated = EncryptionCodec(_ring("k2", "k1"))
    assert rotated.decrypt(old).data == b"note"
    assert rotated.encrypt(_payload("new")).metadata[KEY_ID] == b"k2"


def test_a_payload_under_an_unknown_key_is_refused_by_name():
    sealed = EncryptionCodec(_ring("k1")).encrypt(_payload("note"))
    with pytest.raises(KeyError_, match="'k1'"):
        EncryptionCodec(_ring("k2")).decrypt(sealed)


def test_an_altered_payload_is_detected():
    codec = EncryptionCodec(_ring("k1"))
    sealed = codec.encrypt(_payload("note"))
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        codec.decrypt(tampered)


@pytest.mark.parametrize("bad", ["", "k1", "k1:not-base64!", "k1:" + base64.b64encode(b"short").decode()])
def test_a_bad_key_ring_is_refused(bad: str):
    with pytest.raises(KeyError_):
        KeyRing.parse(bad)
