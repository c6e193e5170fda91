"""How pressing a deadline is, and what meets it: the words, icon and colour the console shows.

Urgency is graded before a clock breaches, always as words and an icon with the colour (never
colour alone): overdue; urgent (15 minutes or less, or the last quarter of the clock's span);
soon (an hour or less, or the last half); on time. A clock says which action meets it: the SLA
clocks their own action, a regulatory clock the enforcement actions in its `met_by` (which must
then be carried out), a status-update clock a posted update.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.i18n import _
from vigil.workflows.state import Clock, ClockKind

URGENT = timedelta(minutes=15)
SOON = timedelta(hours=1)

# level -> (icon, words); the icon is aria-hidden, the words are read.
LEVELS: dict[str, tuple[str, str]] = {
    "overdue": ("⛔", _("overdue")),
    "urgent": ("▲", _("urgent")),
    "soon": ("◆", _("soon")),
    "later": ("○", _("on time")),
}
# 0 is the most pressing: a sort key.
RANK = {"overdue": 0, "urgent": 1, "soon": 2, "later": 3, "none": 4}


def grade(due: datetime, now: datetime, started: datetime | None = None) -> str:
    """'overdue', 'urgent', 'soon' or 'later'."""
    left = due - now
    if left <= timedelta(0):
        return "overdue"
    span = due - started if started is not None and started < due else None
    if left <= URGENT or (span is not None and left <= span / 4):
        return "urgent"
    if left <= SOON or (span is not None and left <= span / 2):
        return "soon"
    return "later"


@dataclass(frozen=True)
class Meets:
    """What meets a clock: an action form of the incident page and, for a legal clock, the
    enforcement actions that satisfy it once carried out."""

    action: str  # an action type (a form of the incident page), or "" when no action meets it
    enforcement: tuple[str, ...] = ()


def meets(clock: Clock) -> Meets:
    if clock.kind == ClockKind.REGULATORY:
        return Meets("propose_action", tuple(str(a) for a in clock.met_by))
    if clock.kind == ClockKind.UPDATE:
        return Meets("post_update")
    if clock.id == "sla.acknowledge":
        return Meets("acknowledge")
    if clock.id.startswith("sla.first_response."):
        return Meets("team_response")
    if clock.id == "sla.resolve":
        return Meets("resolve")
    return Meets("")  # the reopen window: nothing meets it, it lapses


def by_urgency(clocks: list[Clock], now: datetime) -> list[Clock]:
    """Running clocks first, the nearest due first; then stopped ones, the latest first."""
    running = sorted((c for c in clocks if c.running), key=lambda c: (c.due_at, c.id))
    stopped = sorted(
        (c for c in clocks if not c.running),
        key=lambda c: c.met_at or c.cancelled_at or c.due_at,
        reverse=True,
    )
    return running + stopped


def due_clock(state: dict[str, Any], deadline: datetime | None) -> Clock | None:
    """The running clock whose due time is the projection's next_deadline (the one the queue names)."""
    if deadline is None:
        return None
    if deadline.tzinfo is None:  # SQLite hands back naive datetimes; every stored time is UTC
        deadline = deadline.replace(tzinfo=UTC)
    running = [Clock.model_validate(c) for c in state.get("clocks", [])]
    running = [c for c in running if c.running and c.kind not in (ClockKind.REOPEN, ClockKind.UPDATE)]
    if not running:
        return None
    return min(running, key=lambda c: (abs((c.due_at - deadline).total_seconds()), c.id))
