"""The console's live feed: GET /events, the API's event stream (vigil/api/routers/events.py)
for the signed-in viewer (a browser's EventSource sends the session cookie, not a bearer
token). console.js follows it to update the queue, the incident page and the approvals inbox in
place, and the navigation's counts of what waits for the viewer."""

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from vigil.api.errors import ApiError
from vigil.api.routers.events import parse_last_event_id, stream
from vigil.console.viewer import Viewer, signed_in

router = APIRouter()


@router.get("/events")
async def events(request: Request, viewer: Viewer = Depends(signed_in)) -> EventSourceResponse:
    try:
        last = parse_last_event_id(request.headers.get("last-event-id"))
    except ApiError:
        last = None  # not one of ours: follow from now
    return EventSourceResponse(
        stream(request.app.state.engine, viewer.principal, last, request.is_disconnected), ping=15
    )
