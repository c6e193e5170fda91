"""CSV cells a spreadsheet opens as data: formulas neutralised, numbers left numbers."""

import csv
import io
from datetime import UTC, datetime

import pytest

from vigil.spreadsheet import cell, csv_text


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_text_a_spreadsheet_would_run_gets_a_quote(text: str) -> None:
    assert cell(text) == "'" + text


def test_numbers_dates_and_nothing_are_written_as_they_are() -> None:
    assert [cell(-3), cell(-0.5), cell(12000), cell(True), cell(None)] == ["-3", "-0.5", "12000", "True", ""]
    assert cell(datetime(2026, 12, 3, 9, 30, tzinfo=UTC)) == "2026-12-03T09:30:00+00:00"


def test_a_file_reads_back_with_its_cells() -> None:
    text = csv_text(["change", "note"], [[-4, "=1+1"], [2, "plain, with a comma"]])
    assert list(csv.reader(io.StringIO(text))) == [["change", "note"], ["-4", "'=1+1"], ["2", "plain, with a comma"]]
