"""Saved views and bulk assign in Debian's chromium, as a lead does them between two incidents.

Screenshots go to $VIGIL_SCREENSHOTS (else a temp folder), as in test_browser.py.
"""

import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.console.conftest import Console
from tests.console.test_browser import sign_in, until
from tests.console.test_browser_triage import DESKTOP, new_page
from tests.helpers import eventually


async def _listed(page: Page, count: int) -> bool:
    return await page.locator("table.queue tbody tr").count() == count


async def test_a_lead_saves_a_view_and_bulk_assigns_from_it(console: Console, browser: Any, screenshots: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    opened = [
        await console.open(category="spam_scam", channel="user_report", region="APAC", title=f"Scam ring {tag} {n}")
        for n in range(3)
    ]
    ids = [o["id"] for o in opened]
    page = await new_page(browser, DESKTOP)
    await sign_in(page, console, "leo")
    await until(page, f"{console.base_url}/?text={tag}&region=APAC", lambda: _listed(page, 3))

    await page.locator("#view-name").fill(f"APAC scams {tag}")
    await page.get_by_role("button", name="Save view").click()
    await expect(page.get_by_role("status")).to_contain_text("View saved")
    views = page.get_by_role("navigation", name="Your saved views")
    await views.get_by_role("link", name=f"APAC scams {tag}").click()  # the view brings the filters back
    await expect(page.locator("#f-text")).to_have_value(tag)
    await expect(page.locator("table.queue tbody tr")).to_have_count(3)

    await page.get_by_label(f"Choose {ids[0]}").check()
    # The first checkbox keeps the focus: a checkbox takes no typing, so the keys still move.
    for key in ("j", "j", "x", "j", "x"):  # the keyboard chooses the second and third rows
        await page.keyboard.press(key)
    for incident_id in ids:
        await expect(page.get_by_label(f"Choose {incident_id}")).to_be_checked()
    await page.locator("#bulk-assignee").select_option("bea")
    await page.get_by_role("button", name="Assign…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Assign 3 incidents to bea?")
    await page.screenshot(path=screenshots / "20-bulk-confirm-1440x900.png")
    await page.get_by_role("button", name="Assign 3 incidents to bea").click()
    await expect(page.get_by_role("status")).to_contain_text("3 of 3 done")
    await expect(page.locator("tr.bulk-done")).to_have_count(3)
    await page.screenshot(path=screenshots / "21-bulk-done-1440x900.png")

    async def assigned() -> bool:
        return [(await console.state(i))["assignee"] for i in ids] == ["bea"] * 3

    await eventually(assigned)

    await page.goto(f"{console.base_url}/")
    await views.get_by_role("button", name=f"Delete the view APAC scams {tag}").click()
    await expect(page.get_by_role("status")).to_contain_text("View deleted")
    await expect(page.get_by_role("link", name=f"APAC scams {tag}")).to_have_count(0)
