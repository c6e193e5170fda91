"""Auditing an incident from its Temporal history, in five parts:

- `history`: the raw history, every run, payloads still encrypted (the export);
- `reconstruction`: the timeline in words, and the state after any event;
- `seals`: the hash chain stored at close, and the check of today's history against it;
- `replay`: histories replayed against today's workflow code;
- `repairs`: resetting an incident whose history no longer replays, and the record of it.

Everything here reads Temporal's history, not the SQL projection (which only says which
incidents a filter or a time range selects, and where each seal is kept). Events are numbered
across the runs of an incident's workflow: see vigil.audit.history. The request and response
models are in `schemas`; those the CLI shares (the timeline, the verdict) in vigil.audit.
"""

from fastapi import APIRouter

from vigil.api.routers.audit import history, reconstruction, repairs, replay, seals

router = APIRouter()
for part in (history.router, reconstruction.router, seals.router, replay.router, repairs.router):
    router.include_router(part)
