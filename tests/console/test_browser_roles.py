"""Each role's main path in Debian's chromium, on a desktop (1440x900) and a phone (390x844):
on every page, nothing scrolls sideways and the page's next action starts within the first
screen. Screenshots go to $VIGIL_SCREENSHOTS (else a temp folder), as in test_browser.py.

    analyst  queue → take an incident → note
    lead     approvals → approve
    auditor  incident → audit timeline → replay verdict
    admin    people → add a person (the enrolment secret shown once)
"""

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from tests.console.conftest import Console
from tests.console.test_browser import sign_in, until
from tests.console.test_browser_triage import DESKTOP, OVERFLOW, PHONE, new_page

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440x900", "390x844"])


def size(viewport: dict[str, int]) -> str:
    return f"{viewport['width']}x{viewport['height']}"


async def first_screen(page: Page, action: Locator, shot: Path) -> None:
    """No sideways scroll on this page, and `action` (its next step) starts within the first screen."""
    await page.screenshot(path=shot)
    assert await page.evaluate(OVERFLOW) <= 0, f"{page.url} scrolls sideways"
    await expect(action).to_be_visible()
    box = await action.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 0
    assert box is not None and box["y"] < height, f"{page.url}: the next action starts at y={box and box['y']}"


async def acknowledged(console: Console, title: str) -> str:
    """A new SEV1 (docs/walkthrough.md's), acknowledged by ana: its id."""
    incident = await console.open(title=title)
    await console.act(incident["id"], {"type": "acknowledge"}, "ana")
    return incident["id"]


@VIEWPORTS
async def test_an_analyst_takes_an_incident_and_adds_a_note(
    console: Console, browser: Any, screenshots: Path, viewport: dict[str, int]
) -> None:
    tag = uuid.uuid4().hex[:8]
    incident = await console.open(category="privacy", channel="user_report", region="NA", title=f"Doxxing {tag}")
    iid = incident["id"]
    page = await new_page(browser, viewport)
    await sign_in(page, console, "ana")
    queue = f"{console.base_url}/?text={tag}"
    row = page.locator(f"tr[data-incident='{iid}']")
    await until(page, queue, lambda: row.is_visible())
    link = row.get_by_role("link", name=re.compile(iid))
    await first_screen(page, link, screenshots / f"30-analyst-queue-{size(viewport)}.png")
    await link.click()
    await page.wait_for_url(re.compile(f"/incidents/{iid}"))

    take = page.locator(".next-steps").get_by_role("button", name="Take it")
    await first_screen(page, take, screenshots / f"31-analyst-incident-{size(viewport)}.png")
    await take.click()
    await expect(page.get_by_role("status")).to_have_text("Acknowledged.")

    note = page.locator("#form-add_note summary")
    await first_screen(page, note, screenshots / f"32-analyst-taken-{size(viewport)}.png")
    await note.click()
    await page.locator("#form-add_note textarea").fill("Home address posted; asked the platform to remove it.")
    await page.locator("#form-add_note").get_by_role("button").click()
    await expect(page.get_by_role("status")).to_have_text("Note added.")
    assert await page.evaluate(OVERFLOW) <= 0
    await page.screenshot(path=screenshots / f"33-analyst-noted-{size(viewport)}.png")


@VIEWPORTS
async def test_a_lead_approves_from_the_inbox(
    console: Console, browser: Any, screenshots: Path, viewport: dict[str, int]
) -> None:
    iid = await acknowledged(console, "Threat naming a school")
    await console.act(iid, {"type": "propose_action", "action": "terminate_account", "rationale": "Threat."}, "ana")
    approval_id = f"{iid}-A1"
    page = await new_page(browser, viewport)
    await sign_in(page, console, "lucia", "/approvals")
    approve = page.get_by_role("button", name=f"Approve {approval_id}")
    await until(page, f"{console.base_url}/approvals", lambda: approve.is_visible())
    first = page.locator("article.approval button.primary").first  # the inbox's next decision
    await first_screen(page, first, screenshots / f"34-lead-approvals-{size(viewport)}.png")
    await approve.click()
    await expect(page.get_by_role("status")).to_have_text("Approved.")
    assert await page.evaluate(OVERFLOW) <= 0
    await page.screenshot(path=screenshots / f"35-lead-approved-{size(viewport)}.png")
    state = await console.state(iid)
    assert [v["by"] for v in state["proposals"][0]["votes"]] == ["lucia"]


@VIEWPORTS
async def test_an_auditor_reads_the_timeline_and_the_replay_verdict(
    console: Console, browser: Any, screenshots: Path, viewport: dict[str, int]
) -> None:
    iid = await acknowledged(console, "Audit walk")
    page = await new_page(browser, viewport)
    await sign_in(page, console, "audrey", f"/incidents/{iid}")
    audit = page.get_by_role("link", name="Audit: timeline, state, replay, seal")
    await first_screen(page, audit, screenshots / f"36-auditor-incident-{size(viewport)}.png")
    await audit.click()
    await page.wait_for_url(f"{console.base_url}/incidents/{iid}/audit")
    await expect(page.locator(".counts")).to_contain_text("in 1 run")
    await expect(page.locator(".audit-timeline li").filter(has_text="acknowledged")).to_have_count(1)
    replay = page.locator("nav.tabs").get_by_role("link", name="Replay verdict")
    await first_screen(page, replay, screenshots / f"37-auditor-timeline-{size(viewport)}.png")
    await replay.click()
    verdict = page.locator(".verdict")
    await expect(verdict).to_contain_text("Replays against today's code")
    await first_screen(page, verdict, screenshots / f"38-auditor-replay-{size(viewport)}.png")
    # The other views: the state after the last event (its whole JSON opened), the seal while open.
    await page.locator("nav.tabs").get_by_role("link", name="State after an event").click()
    await page.locator("details summary").filter(has_text="The whole state").click()
    show = page.get_by_role("button", name="Show the state")
    await first_screen(page, show, screenshots / f"39-auditor-state-{size(viewport)}.png")
    await page.locator("nav.tabs").get_by_role("link", name="Seal").click()
    await expect(page.get_by_role("status")).to_contain_text("sealed when the incident closes")
    assert await page.evaluate(OVERFLOW) <= 0


@VIEWPORTS
async def test_an_admin_adds_a_person(
    console: Console, browser: Any, screenshots: Path, viewport: dict[str, int]
) -> None:
    page = await new_page(browser, viewport)
    await sign_in(page, console, "adam")
    people = page.get_by_role("navigation", name="Console").get_by_role("link", name="People")
    await first_screen(page, people, screenshots / f"40-admin-queue-{size(viewport)}.png")
    await people.click()
    await page.wait_for_url(f"{console.base_url}/admin/users")
    add = page.get_by_role("button", name="Add a person")
    await first_screen(page, add, screenshots / f"41-admin-people-{size(viewport)}.png")
    name = f"olga{uuid.uuid4().hex[:6]}"
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Role").select_option("analyst")
    await add.click()
    await expect(page.get_by_role("status")).to_contain_text("shown only this once")
    secret = page.locator("#enrolment-secret")
    await expect(secret).to_have_text(re.compile(r"^vge_"))
    await first_screen(page, secret, screenshots / f"42-admin-secret-{size(viewport)}.png")
    await page.reload()
    await expect(page.locator("#enrolment-secret")).to_have_count(0)  # shown once
    await expect(page.locator(f"[data-person='{name}'] h3")).to_contain_text("waiting to enrol")
