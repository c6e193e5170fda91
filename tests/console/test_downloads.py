"""CSV downloads of the trends page's figures and of the approval inbox: the same numbers and
rows as the pages, cells a spreadsheet never runs (vigil/spreadsheet.py)."""

import csv
import io

from tests.console.conftest import Console
from tests.helpers import eventually


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_the_trends_figures_download_as_csv(console: Console) -> None:
    await console.open(category="hate_speech", channel="user_report", region="NA", title="Trends download")
    browser = await console.signed_in("leo")
    page = (await browser.get("/trends", params={"days": "7", "by": "category"})).text
    assert 'href="/trends.csv?days=7&amp;by=category&amp;table=rows"' in page
    daily = await browser.get("/trends.csv", params={"days": "7", "by": "category"})
    assert daily.status_code == 200 and daily.headers["content-type"].startswith("text/csv")
    assert "attachment" in daily.headers["content-disposition"]
    lines = rows(daily.text)
    assert lines[0] == ["day", "category", "opened", "resolved", "breached"]
    assert any(line[1] == "hate_speech" and int(line[2]) >= 1 for line in lines[1:])
    api = await console.api.get(
        "/api/trends", params={"by": "category", "start": lines[1][0], "end": lines[-1][0]}, headers=console.auth("leo")
    )
    opened = sum(int(line[2]) for line in lines[1:])
    assert opened >= sum(g["opened"] for g in api.json()["groups"] if g["group"] != "all") > 0
    totals = rows((await browser.get("/trends.csv", params={"table": "totals", "days": "7", "by": "category"})).text)
    assert {"group", "opened", "resolve_p50"} <= set(totals[0])
    assert any(line[totals[0].index("group")] == "hate_speech" for line in totals[1:])
    unknown = await browser.get("/trends.csv", params={"table": "passwords", "days": "nine"})
    assert unknown.status_code == 200 and rows(unknown.text)[0][0] == "day"  # the page's defaults, as on the page


async def test_the_approval_inbox_downloads_as_csv_and_is_never_a_formula(console: Console) -> None:
    incident = await console.open(title="Approvals download")
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    rationale = '=HYPERLINK("http://evil.example") threat'
    await console.act(iid, {"type": "propose_action", "action": "terminate_account", "rationale": rationale}, "ana")
    lena = await console.signed_in("lena")

    async def listed() -> list[list[str]] | None:
        found = rows((await lena.get("/approvals.csv")).text)
        return found if any(line[0] == f"{iid}-A1" for line in found[1:]) else None

    await lena.get(f"/incidents/{iid}")  # opened: the page shows her the title now, a file still does not
    lines = await eventually(listed)
    assert lines[0][:4] == ["id", "incident_id", "severity", "action"]
    line = next(line for line in lines[1:] if line[0] == f"{iid}-A1")
    assert line[1:4] == [iid, "SEV1", "terminate_account"]
    assert line[-1] == "'" + rationale  # never run by a spreadsheet
    assert line[4].startswith("[Sensitive: violent extremism")  # masked in every file
    inbox = (await lena.get("/approvals")).text
    assert 'href="/approvals.csv"' in inbox and "Approvals download" in inbox  # the page: opened, so shown
