"""Real incident histories recorded on the dev server, replayed by the CI gate (see README.md)."""

import base64
from pathlib import Path

HERE = Path(__file__).parent
# The key tests/conftest.py sets: histories here are encrypted with it, and only it.
TEST_KEYS = "test1:" + base64.b64encode(b"t" * 32).decode()


def recorded() -> list[Path]:
    return sorted(HERE.glob("*.json"))


def converter():
    """Vigil's data converter with the recorded histories' key, whatever key this process has."""
    from vigil.temporal import data_converter
    from vigil.temporal.codec import EncryptionCodec, KeyRing

    return data_converter(EncryptionCodec(KeyRing.parse(TEST_KEYS)))
