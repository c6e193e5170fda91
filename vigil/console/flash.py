"""What was just done, said once: post/redirect/get without a banner that comes back on reload.

A form that went through answers with a redirect and a short-lived cookie naming what was done
(an action type, never free text); the next page shows its message and `page()` clears the
cookie, so reloading, bookmarking or sharing the page never shows it again. An unknown value
is ignored: the cookie can only ever pick one of Vigil's own messages.
"""

import re

from fastapi import Request
from fastapi.responses import RedirectResponse

from vigil.console.session import clear_cookie, set_cookie

FLASH_COOKIE = "vigil_flash"
FLASH_SECONDS = 60
_KEY = re.compile(r"^[a-z_]{1,40}$")


def redirect(request: Request, location: str, done: str) -> RedirectResponse:
    """303 to `location`, with what was done for the next page to say once."""
    response = RedirectResponse(location, status_code=303)
    set_cookie(response, request, FLASH_COOKIE, done, max_age=FLASH_SECONDS)
    return response


def take(request: Request) -> str | None:
    """What was just done, if this request follows a redirect that said so."""
    value = request.cookies.get(FLASH_COOKIE, "")
    return value if _KEY.match(value) else None


def clear(request: Request, response: RedirectResponse | object) -> None:
    if FLASH_COOKIE in request.cookies and hasattr(response, "delete_cookie"):
        clear_cookie(response, request, FLASH_COOKIE)  # type: ignore[arg-type]
