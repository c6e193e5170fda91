"""Real incident histories recorded on the dev server, replayed by the CI gate (see README.md)."""

import base64
from pathlib import Path

HERE = Path(__file__).parent
# The key tests/conftest.py sets: histories here are encrypted with it, and only it.
TEST_KEYS = "test1:" + base64.b64encode(b"t" * 32).decode()


def recorded() -> list[Path]:
    return sorted(HERE.glob("*.json"))
