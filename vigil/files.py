"""Vigil's own files under VIGIL_HOME (the SQLite database and its -wal/-shm, the key ring, the
first admin's token) are its owner's only: created 0600, and made so if an older Vigil left them
readable by others."""

import os
from pathlib import Path

PRIVATE = 0o600


def private_file(path: Path) -> None:
    """Create `path` (empty) readable and writable by its owner only, or make an existing one so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, which nobody but its owner can read at any moment."""
    private_file(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
