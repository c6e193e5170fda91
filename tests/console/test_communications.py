"""The console's side of communications: the incident page's notices and deliveries (and that it
never says "notified"), the status update form and its timeline entry, and the on-call page."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.console.conftest import Console
from tests.helpers import eventually
from vigil.notifications.directory import DirectoryFile


async def test_the_incident_page_lists_notices_waiting_and_says_why(console: Console) -> None:
    incident = await console.open()  # a SEV1: the region's on-call lead is told
    iid = incident["id"]
    browser = await console.signed_in("ana")

    async def listed() -> str | None:
        html = (await browser.get(f"/incidents/{iid}")).text
        return html if "tier:regional_on_call_lead:LATAM" in html else None

    html = await eventually(listed)
    assert 'id="notifications"' in html and "not sent yet" in html
    assert "Mail is not configured (VIGIL_SMTP_URL)" in html
    assert " notified" not in html


async def test_a_status_update_from_the_form_is_in_the_timeline(console: Console) -> None:
    incident = await console.open()
    iid = incident["id"]
    browser = await console.signed_in("bea")
    soon = (datetime.now(UTC) + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
    response = await console.post_form(
        browser,
        f"/incidents/{iid}",
        f"/incidents/{iid}/actions",
        {
            "type": "post_update",
            "audience": "leadership",
            "text": "Stream removed; police informed.",
            "next_update_at": soon,
        },
    )
    assert response.status_code == 303, response.text
    state = await console.state(iid)
    assert state["updates"][-1]["text"] == "Stream removed; police informed." and state["updates"][-1]["by"] == "bea"
    assert state["updates"][-1]["next_update_at"].startswith(soon)

    async def in_timeline() -> bool:
        entries = (await console.api.get(f"/api/incidents/{iid}/timeline", headers=console.auth("leo"))).json()[
            "entries"
        ]
        return any("bea (analyst) posted a status update for leadership: Stream removed" in e["text"] for e in entries)

    await eventually(in_timeline)


async def test_the_on_call_page_lists_who_holds_a_tier_now_and_the_handoffs(console: Console, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    path = tmp_path / "directory.toml"
    path.write_text(
        "[tiers.regional_on_call_lead.EMEA]\n"
        'email = ["emea@example.org"]\n'
        "[[tiers.regional_on_call_lead.EMEA.rota]]\n"
        f"from = {now - timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z\nto = {now + timedelta(hours=2):%Y-%m-%dT%H:%M:%S}Z\n"
        'person = "leo"\n'
        "[[tiers.regional_on_call_lead.EMEA.rota]]\n"
        f"from = {now + timedelta(hours=2):%Y-%m-%dT%H:%M:%S}Z\nto = {now + timedelta(hours=10):%Y-%m-%dT%H:%M:%S}Z\n"
        'person = "lucia"\n'
    )
    app_state = console.app.state
    before = getattr(app_state, "directory", None)
    app_state.directory = DirectoryFile.load(path)
    try:
        html = (await (await console.signed_in("ana")).get("/on-call")).text
    finally:
        app_state.directory = before
    now_part, coming = html.split("Handoffs in the next 7 days")
    assert "regional_on_call_lead · EMEA</strong>: leo" in now_part
    assert "passes to lucia" in coming
