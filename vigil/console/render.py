"""Rendering console pages: the Jinja2 templates under templates/console/, in the reader's
language (vigil.i18n), with the helpers every page uses and the headers every page sends.

Times are shown in UTC (teams span time zones) inside <time datetime=...>; console.js adds the
reader's local time beside them, and keeps SLA countdowns current, when JavaScript is on.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any, overload
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from vigil.console import flash, urgency
from vigil.console.viewer import Viewer, here
from vigil.i18n import gettext_for, how_long, label, number, render, when
from vigil.policy import Policy, PolicyError, load_policy
from vigil.workflows.state import Clock, ClockKind

# Console pages hold sensitive material: never cached, never framed, never leak the page address
# to a content link's site, and load nothing from anywhere but Vigil itself (no images at all
# from elsewhere, so a content link can never load as an image). Inline styles are allowed for
# the server-rendered SVG charts; scripts only from /static.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: datetime | None) -> datetime | None: ...
def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time Vigil stores is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


class Formats:
    """What templates call to show times, durations and vocabulary in the page's language."""

    def __init__(self, language: str, now: datetime):
        self.language = language
        self.now = now
        self._ = gettext_for(language)

    def iso(self, moment: datetime) -> str:
        return aware(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")

    def when(self, moment: datetime, short: bool = False) -> str:
        """'Nov 25, 2026, 10:38 UTC' / '25 nov 2026, 10:38 UTC'; short leaves out the year."""
        return when(aware(moment), self.language, short)

    def label(self, value: object) -> str:
        return label(value, self.language)

    def labels(self, values: "list[object] | tuple[object, ...]") -> str:
        """'remove content, geo-block': a list in words."""
        return ", ".join(self.label(v) for v in values)

    def labelled(self, values: list[object]) -> list[tuple[str, str]]:
        """(value, words) pairs for a <select>."""
        return [(str(v), self.label(v)) for v in values]

    def pairs(self, values: list[object]) -> list[tuple[str, str]]:
        return [(str(v), str(v)) for v in values]

    def parse(self, text: str) -> datetime:
        return datetime.fromisoformat(text)

    def policy(self, english: str) -> str:
        return policy_text(english, self.language)

    def number(self, value: float) -> str:
        """12,000 / 12.000: Babel's decimal format for the page's language."""
        return number(value, self.language)

    def level(self, due: datetime, started: datetime | None = None) -> str:
        """How pressing a deadline is (vigil.console.urgency): overdue, urgent, soon or later."""
        return urgency.grade(aware(due), self.now, aware(started))

    def icon(self, level: str) -> str:
        return urgency.LEVELS[level][0]

    def level_words(self, level: str) -> str:
        return self._(urgency.LEVELS[level][1])

    def clock(self, clock: Clock) -> str:
        """A clock's name in the reader's language: 'acknowledge', 'first response (Legal)', a legal
        clock's name as the policy gives it in this language."""
        if clock.kind == ClockKind.REGULATORY:
            return policy_text(clock.name, self.language)
        if clock.id.startswith("sla.first_response."):
            return f"{self.label(clock.name)} ({self.label(clock.id.split('.')[-1])})"
        return self.label(clock.name)

    def meets(self, clock: Clock) -> urgency.Meets:
        return urgency.meets(clock)

    def duration(self, seconds: float) -> str:
        return how_long(abs(seconds), self.language)

    def overdue(self, due: datetime | None) -> bool:
        return due is not None and aware(due) <= self.now

    def countdown(self, due: datetime) -> str:
        """'due in 14 minutes' / 'overdue by 3 minutes', as of rendering; console.js keeps it current."""
        seconds = (aware(due) - self.now).total_seconds()
        if seconds > 0:
            return self._("due in %(time)s") % {"time": self.duration(seconds)}
        return self._("overdue by %(time)s") % {"time": self.duration(seconds)}


@cache
def current_policy() -> Policy | None:
    """The policy file as the worker reads it (None if it cannot be read)."""
    try:
        return load_policy()
    except PolicyError:  # the worker refuses to start on it; pages still show the English text
        return None


def policy_text(english: str, language: str) -> str:
    """A policy text (a triage rule's `why`, a legal clock's `name`) in the reader's language:
    the policy's `why_es` / `name_es` when it gives one, else the text as recorded."""
    policy = current_policy()
    return policy.text_in(english, language) if policy is not None else english


def url(path: str, params: dict[str, Any]) -> str:
    """A link with query parameters; empty values are left out, lists repeat the parameter."""
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item not in (None, ""):
                pairs.append((key, str(item)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def page(
    request: Request,
    template: str,
    language: str,
    viewer: Viewer | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render templates/console/<template> for this request."""
    now = datetime.now(UTC)
    html = render(
        f"console/{template}",
        language,
        viewer=viewer,
        csrf=viewer.csrf if viewer else "",
        fmt=Formats(language, now),
        here=here(request),
        path=request.url.path,
        url=url,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.headers.get("x-vigil-live") != "1":  # a live refresh is not the page the person loaded
        flash.clear(request, response)
    return response


def download(body: str, filename: str, media_type: str) -> Response:
    """A file to save (the console's CSV downloads, an exported history), with every page's headers."""
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


def csv_download(text: str, filename: str) -> Response:
    return download(text, filename, "text/csv; charset=utf-8")
