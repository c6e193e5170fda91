"""The incident list: filters, sort and keyset pagination over the `incidents` projection.

Keyset ("seek") pagination: each page asks for rows after the last one seen, by (sort column,
id), so page 2,000 costs what page 1 costs and rows inserted meanwhile never shift a page.
The id breaks ties and is itself in creation order (INC-2026-000123), so within one severity
the oldest incident comes first: the order a queue is worked in.

The cursor is opaque to clients (base64 of JSON); it remembers the sort it was made for.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, literal, or_, select, tuple_
from sqlalchemy.orm import Mapped, Session
from sqlmodel import col

from vigil.api.errors import invalid
from vigil.db import search
from vigil.db.tables import IncidentRow, table_of
from vigil.domain import Category, Channel, Region, Severity, Status
from vigil.workflows.state import no_control_characters

SortKey = Literal["opened_at", "updated_at", "severity", "next_deadline"]
Order = Literal["asc", "desc"]

_COLUMNS: dict[SortKey, Mapped[Any]] = {  # Any: each sort key's column has its own value type
    "opened_at": col(IncidentRow.opened_at),
    "updated_at": col(IncidentRow.updated_at),
    "severity": col(IncidentRow.severity),
    "next_deadline": col(IncidentRow.next_deadline),
}
_NULLABLE: set[SortKey] = {"next_deadline"}  # incidents with no running clock sort last either way
_DATETIMES = {"opened_at", "updated_at", "next_deadline"}
CursorValue = datetime | str | None  # the sort column's value in the last row seen


@dataclass
class IncidentQuery:
    status: list[Status] = field(default_factory=list)
    severity: list[Severity] = field(default_factory=list)
    category: list[Category] = field(default_factory=list)
    channel: list[Channel] = field(default_factory=list)
    region: list[Region] = field(default_factory=list)
    assignee: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # exactly these incidents (a finding's evidence)
    text: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    sort: SortKey = "opened_at"
    order: Order = "desc"
    limit: int = 50
    cursor: str | None = None


def encode_cursor(sort: str, order: str, value: CursorValue, incident_id: str) -> str:
    text = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps({"s": sort, "o": order, "v": text, "id": incident_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, order: str) -> tuple[CursorValue, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, incident_id = raw["v"], raw["id"]
        if raw["s"] != sort or raw["o"] != order or not isinstance(incident_id, str):
            raise invalid("cursor belongs to a different sort or order: start again without it")
        if value is not None and sort in _DATETIMES:
            value = datetime.fromisoformat(value)
        elif value is not None and not isinstance(value, str):
            raise ValueError
        for text in (incident_id, value):  # PostgreSQL refuses NUL: a crafted cursor must not reach it
            if isinstance(text, str):
                no_control_characters(text)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor is not one this API issued: start again without it") from None
    return value, incident_id


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(q: IncidentQuery, dialect: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    chosen: list[tuple[Mapped[str] | Mapped[str | None], Sequence[str]]] = [
        (col(IncidentRow.status), q.status),
        (col(IncidentRow.severity), q.severity),
        (col(IncidentRow.category), q.category),
        (col(IncidentRow.channel), q.channel),
        (col(IncidentRow.region), q.region),
        (col(IncidentRow.assignee), q.assignee),
        (col(IncidentRow.id), q.ids),
    ]
    for column, values in chosen:
        if len(values) == 1:
            where.append(column == str(values[0]))  # `=` uses the (column, opened_at) indexes best
        elif values:
            where.append(column.in_([str(v) for v in values]))
    if q.text:
        # Title or reference containing the text as typed (a reference's start, "100%"), or every
        # word of it anywhere the incident's words are (vigil.db.search). No search, no join.
        pattern = _like(q.text)
        found = [
            col(IncidentRow.title).ilike(pattern, escape="\\"),
            col(IncidentRow.external_ref).ilike(pattern, escape="\\"),
        ]
        words = search.matching(q.text, dialect)
        where.append(or_(*found, *([words] if words is not None else [])))
    if q.opened_from:
        where.append(col(IncidentRow.opened_at) >= q.opened_from)
    if q.opened_to:
        where.append(col(IncidentRow.opened_at) < q.opened_to)
    return where


def _after(q: IncidentQuery, value: CursorValue, last_id: str) -> ColumnElement[bool]:
    """Rows strictly after (value, last_id) in the requested order (non-null values)."""
    column = _COLUMNS[q.sort]
    seen = tuple_(literal(value), literal(last_id))
    if q.order == "asc":
        return tuple_(column, col(IncidentRow.id)) > seen
    return tuple_(column, col(IncidentRow.id)) < seen


# Everything but the bulky `state` JSON, which only the single-incident read needs.
_NOT_LISTED = ("state", "seq", "history_digest", "reporter_sealed")
_SUMMARY = [c for c in table_of(IncidentRow).columns if c.name not in _NOT_LISTED]


def _page(
    session: Session, q: IncidentQuery, where: list[ColumnElement[bool]], sort_column: Mapped[Any], limit: int
) -> list[Row[Any]]:
    incident_id = col(IncidentRow.id)
    if q.order == "asc":
        order = (sort_column.asc(), incident_id.asc())
    else:
        order = (sort_column.desc(), incident_id.desc())
    statement = select(*_SUMMARY).where(*where).order_by(*order)
    return list(session.execute(statement.limit(limit)))


def list_incidents(session: Session, q: IncidentQuery) -> tuple[list[Row[Any]], str | None]:
    column = _COLUMNS[q.sort]
    where = _filters(q, session.get_bind().dialect.name)
    value, last_id = decode_cursor(q.cursor, q.sort, q.order) if q.cursor else (None, None)
    wanted = q.limit + 1  # one more than a page tells whether there is a next page
    if q.sort not in _NULLABLE:
        after = [_after(q, value, last_id)] if last_id else []
        rows = _page(session, q, where + after, column, wanted)
    else:
        # Incidents with no running clock (no deadline) come last in either order. Two plain
        # queries, the dated ones then the undated ones, each served by the (column, id) index
        # on both databases; one query with NULLS LAST would sort instead on SQLite.
        rows = []
        if not (last_id and value is None):  # not yet into the undated ones
            after = [_after(q, value, last_id)] if last_id else []
            rows = _page(session, q, where + [column.is_not(None)] + after, column, wanted)
        if len(rows) < wanted:
            undated: list[ColumnElement[bool]] = [column.is_(None)]
            if last_id and value is None:
                incident_id = col(IncidentRow.id)
                undated.append(incident_id > last_id if q.order == "asc" else incident_id < last_id)
            rows += _page(session, q, where + undated, col(IncidentRow.id), wanted - len(rows))
    page, more = rows[: q.limit], len(rows) > q.limit
    cursor = None
    if more:
        last = page[-1]
        cursor = encode_cursor(q.sort, q.order, getattr(last, q.sort), last.id)
    return page, cursor
