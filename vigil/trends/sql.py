"""The SQL trends are made of, for PostgreSQL and SQLite alike: periods, durations, percentiles.

Percentiles are continuous (linear between the two nearest ranks: PostgreSQL's percentile_cont,
NumPy's default). PostgreSQL computes them itself. SQLite has no percentile function, so there
each value is ranked with window functions, ROW_NUMBER() and COUNT() over its group, and the
two ranks around the wanted position are picked and interpolated in the same statement: the
same answer, still computed in the database, one pass and one sort per group.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Date, Float, Integer, Select, and_, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

Unit = Literal["day", "week"]
PERCENTILES = (0.5, 0.9, 0.99)


def period(column: Any, unit: Unit, dialect: str) -> ColumnElement[Any]:
    """The day, or the ISO week's Monday, a UTC moment falls in (a date, or its ISO text)."""
    if dialect == "postgresql":
        return cast(func.date_trunc(unit, func.timezone("UTC", column)), Date)
    if unit == "day":
        return func.date(column)
    return func.date(column, "weekday 0", "-6 days")  # the Sunday ending the ISO week, less six days


def seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def spreads(values: Select[Any], keys: list[str], dialect: str) -> Select[Any]:
    """For a statement yielding `keys...` and `value`: per group of keys, the count and the
    p50, p90 and p99 of value (labelled n, p50, p90, p99)."""
    source = values.subquery("vals")
    key_columns = [source.c[k] for k in keys]
    if dialect == "postgresql":
        return select(
            *key_columns,
            func.count(source.c.value).label("n"),
            *[func.percentile_cont(p).within_group(source.c.value).label(f"p{round(p * 100)}") for p in PERCENTILES],
        ).group_by(*key_columns)
    ranked = select(
        *key_columns,
        source.c.value,
        func.row_number().over(partition_by=key_columns or None, order_by=source.c.value).label("rn"),
        func.count().over(partition_by=key_columns or None).label("n"),
    ).subquery("ranked")
    grouped = [ranked.c[k] for k in keys]
    picked = []
    for p in PERCENTILES:
        position = literal(p) * (ranked.c.n - 1)  # 0-based rank of the percentile
        below = cast(position, Integer)  # its floor (positions are never negative)
        low = func.max(case((ranked.c.rn == below + 1, ranked.c.value)))
        high = func.max(case((ranked.c.rn == below + 2, ranked.c.value)))
        fraction = func.max(position - below)
        picked.append((low + (func.coalesce(high, low) - low) * fraction).label(f"p{round(p * 100)}"))
    return select(*grouped, func.max(ranked.c.n).label("n"), *picked).group_by(*grouped)


def within(column: Any, since: Any, until: Any) -> ColumnElement[bool]:
    return and_(column >= since, column < until)


def utc_range(start: date, end: date) -> tuple[datetime, datetime]:
    """Days `start` to `end` inclusive, as the moments [start 00:00, the day after end 00:00) UTC."""
    since = datetime.combine(start, time.min, tzinfo=UTC)
    return since, datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
