"""The console under pressure, in Debian's chromium: dense rows, the keyboard, a phone's width.

Screenshots go to $VIGIL_SCREENSHOTS (else a temp folder), as in test_browser.py.
"""

import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.console.conftest import Console
from tests.console.test_browser import sign_in, until

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


async def new_page(browser: Any, viewport: dict[str, int], **options: Any) -> Page:
    context = await browser.new_context(viewport=viewport, locale="en-GB", **options)
    return await context.new_page()


async def visible_rows(page: Page) -> int:
    """Queue rows wholly inside the first screen."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('table.queue tbody tr')].filter(r => {
             const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; }).length"""
    )


async def test_the_queue_shows_fifteen_rows_and_walks_by_keyboard(
    console: Console, browser: Any, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    opened = [
        await console.open(category="privacy", channel="user_report", region="NA", title=f"Doxxing {tag} {n}")
        for n in range(18)
    ]
    page = await new_page(browser, DESKTOP)
    await sign_in(page, console, "ana")
    queue = f"{console.base_url}/?text={tag}"
    await until(page, queue, lambda: _rows_at_least(page, 18))
    await page.screenshot(path=screenshots / "10-queue-1440x900.png")
    assert await visible_rows(page) >= 15
    assert await page.locator("details.filter-panel").get_attribute("open") is None  # folded away

    # Keyboard only: j, j, k choose rows (their link takes the focus), Enter opens.
    await page.locator("body").focus()
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#shortcuts")).to_be_hidden()
    for key in ("j", "j", "k"):
        await page.keyboard.press(key)
    chosen = page.locator("table.queue tr.chosen")
    await expect(chosen).to_have_count(1)
    first = await page.locator("table.queue tbody tr").first.get_attribute("data-incident")
    assert await chosen.get_attribute("data-incident") == first
    assert await page.evaluate("document.activeElement.classList.contains('incident-link')")
    await page.keyboard.press("/")
    assert await page.evaluate("document.activeElement.id") == "f-text"
    await page.keyboard.press("Escape")  # leaves the search box; the chosen row stays chosen
    await page.keyboard.press("j")
    second = await page.locator("table.queue tbody tr").nth(1).get_attribute("data-incident")
    await expect(chosen).to_have_attribute("data-incident", second or "")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{console.base_url}/incidents/{second}")
    assert {first, second} <= {o["id"] for o in opened}
    await page.screenshot(path=screenshots / "11-incident-1440x900.png")


async def _rows_at_least(page: Page, count: int) -> bool:
    return await page.locator("table.queue tbody tr").count() >= count


async def test_a_phone_has_no_sideways_scroll_and_the_next_action_in_the_first_screen(
    console: Console, browser: Any, screenshots: Path
) -> None:
    incident = await console.open(category="child_safety", channel="user_report", region="NA", title="Phone check")
    iid = incident["id"]
    page = await new_page(browser, PHONE)
    await sign_in(page, console, "ana")
    await until(page, f"{console.base_url}/", lambda: page.locator(f"tr[data-incident='{iid}']").is_visible())
    await page.screenshot(path=screenshots / "20-queue-390.png", full_page=True)
    assert await page.evaluate(OVERFLOW) <= 0
    await page.goto(f"{console.base_url}/incidents/{iid}")
    await page.screenshot(path=screenshots / "21-incident-390.png")
    assert await page.evaluate(OVERFLOW) <= 0
    take = page.locator(".next-steps").get_by_role("button", name="Take it")
    box = await take.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]  # the next action, in the first screen
    await take.click()
    await expect(page.get_by_role("status")).to_have_text("Acknowledged.")
    assert await page.evaluate(OVERFLOW) <= 0
    actions = await page.locator("aside.actions").bounding_box()
    assert actions is not None and actions["y"] < PHONE["height"]  # the actions start within the first screen
    await page.screenshot(path=screenshots / "22-incident-390-acknowledged.png")
