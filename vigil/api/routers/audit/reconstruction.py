"""The history read back: the timeline in words, and the state right after any event."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Engine
from temporalio.client import Client

from vigil import need_to_know
from vigil.api.deps import allow, get_engine, get_temporal
from vigil.api.errors import invalid, responses
from vigil.api.routers.audit.reading import reconstruction
from vigil.api.routers.audit.schemas import EntryRef, StateAfterEvent, StateCheck
from vigil.audit.counts import count_history
from vigil.audit.journal import Recorded
from vigil.audit.reconstruct import EventOutOfRange
from vigil.audit.timeline import Timeline, build_timeline
from vigil.auth import Principal
from vigil.domain import Language, Role
from vigil.i18n import negotiate
from vigil.roles import READERS

router = APIRouter(tags=["audit"])


@router.get(
    "/api/incidents/{incident_id}/timeline",
    response_model=Timeline,
    summary="What happened, in words, from the history",
    responses=responses(403, 404),
)
async def timeline(
    incident_id: str,
    request: Request,
    user: Principal = Depends(allow(READERS, "read timelines")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> Timeline:
    """Every action with who took it and in which role, refused ones and why, timers that fired,
    clocks breached and by how much, approvals and who was asked, enforcement and its outcome,
    runs continued as new, and the seal; in English or Spanish (`Accept-Language`, else the
    reader's own language). Each entry names the history event that caused it."""
    header = request.headers.get("accept-language")
    language = negotiate(header) if header else (user.language if user.language in set(Language) else "en")
    return await timeline_in(request, temporal, engine, incident_id, language, user.role)


async def timeline_in(
    request: Request, temporal: Client, engine: Engine, incident_id: str, language: str, role: Role
) -> Timeline:
    """The timeline in `language`, as `role` may read it: this route's answer, and the console's
    audit page."""
    built = build_timeline(await reconstruction(request, temporal, engine, incident_id), language)
    return need_to_know.timeline_for_reader(built, role)


def _entry_ref(recorded: Recorded | None) -> EntryRef | None:
    if recorded is None:
        return None
    entry = recorded.entry
    return EntryRef(
        entry_no=entry.entry_no,
        type=entry.action.type if entry.action else "malformed",
        actor=entry.actor.user if entry.actor else "unknown",
        role=entry.actor.role.value if entry.actor else "unknown",
        at=entry.at,
        refused=entry.refused,
        via=recorded.via,
        caused_by_event=recorded.cause,
    )


@router.get(
    "/api/incidents/{incident_id}/state",
    response_model=StateAfterEvent,
    summary="The state right after history event N, rebuilt from the recorded actions",
    responses=responses(403, 404, 422),
)
async def state_after_event(
    incident_id: str,
    request: Request,
    after_event: Annotated[int | None, Query(ge=1, description="Event number across runs; default: the last")] = None,
    user: Principal = Depends(allow(READERS, "read incidents")),
    temporal: Client = Depends(get_temporal),
    engine: Engine = Depends(get_engine),
) -> StateAfterEvent:
    """Folds the journal entries applied up to event N through today's state machine
    (`lifecycle.apply`). An entry counts from the event that caused it: the update accepted,
    the signal, the timer fired, the triage or enforcement activity completed. Every state the
    workflow itself recorded up to N (update results, projection batches, the state carried
    into a new run, the final result) is compared with the fold: `verified` says they all match."""
    rebuilt = await reconstruction(request, temporal, engine, incident_id)
    number = after_event if after_event is not None else rebuilt.journal.events
    try:
        state = rebuilt.after_event(number)
    except EventOutOfRange as error:
        raise invalid(f"after_event: {error}") from None
    return StateAfterEvent(
        incident_id=incident_id,
        after_event=number,
        events=state.events,
        counts=count_history(rebuilt.journal.history),
        event=rebuilt.journal.history.event(number),
        entries=state.entries,
        last_entry=_entry_ref(state.last),
        state=need_to_know.for_reader_or_none(state.state, user.role),
        verified=state.verified,
        checks=[
            StateCheck(event=c.event, after_entry=c.after_entry, source=c.source, matches=c.matches)
            for c in state.checks
        ],
        problems=rebuilt.problems,
    )
