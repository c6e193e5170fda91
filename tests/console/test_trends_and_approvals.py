"""Trends drawn on the server, and the leads' approval inbox."""

import re

from tests.console.conftest import Console
from tests.helpers import eventually


async def test_trends_are_svg_charts_with_their_numbers_and_no_scripts(console: Console) -> None:
    await console.open(category="self_harm_suicide", channel="user_report", region="APAC", title="Challenge video")
    browser = await console.signed_in("audrey")
    page = (await browser.get("/trends", params={"by": "category", "days": "7"})).text
    charts = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" id="chart-[^"]+" class="pygal-chart"[^>]*>', page)
    titles = re.findall(r'<title id="chart-[^"]+-title">([^<]+)</title>', page)
    assert titles == [
        "Incidents opened per day, by category",
        "Share of incidents that breached a clock, by category",
        "Median time to acknowledge and to resolve, by category",
        "Time to resolve: median, 90th and 99th percentile, by category",
    ], titles
    assert len(charts) == len(titles)
    assert all('role="img"' in chart and "aria-labelledby=" in chart for chart in charts)
    assert page.count("<script") == 1  # only /static/console.js: pygal's own script is removed
    assert "Incidents opened per day, by category" in page
    assert "Share of incidents that breached a clock, by category" in page
    assert "self-harm and suicide" in page  # groups in words, also in the table beside the charts
    assert '<th scope="row">self-harm and suicide</th>' in page


async def test_trends_default_and_bad_parameters_are_a_page_not_an_error(console: Console) -> None:
    browser = await console.signed_in("ana")
    for params in ({}, {"by": "weather", "days": "-4"}, {"days": "100000"}):
        response = await browser.get("/trends", params=params)
        assert response.status_code == 200
        assert "Incidents opened per day, by severity" in response.text


async def test_a_lead_decides_from_the_inbox_and_the_decision_leaves_it(console: Console) -> None:
    incident = await console.open(title="Inbox walk")
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    await console.act(iid, {"type": "propose_action", "action": "terminate_account", "rationale": "Threat."}, "ana")
    approval_id = f"{iid}-A1"
    lena, analyst, auditor = [await console.signed_in(person) for person in ("lena", "ana", "audrey")]

    async def in_inbox(browser) -> bool:
        return approval_id in (await browser.get("/approvals")).text

    assert await eventually(lambda: in_inbox(lena))
    page = (await lena.get("/approvals")).text
    assert "Approvals: 0 of 2 needed" in page and f"Approve {approval_id}" in page
    # Violent extremism is sensitive (policy wellbeing): its title is masked here, read on its page.
    assert "Inbox walk" not in page and "[Sensitive: violent extremism. Open the incident to read its title]" in page
    assert (await lena.get(f"/incidents/{iid}")).status_code == 200
    assert "Inbox walk" in (await lena.get("/approvals")).text  # opened once: the title is hers to read
    analyst_page = (await analyst.get("/approvals")).text
    assert approval_id in analyst_page and f"Approve {approval_id}" not in analyst_page  # waiting on it, not deciding
    assert approval_id in (await auditor.get("/approvals")).text

    response = await console.post_form(
        lena,
        "/approvals",
        f"/incidents/{iid}/actions",
        {"type": "approve", "approval_id": approval_id, "comment": "Agreed.", "next": "/approvals"},
    )
    assert response.status_code == 303
    assert re.fullmatch(r"/approvals\?seen=\d+", response.headers["location"])
    assert "Approved." in (await lena.get(response.headers["location"])).text
    assert "Approved." not in (await lena.get(response.headers["location"])).text  # said once, not on reload
    state = await console.state(iid)
    assert [(v["by"], v["decision"]) for v in state["proposals"][0]["votes"]] == [("lena", "approve")]
    await eventually(lambda: _not(in_inbox(lena)))


async def _not(check) -> bool:
    return not await check
