"""CSV that a spreadsheet opens as data and never runs (CSV injection): every download of Vigil's,
from the API and from the console, writes its cells through `cell`."""

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime


def cell(value: object) -> str:
    """A CSV cell: text starting = + - @ (or a tab, CR) gets a leading ' so no formula runs;
    numbers as they are (-3 is a number, not a formula); datetimes as ISO 8601, None as empty."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else value.isoformat() if isinstance(value, datetime | date) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
