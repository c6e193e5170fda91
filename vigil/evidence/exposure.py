"""Exposure: every time a person sees sensitive content, counted per person, category and day.

A reveal (a click in the console, with how long it stayed revealed as the browser reports it) and a
fetch of an evidence file's bytes each record one. Who may read whose is vigil.need_to_know's;
exposure is never put in a notification. The daily soft limit is the policy's `[wellbeing]`.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from vigil.db.tables import EvidenceRow, ExposureRow, IncidentRow
from vigil.evidence.vault import is_evidence_id
from vigil.policy import Wellbeing
from vigil.workflows.state import is_incident_id

MAX_REPORTED_SECONDS = 4 * 3600  # a tab left open all night is not four hours of looking


class NotRevealable(ValueError):
    """A reveal of something the incident does not have (the API answers 404)."""


@dataclass
class Day:
    person: str
    day: date
    reveals: int = 0  # sensitive reveals and fetches: what the soft limit counts
    fetches: int = 0
    seconds: float = 0.0
    categories: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60, 1)

    def over(self, wellbeing: Wellbeing) -> bool:
        return self.reveals + self.fetches >= wellbeing.daily_reveals or self.minutes >= wellbeing.daily_minutes


def record_reveal(
    engine: Engine,
    person: str,
    incident_id: str,
    wellbeing: Wellbeing,
    evidence_id: str | None = None,
    content_index: int | None = None,
    seconds: float = 0.0,
) -> ExposureRow:
    """A person chose to see an evidence item or a content link. The category and whether it is
    sensitive come from Vigil's records, never from the caller."""
    if not is_incident_id(incident_id):  # the console's reveal sends any JSON string
        raise NotRevealable(f"no incident {incident_id[:40]!r}")
    with Session(engine, expire_on_commit=False) as session:
        incident = session.get(IncidentRow, incident_id)
        if incident is None:
            raise NotRevealable(f"no incident {incident_id}")
        category, graphic = incident.category, False
        if evidence_id is not None:
            item = session.get(EvidenceRow, evidence_id) if is_evidence_id(evidence_id) else None
            if item is None or item.incident_id != incident_id or item.deleted_at is not None:
                raise NotRevealable(f"{incident_id} has no evidence {evidence_id[:40]!r}")
            category, graphic = item.category, item.graphic
        elif content_index is not None:
            content = incident.state.get("intake", {}).get("content", [])
            if not 0 <= content_index < len(content):
                raise NotRevealable(f"{incident_id} has no content link {content_index}")
            graphic = bool(content[content_index].get("graphic"))
        else:
            raise NotRevealable("say what was revealed: evidence_id or content_index")
        row = ExposureRow(
            person=person,
            incident_id=incident_id,
            evidence_id=evidence_id,
            content_index=content_index,
            category=category,
            sensitive=wellbeing.sensitive(category, graphic),
            kind="reveal",
            at=datetime.now(UTC),
            seconds=min(max(seconds, 0.0), MAX_REPORTED_SECONDS),
        )
        session.add(row)
        session.commit()
        return row


def report_duration(engine: Engine, exposure_id: int, person: str, seconds: float) -> bool:
    """How long a reveal stayed on screen (the browser says when it is hidden again). Only the
    person's own reveals; the longest report wins, so a repeated beacon changes nothing."""
    with Session(engine) as session:
        row = session.get(ExposureRow, exposure_id)
        if row is None or row.person != person or row.kind != "reveal":
            return False
        row.seconds = max(row.seconds, min(max(seconds, 0.0), MAX_REPORTED_SECONDS))
        session.commit()
        return True


def recent_reveal(engine: Engine, exposure_id: int, person: str, evidence_id: str) -> bool:
    """A console reveal the content fetch that follows it belongs to (so it is not counted twice)."""
    with Session(engine) as session:
        row = session.get(ExposureRow, exposure_id)
        if row is None or row.person != person or row.evidence_id != evidence_id or row.kind != "reveal":
            return False
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
        return datetime.now(UTC) - at < timedelta(minutes=10)


def _utc_day(engine: Engine) -> ColumnElement[Any]:
    """The UTC calendar day of an exposure, in the database's own dialect (`at` is written in UTC)."""
    if engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", col(ExposureRow.at)))
    return func.date(col(ExposureRow.at))


def days(engine: Engine, start: date, end: date, people: set[str] | None, person: str | None = None) -> list[Day]:
    """Totals per person and day (UTC) from `start` to `end` inclusive, with each category's,
    summed by the database (a lead's week of a whole team is a few hundred groups, not every row)."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end, time.max, tzinfo=UTC)  # not end + 1 day: 9999-12-31 has none
    day_of = _utc_day(engine).label("day")
    group = (
        col(ExposureRow.person),
        day_of,
        col(ExposureRow.category),
        col(ExposureRow.kind),
        col(ExposureRow.sensitive),
    )
    query = (
        select(*group, func.count().label("times"), func.coalesce(func.sum(col(ExposureRow.seconds)), 0.0))
        .where(col(ExposureRow.at) >= since, col(ExposureRow.at) <= until)
        .group_by(*group)
    )
    if people is not None:
        query = query.where(col(ExposureRow.person).in_(sorted(people)))
    if person is not None:
        query = query.where(col(ExposureRow.person) == person)
    with Session(engine) as session:
        groups = session.execute(query).tuples().all()
    found: dict[tuple[str, date], Day] = {}
    for name, on, category, kind, sensitive, times, seconds in groups:
        on = on if isinstance(on, date) else date.fromisoformat(on)  # SQLite's date() is text
        day = found.setdefault((name, on), Day(person=name, day=on))
        counts = day.categories.setdefault(category, defaultdict(float))
        counts["reveals" if kind == "reveal" else "fetches"] += times
        counts["seconds"] += seconds
        if sensitive:
            if kind == "reveal":
                day.reveals += times
            else:
                day.fetches += times
            day.seconds += seconds
    return sorted(found.values(), key=lambda d: (d.person, d.day))


def today(engine: Engine, person: str) -> Day:
    now = datetime.now(UTC).date()
    found = days(engine, now, now, {person})
    return found[0] if found else Day(person=person, day=now)


def least_exposed_today(engine: Engine, candidates: list[str]) -> list[tuple[str, int]]:
    """Candidates for the next sensitive incident, least exposed today first: (name, views)."""
    now = datetime.now(UTC).date()
    counts = {name: 0 for name in candidates}
    for day in days(engine, now, now, set(candidates)):
        counts[day.person] = day.reveals + day.fetches
    return sorted(counts.items(), key=lambda pair: (pair[1], pair[0]))
