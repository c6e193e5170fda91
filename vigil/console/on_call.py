"""On call: who holds each tier now and the handoffs to come, from the directory's rotas
(VIGIL_DIRECTORY, read again when it changes), so a lead knows who a breach will page."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from vigil.console.render import page
from vigil.console.viewer import Viewer, signed_in
from vigil.notifications.directory import DirectoryError, DirectoryFile, handoffs

router = APIRouter()

AHEAD = timedelta(days=7)


def directory_for(request: Request) -> DirectoryFile:
    """The app's directory, loaded on first use; a bad file shows as an error on the page."""
    if getattr(request.app.state, "directory", None) is None:
        try:
            request.app.state.directory = DirectoryFile.load()
        except DirectoryError as error:
            request.app.state.directory = DirectoryFile(None)
            request.app.state.directory.last_error = str(error)
    directory: DirectoryFile = request.app.state.directory
    return directory


@router.get("/on-call")
async def on_call(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:
    source = directory_for(request)
    directory, _version = source.current()
    now = datetime.now(UTC)
    shifts = handoffs(directory, now, now + AHEAD)
    return page(
        request,
        "on_call.html",
        viewer.language,
        viewer,
        configured=source.configured,
        error=source.last_error,
        now_on=[s for s in shifts if s.starts <= now],
        coming=[s for s in shifts if s.starts > now],
        tiers=sorted(directory.tiers),
    )
