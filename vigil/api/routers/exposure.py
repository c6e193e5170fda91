"""/api/exposure: what people have seen of sensitive content, per person, category and day.

A reveal is recorded by the console when a person clicks to see an item (POST), and how long it
stayed revealed when the browser hides it again (POST .../duration); fetching evidence bytes records
one by itself. Reading (GET): a person their own, leads their team's, auditors everyone's
(vigil.need_to_know). Exposure is health data: it is in no notification, digest or report.
"""

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from vigil.api.deps import allow, check_incident_id, get_engine
from vigil.api.errors import forbidden, invalid, not_found, responses
from vigil.auth import Principal
from vigil.evidence import exposure as exposures
from vigil.need_to_know import exposure_readable, exposure_scope
from vigil.policy import load_policy
from vigil.roles import EVIDENCE_CONTENT_READERS, READERS

router = APIRouter(prefix="/api/exposure", tags=["exposure"])

MAX_DAYS = 92


class RevealRequest(BaseModel):
    incident_id: str
    evidence_id: str | None = Field(None, max_length=64)
    content_index: int | None = Field(None, ge=0, le=1000)
    seconds: float = Field(0.0, ge=0, le=exposures.MAX_REPORTED_SECONDS)


class DurationReport(BaseModel):
    seconds: float = Field(ge=0, le=exposures.MAX_REPORTED_SECONDS)


class Today(BaseModel):
    reveals: int = Field(description="sensitive reveals and fetches today (UTC)")
    minutes: float
    limit_reveals: int
    limit_minutes: int
    over_limit: bool = Field(description="past the policy's daily soft limit: time for a break")


class Recorded(BaseModel):
    id: int
    sensitive: bool
    today: Today


class CategoryTotals(BaseModel):
    category: str
    reveals: int
    fetches: int
    minutes: float


class PersonDay(BaseModel):
    person: str
    day: date
    reveals: int
    fetches: int
    minutes: float
    over_limit: bool
    categories: list[CategoryTotals]


class ExposureReport(BaseModel):
    from_: date = Field(alias="from")
    to: date
    scope: str = Field(description="own, team or all")
    limit_reveals: int
    limit_minutes: int
    days: list[PersonDay]


def today_of(engine: Engine, person: str) -> Today:
    wellbeing = load_policy().wellbeing
    day = exposures.today(engine, person)
    return Today(
        reveals=day.reveals + day.fetches,
        minutes=day.minutes,
        limit_reveals=wellbeing.daily_reveals,
        limit_minutes=wellbeing.daily_minutes,
        over_limit=day.over(wellbeing),
    )


def record(engine: Engine, person: str, body: RevealRequest) -> Recorded:
    """Shared with the console's reveal: one way to count."""
    row = exposures.record_reveal(
        engine, person, body.incident_id, load_policy().wellbeing, body.evidence_id, body.content_index, body.seconds
    )
    assert row.id is not None
    return Recorded(id=row.id, sensitive=row.sensitive, today=today_of(engine, person))


@router.post("", status_code=201, response_model=Recorded, summary="Record a reveal", responses=responses(403, 404))
async def reveal(
    body: RevealRequest,
    user: Principal = Depends(allow(EVIDENCE_CONTENT_READERS, "see incident content")),
    engine: Engine = Depends(get_engine),
) -> Recorded:
    """The caller chose to see an evidence item or a content link; answers with their day so far."""
    check_incident_id(body.incident_id)
    try:
        return await run_in_threadpool(record, engine, user.name, body)
    except exposures.NotRevealable as missing:
        raise not_found(str(missing)) from None


@router.post(
    "/{exposure_id}/duration", response_model=Today, summary="How long it stayed revealed", responses=responses(404)
)
async def duration(
    exposure_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The id a reveal answered with")],
    body: DurationReport,
    user: Principal = Depends(allow(EVIDENCE_CONTENT_READERS, "see incident content")),
    engine: Engine = Depends(get_engine),
) -> Today:
    """Reported by the browser when the item is hidden again or the page is left (the caller's own only)."""
    if not await run_in_threadpool(exposures.report_duration, engine, exposure_id, user.name, body.seconds):
        raise not_found(f"no reveal {exposure_id} of yours")
    return await run_in_threadpool(today_of, engine, user.name)


@router.get("", response_model=ExposureReport, summary="Exposure per person and day", responses=responses(403))
async def report(
    start: Annotated[date | None, Query(alias="from", description="first day (UTC), default a week ago")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC), default today")] = None,
    person: Annotated[str | None, Query(max_length=64, description="one person only")] = None,
    user: Principal = Depends(allow(READERS, "read exposure")),
    engine: Engine = Depends(get_engine),
) -> ExposureReport:
    """Totals by category and day: your own; a lead's team's; an auditor's everyone's."""
    end = end or datetime.now(UTC).date()
    start = start or date.fromordinal(max(1, end.toordinal() - 6))  # a week, but not before year 1
    if start > end:
        raise invalid("from: must not be after to")
    if (end - start).days >= MAX_DAYS:
        raise invalid(f"from, to: at most {MAX_DAYS} days at a time")
    scope = exposure_scope(user.role)
    people = await run_in_threadpool(exposure_readable, engine, user.name, user.role)
    if person is not None and not person.isprintable():
        raise invalid("person: contains control characters")
    if person is not None and people is not None and person not in people:
        raise forbidden(f"exposure is health data: a {user.role.value} may not read {person}'s")
    wellbeing = load_policy().wellbeing
    found = await run_in_threadpool(exposures.days, engine, start, end, people, person)
    return ExposureReport.model_validate(
        {
            "from": start,
            "to": end,
            "scope": scope,
            "limit_reveals": wellbeing.daily_reveals,
            "limit_minutes": wellbeing.daily_minutes,
            "days": [
                PersonDay(
                    person=d.person,
                    day=d.day,
                    reveals=d.reveals,
                    fetches=d.fetches,
                    minutes=d.minutes,
                    over_limit=d.over(wellbeing),
                    categories=[
                        CategoryTotals(
                            category=name,
                            reveals=int(c["reveals"]),
                            fetches=int(c["fetches"]),
                            minutes=round(c["seconds"] / 60, 1),
                        )
                        for name, c in sorted(d.categories.items())
                    ],
                )
                for d in found
            ],
        }
    )
