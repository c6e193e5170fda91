"""Seen only when chosen, in a real browser (Debian's chromium): veiled evidence revealed by a
click and counted, never by hovering; preferences that persist; masked titles in the queue; the
break prompt past the daily soft limit. Screenshots are kept in the test output (see conftest)."""

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from tests.console.conftest import Console
from tests.console.test_browser import new_page, sign_in, until
from tests.evidence_files import png
from vigil import auth
from vigil.db.tables import CustodyRow, ExposureRow
from vigil.policy import DEFAULT_POLICY_PATH

CHILD_SAFETY = {"category": "child_safety", "channel": "user_report", "region": "NA"}


def new_person(console: Console, role: str = "analyst") -> str:
    """Someone with no exposure yet, so each test counts from zero."""
    name = f"wb-{uuid.uuid4().hex[:8]}"
    with Session(console.engine) as session:
        console.tokens[name] = auth.enrol(session, auth.add_user(session, name, role))[0]
    return name


def exposures_of(console: Console, person: str, kind: str | None = None) -> int:
    query = select(func.count()).select_from(ExposureRow).where(col(ExposureRow.person) == person)
    if kind:
        query = query.where(col(ExposureRow.kind) == kind)
    with Session(console.engine) as session:
        return int(session.scalar(query) or 0)


async def with_evidence(console: Console, title: str) -> tuple[str, str]:
    incident = await console.open(title=title, **CHILD_SAFETY)
    await console.state(incident["id"])  # projected
    response = await console.api.post(
        f"/api/incidents/{incident['id']}/evidence",
        files={"file": ("screenshot.png", png(41), "image/png")},
        data={"description": "screenshot of the post"},
        headers=console.auth("leo"),
    )
    assert response.status_code == 201, response.text
    return incident["id"], response.json()["id"]


async def image_filter(page: Page, evidence_id: str) -> str:
    return str(await page.locator(f"#{evidence_id} img").evaluate("image => getComputedStyle(image).filter"))


async def test_sensitive_evidence_is_blurred_and_greyscale_until_clicked_and_the_click_is_counted(
    console: Console, browser: Any, screenshots: Path
) -> None:
    person = new_person(console)
    incident_id, evidence_id = await with_evidence(console, "Images of a minor shared in a group")
    page = await new_page(browser)
    await sign_in(page, console, person, f"/incidents/{incident_id}")
    item = page.locator(f"#{evidence_id}")
    await expect(item).to_have_class(re.compile(r"\bveiled\b"))
    await expect(item.locator(".veil-warning")).to_contain_text("child safety")
    veiled = await image_filter(page, evidence_id)
    assert "blur(24px)" in veiled and "grayscale(1)" in veiled, veiled
    await page.screenshot(path=screenshots / "wellbeing-01-veiled.png", full_page=True)

    await item.locator(".evidence-media").hover()  # hovering never reveals
    await page.wait_for_timeout(300)
    await expect(item).to_have_class(re.compile(r"\bveiled\b"))
    assert exposures_of(console, person) == 0

    await item.get_by_role("link", name="Show").click()
    await expect(item).to_have_class(re.compile(r"\brevealed\b"))
    await expect(item.locator("img")).to_have_attribute("src", re.compile(r"/content\?exposure=\d+$"))
    await expect(item.locator("img")).to_have_css("filter", "none")
    # The full file (480 pixels wide; the thumbnail is 320) has loaded.
    loaded = f"document.querySelector('#{evidence_id} img')"
    await page.wait_for_function(f"() => {loaded}.complete && {loaded}.naturalWidth === 480")
    await page.screenshot(path=screenshots / "wellbeing-02-revealed.png", full_page=True)
    assert exposures_of(console, person, "reveal") == 1
    with Session(console.engine) as session:
        views = session.scalars(
            select(CustodyRow).where(col(CustodyRow.evidence_id) == evidence_id, col(CustodyRow.actor) == person)
        ).all()
    assert [v.event for v in views] == ["view"]  # the full file loaded once, after the click
    assert exposures_of(console, person, "fetch") == 0  # and counted once, as the reveal

    await item.get_by_role("button", name="Hide again").click()
    await expect(item).to_have_class(re.compile(r"\bveiled\b"))


