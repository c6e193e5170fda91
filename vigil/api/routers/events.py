"""GET /api/events: Server-Sent Events of what changes, read from the change feed (the `changes`
table the projection writes with every journal entry), never from a workflow.

Events:
- `change` (one per journal entry): `{"incident_id", "entry_no", "seq", "kind", "refused",
  "status", "severity", "assignee", "at"}`; its `id` is global and increasing, so a client that
  reconnects with `Last-Event-ID` (browsers do it themselves) misses nothing;
- `waiting`: `{"approvals", "assigned"}`, what waits for the caller, at the start and whenever it
  changes;
- `reset`: the client was too far behind; reload, then follow from here.

Every role that reads incidents may read every incident (vigil.roles.READERS), and an event says
nothing a reader may not see (no title, content or reporter).
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from sse_starlette.sse import EventSourceResponse

from vigil.api.deps import allow, get_engine, whole_number
from vigil.api.errors import invalid, responses
from vigil.api.waiting import waiting_for
from vigil.auth import Principal
from vigil.db.tables import ChangeRow
from vigil.roles import READERS

router = APIRouter(prefix="/api", tags=["events"])

POLL_SECONDS = 0.5
BATCH = 200
MOST_BEHIND = 10_000  # further behind than this: `reset` instead of replaying


def _latest(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.max(col(ChangeRow.id)))) or 0


def _after(engine: Engine, last: int) -> list[ChangeRow]:
    with Session(engine) as session:
        return list(
            session.scalars(select(ChangeRow).where(col(ChangeRow.id) > last).order_by(col(ChangeRow.id)).limit(BATCH))
        )


def _waiting(engine: Engine, user: Principal) -> dict[str, int]:
    with Session(engine) as session:
        return waiting_for(session, user).model_dump()


def _change(row: ChangeRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "event": "change",
        "data": json.dumps(
            {
                "incident_id": row.incident_id,
                "entry_no": row.entry_no,
                "seq": row.seq,
                "kind": row.kind,
                "refused": row.refused,
                "status": row.status,
                "severity": row.severity,
                "assignee": row.assignee,
                "at": row.at.isoformat() + ("" if row.at.tzinfo else "Z"),
            }
        ),
    }


def parse_last_event_id(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    last = whole_number(value, max_digits=18)
    if last is None:
        raise invalid("Last-Event-ID: must be the id of an event this stream sent (a whole number)")
    return last


async def stream(
    engine: Engine, user: Principal, last: int | None, disconnected: Callable[[], Any]
) -> AsyncIterator[dict[str, Any]]:
    """The events after `last` (None: from now), then as they come, until the client goes."""
    latest = await run_in_threadpool(_latest, engine)
    if last is None or last > latest:
        last = latest
    elif latest - last > MOST_BEHIND:
        yield {"event": "reset", "data": json.dumps({"latest": latest}), "id": str(latest)}
        last = latest
    waiting = await run_in_threadpool(_waiting, engine, user)
    yield {"event": "waiting", "data": json.dumps(waiting)}
    while not await disconnected():
        rows = await run_in_threadpool(_after, engine, last)
        for row in rows:
            yield _change(row)
            last = row.id or last
        if rows:
            now_waiting = await run_in_threadpool(_waiting, engine, user)
            if now_waiting != waiting:
                waiting = now_waiting
                yield {"event": "waiting", "data": json.dumps(waiting)}
        if len(rows) < BATCH:
            await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/events",
    summary="Server-Sent Events: changes the caller may see",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **responses(403, 422)},
)
async def events(
    request: Request,
    user: Principal = Depends(allow(READERS, "follow events")),
    engine: Engine = Depends(get_engine),
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Same as Last-Event-ID, for clients that cannot set it")
    ] = None,
) -> EventSourceResponse:
    """`text/event-stream`. Resume with `Last-Event-ID` (or `?after=`); without one it starts now."""
    last = parse_last_event_id(last_event_id)
    return EventSourceResponse(
        stream(engine, user, last if last is not None else after, request.is_disconnected), ping=15
    )
