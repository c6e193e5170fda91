"""Incident ids and duplicate intake, safe with many API replicas on SQLite and PostgreSQL.

Ids are readable and sequential per year (INC-2026-000123). One transaction does both jobs:

1. bump the year's counter with a single `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`.
   It is the transaction's first statement, so it takes the write lock at once: PostgreSQL locks
   the counter row, SQLite the database (waiting on busy_timeout, never failing fast). Every
   intake of the year queues here, briefly, until the transaction ends;
2. with the lock held, look the external_ref up in `intake_keys`: a committed earlier claim is
   visible, so a duplicate rolls back (the counter too: no gap) and returns the existing id;
3. otherwise record the claim and commit.

The workflow is started after the commit, with the claimed id as its workflow id; starting is
idempotent on that id, so a duplicate that arrives while the first is still starting (or after
it crashed between commit and start) just finishes the job.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from vigil.db.tables import IdCounterRow, IntakeKeyRow, table_of

_ATTEMPTS = 5


@dataclass(frozen=True)
class Reservation:
    incident_id: str
    created: bool  # False: the external_ref was seen before, this is the existing incident


def format_id(year: int, number: int) -> str:
    return f"INC-{year}-{number:06d}"


def was_reserved(bind: Engine, incident_id: str) -> bool:
    """Whether this id was ever handed out: an incident that exists, or one being opened."""
    _, year, number = incident_id.split("-")
    with bind.connect() as conn:
        counter = select(col(IdCounterRow.last)).where(col(IdCounterRow.year) == int(year))
        last = conn.execute(counter).scalar_one_or_none()
    return last is not None and int(number) <= last


def reserve_incident(bind: Engine, external_ref: str | None = None, now: datetime | None = None) -> Reservation:
    """A new incident id, or the id already claimed by `external_ref`."""
    year = (now or datetime.now(UTC)).year
    for _ in range(_ATTEMPTS):
        try:
            return _reserve(bind, external_ref, year)
        except IntegrityError:
            # Only possible if another replica claimed the same external_ref between our lock and
            # insert (it cannot, with the lock held; kept for safety). Its claim is visible now.
            continue
    raise RuntimeError(f"could not reserve an incident id for {external_ref!r}")


def _reserve(bind: Engine, external_ref: str | None, year: int) -> Reservation:
    counters = table_of(IdCounterRow)
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    bump = (
        insert(counters)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": counters.c["last"] + 1})
        .returning(counters.c["last"])
    )
    with bind.connect() as conn:
        with conn.begin() as transaction:
            number = conn.execute(bump).scalar_one()
            if external_ref is not None:
                existing = conn.execute(
                    select(col(IntakeKeyRow.incident_id)).where(col(IntakeKeyRow.external_ref) == external_ref)
                ).scalar_one_or_none()
                if existing is not None:
                    transaction.rollback()  # give the number back
                    return Reservation(existing, created=False)
                incident_id = format_id(year, number)
                conn.execute(
                    table_of(IntakeKeyRow)
                    .insert()
                    .values(external_ref=external_ref, incident_id=incident_id, created_at=datetime.now(UTC))
                )
            else:
                incident_id = format_id(year, number)
        return Reservation(incident_id, created=True)