async def test_viewing_preferences_persist(console: Console, browser: Any, screenshots: Path) -> None:
    person = new_person(console)
    incident_id, evidence_id = await with_evidence(console, "Second report of the same images")
    page = await new_page(browser)
    await sign_in(page, console, person, "/preferences")
    await page.locator("#blur-own").fill("8")
    await page.locator("#greyscale-own").uncheck()
    await page.locator("#prefs-own").get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await page.screenshot(path=screenshots / "wellbeing-03-preferences.png", full_page=True)

    later = await new_page(browser)  # another session: the choice is kept by Vigil, not the browser
    await sign_in(later, console, person, f"/incidents/{incident_id}")
    chosen = await image_filter(later, evidence_id)
    assert "blur(8px)" in chosen and "grayscale(0)" in chosen, chosen
    await later.goto(f"{console.base_url}/preferences")
    await expect(later.locator("#blur-own")).to_have_value("8")
    await expect(later.locator("#greyscale-own")).not_to_be_checked()


async def test_titles_of_sensitive_incidents_are_masked_in_the_queue(
    console: Console, browser: Any, screenshots: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    masked = await console.open(title=f"Beheading video {tag}", **CHILD_SAFETY)
    plain = await console.open(category="spam_scam", channel="user_report", region="NA", title=f"Crypto giveaway {tag}")
    page = await new_page(browser)
    await sign_in(page, console, "ana")
    await until(
        page, f"{console.base_url}/?text={tag}", lambda: page.locator(f"tr[data-incident='{plain['id']}']").is_visible()
    )
    row = page.locator(f"tr[data-incident='{masked['id']}']")
    await expect(row).to_contain_text("[Sensitive: child safety. Open the incident to read its title]")
    await expect(row).not_to_contain_text("Beheading")
    await expect(page.locator(f"tr[data-incident='{plain['id']}']")).to_contain_text(f"Crypto giveaway {tag}")
    await page.screenshot(path=screenshots / "wellbeing-04-queue-masked.png", full_page=True)
    await row.get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(f"Beheading video {tag}")
    # Opened once, the title is theirs to read in the queue; for everyone else it stays masked.
    await page.goto(f"{console.base_url}/?text={tag}")
    await expect(page.locator(f"tr[data-incident='{masked['id']}']")).to_contain_text(f"Beheading video {tag}")
    other = await new_page(browser)
    await sign_in(other, console, "bea")
    await other.goto(f"{console.base_url}/?text={tag}")
    await expect(other.locator(f"tr[data-incident='{masked['id']}']")).not_to_contain_text("Beheading")


async def test_past_the_daily_limit_the_console_asks_for_a_break(
    console: Console, browser: Any, screenshots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict = tmp_path / "policy.toml"
    strict.write_text(DEFAULT_POLICY_PATH.read_text().replace("daily_reveals = 40", "daily_reveals = 1"))
    monkeypatch.setenv("VIGIL_POLICY", str(strict))
    person = new_person(console)
    incident_id, evidence_id = await with_evidence(console, "Third report")
    page = await new_page(browser)
    await sign_in(page, console, person, f"/incidents/{incident_id}")
    await expect(page.locator("#break-prompt")).to_have_count(0)
    await page.locator(f"#{evidence_id}").get_by_role("link", name="Show").click()
    await expect(page.locator("#break-prompt")).to_contain_text("Time for a break.")  # the page reloads with it
    await expect(page.locator("#break-prompt")).to_contain_text("You have seen 1 sensitive items today")
    await page.screenshot(path=screenshots / "wellbeing-05-break.png", full_page=True)
    await page.goto(f"{console.base_url}/exposure")
    await expect(page.locator("#my-day")).to_contain_text("1 of 1 sensitive items seen today")

    lead = await new_page(browser)
    await sign_in(lead, console, "lena", "/exposure")
    await expect(lead.locator("#team-exposure")).to_contain_text(person)
    await lead.screenshot(path=screenshots / "wellbeing-06-lead-exposure.png", full_page=True)
