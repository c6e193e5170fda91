"""The queue and the inbox under pressure: the clock that is due named and graded, several values
per filter, the one-click take, approvals by urgency with their countdown and the tier asked."""

import csv
import io
import re
import uuid

from tests.console.conftest import Console
from tests.console.test_queue import listed
from tests.helpers import eventually


def row_of(page: str, incident_id: str) -> str:
    start = page.index(f'<tr data-incident="{incident_id}"')
    return page[start : page.index("</tr>", start)]


async def test_the_queue_names_the_due_clock_and_grades_its_urgency_in_words(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    sev1 = await console.open(title=f"Threat {tag}")  # acknowledge due in 15 minutes: urgent already
    sev3 = await console.open(category="hate_speech", channel="user_report", region="NA", title=f"Slurs {tag}")
    browser = await console.signed_in("ana")
    page = await eventually(
        lambda: _page_with(browser, {"text": tag}, [sev1["id"], sev3["id"]]),
    )
    urgent, later = row_of(page, sev1["id"]), row_of(page, sev3["id"])
    assert re.search(r'class="urgency urgency-urgent"><span class="icon" aria-hidden="true">▲</span> urgent', urgent)
    assert '<span class="clock-name">acknowledge</span>' in urgent and "due in" in urgent
    assert "urgency-later" in later and "on time" in later  # 4 hours to acknowledge a SEV3
    # Several values of one filter: any of them.
    both = (await browser.get("/", params=[("text", tag), ("severity", "SEV1"), ("severity", "SEV3")])).text
    assert sorted(listed(both)) == sorted([sev1["id"], sev3["id"]])
    only = await browser.get("/", params=[("text", tag), ("severity", "SEV3"), ("region", "NA"), ("region", "APAC")])
    assert listed(only.text) == [sev3["id"]]
    assert 'value="SEV3" checked' in only.text and 'value="NA" checked' in only.text


async def test_take_it_from_the_queue_acknowledges_then_assigns(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    incident = await console.open(title=f"Take me {tag}")
    iid = incident["id"]
    browser = await console.signed_in("bea")
    page = await eventually(lambda: _page_with(browser, {"text": tag}, [iid]))
    assert '<input type="hidden" name="type" value="acknowledge">' in row_of(page, iid)
    response = await console.post_form(
        browser, f"/?text={tag}", f"/incidents/{iid}/actions", {"type": "acknowledge", "next": f"/?text={tag}"}
    )
    assert response.status_code == 303 and response.headers["location"].startswith(f"/?text={tag}")
    state = await console.state(iid)
    assert (state["status"], state["assignee"]) == ("investigating", "bea")
    # Someone else takes it over: the state machine's table allows assign while investigating.
    ana = await console.signed_in("ana")

    async def offered() -> str | None:
        text = (await ana.get("/", params={"text": tag})).text
        return text if ">bea" in row_of(text, iid) else None

    row = row_of(await eventually(offered), iid)
    assert '<input type="hidden" name="type" value="assign">' in row and 'name="assignee" value="ana"' in row


async def test_the_inbox_puts_the_most_severe_first_with_its_countdown_and_tier(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    sev3 = await console.open(category="hate_speech", channel="user_report", region="NA", title=f"Older SEV3 {tag}")
    sev1 = await console.open(title=f"Newer SEV1 {tag}")
    for incident in (sev3, sev1):  # the SEV3 asks first: it has waited longer
        await console.act(incident["id"], {"type": "acknowledge"}, "ana")
        body = {"type": "propose_action", "action": "terminate_account", "rationale": "Threat."}
        await console.act(incident["id"], body, "ana")
    lena = await console.signed_in("lena")
    first, second = f"{sev1['id']}-A1", f"{sev3['id']}-A1"

    def card(page: str, approval_id: str) -> str:
        if f'data-approval="{approval_id}"' not in page:
            return ""
        rest = page[page.index(f'data-approval="{approval_id}"') :]
        return rest[: rest.index("</article>")]

    async def both_asked() -> str | None:
        # Each card, not the page: other tests' approvals share this inbox, and a card shows its
        # tier only once the approval's first ask has been projected.
        text = (await lena.get("/approvals")).text
        return text if all("Asked now:" in card(text, one) for one in (first, second)) else None

    page = await eventually(both_asked)
    assert page.index(f'data-approval="{first}"') < page.index(f'data-approval="{second}"')
    assert "Asked now: leads." in card(page, first) and "Times out to the next tier:" in card(page, first)
    assert re.search(r'class="countdown" data-due="[^"]+">due in (29|30) minutes', card(page, first))


async def _page_with(browser, params: dict[str, str], expected: list[str]) -> str | None:
    page = (await browser.get("/", params=params)).text
    return page if sorted(listed(page)) == sorted(expected) else None


async def test_the_queue_downloads_as_csv_with_its_filters(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    sev1 = await console.open(title=f"Livestream {tag}", external_ref=f"=HYPERLINK(evil) {tag}")
    await console.open(category="hate_speech", channel="user_report", region="NA", title=f"Slurs {tag}")
    browser = await console.signed_in("ana")
    await eventually(lambda: _page_with(browser, {"text": tag, "severity": "SEV1"}, [sev1["id"]]))
    page = (await browser.get("/", params={"text": tag, "severity": "SEV1"})).text
    assert f'href="/queue.csv?status=open&amp;severity=SEV1&amp;text={tag}' in page
    response = await browser.get("/queue.csv", params={"text": tag, "severity": "SEV1"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0][:5] == ["id", "severity", "status", "title", "due_clock"]
    assert [line[0] for line in lines[1:]] == [sev1["id"]]
    assert lines[1][3].startswith("[Sensitive: violent extremism")  # masked as in the queue itself
    assert lines[1][-1] == f"'=HYPERLINK(evil) {tag}"  # never a formula in a spreadsheet
    assert lines[1][4] == "sla.acknowledge"
