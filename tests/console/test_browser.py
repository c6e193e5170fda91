"""The console in a real browser (Debian's chromium, headless), against the real dev server and worker.

Screenshots go to $VIGIL_SCREENSHOTS (else a temp folder) so a person can look at the pages.
"""

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.console.conftest import Console

GRAPHIC = "https://video.example/v/stream-8841-recording"
PLAIN = "https://social.example/post/8841"
VIEWPORT = {"width": 1360, "height": 960}


async def new_page(browser: Any, **options: Any) -> Page:
    context = await browser.new_context(viewport=VIEWPORT, **{"locale": "en-GB", **options})
    return await context.new_page()


async def sign_in(page: Page, console: Console, user: str, next_path: str = "/") -> None:
    await page.goto(f"{console.base_url}/sign-in?next={next_path}")
    await page.locator("#token").fill(console.tokens[user])
    await page.locator("#token").press("Enter")
    await page.wait_for_url(f"{console.base_url}{next_path}")


async def until(page: Page, url: str, check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Reload `url` until `check` passes: lists and timelines follow the workflow within moments."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await page.goto(url)
        if await check():
            return
        assert asyncio.get_running_loop().time() < deadline, f"{url}: condition not met within {timeout}s"
        await asyncio.sleep(0.3)


async def test_an_incident_walks_through_the_console(console: Console, browser: Any, screenshots: Path) -> None:
    incident = await console.open(
        title="Livestream announcing an attack on a school in Monterrey",
        content=[{"url": GRAPHIC, "graphic": True}, {"url": PLAIN, "graphic": False}],
    )
    iid = incident["id"]
    # Something in the queue beside it: a SEV4 whose 2-second acknowledge clock breaches.
    await console.open(
        category="misinformation",
        channel="user_report",
        region="NA",
        reach=40,
        title="Fake evacuation notice in a neighbourhood group",
    )
    await console.open(
        category="hate_speech",
        channel="trusted_flagger",
        region="EMEA",
        title="Coordinated slurs under a footballer's posts",
    )

    # The analyst finds it in the queue, acknowledges, escalates to Legal and proposes a termination.
    ana = await new_page(browser, timezone_id="America/Mexico_City")
    await sign_in(ana, console, "ana")
    await until(ana, f"{console.base_url}/", lambda: ana.get_by_role("link", name=re.compile(iid)).is_visible())
    await expect(ana.locator("time.ts + .local").first).to_contain_text("local time")
    await ana.screenshot(path=screenshots / "01-queue.png", full_page=True)
    await ana.get_by_role("link", name=re.compile(iid)).click()
    await expect(ana.get_by_role("heading", level=1)).to_contain_text(iid)

    await ana.get_by_role("button", name="Acknowledge").click()
    await expect(ana.get_by_role("status")).to_have_text("Acknowledged.")

    await ana.locator("#form-escalate summary").click()
    await ana.locator("#escalate-team").select_option("legal")
    await ana.get_by_label("What you need from them").fill("Police ask for the account holder's data.")
    await ana.get_by_role("button", name="Escalate to a team").click()
    await expect(ana.get_by_role("status")).to_have_text("Escalated.")

    await ana.locator("#form-propose_action summary").click()
    await ana.locator("#propose_action-action").select_option("terminate_account")
    await ana.get_by_label("Rationale").fill("Credible threat of violence against a named school.")
    await ana.get_by_role("button", name="Propose an action").click()
    await expect(ana.get_by_role("status")).to_have_text("Action proposed.")
    await expect(ana.locator(".facts .status")).to_have_text("pending approval")
    await ana.screenshot(path=screenshots / "02-incident-analyst.png", full_page=True)
    approval_id = f"{iid}-A1"

    # Two leads approve: one from the inbox, one from the incident page (SEV1: quorum 2).
    leo = await new_page(browser, timezone_id="Europe/Madrid")
    await sign_in(leo, console, "leo", "/approvals")
    await until(leo, f"{console.base_url}/approvals", lambda: leo.get_by_text(approval_id).first.is_visible())
    await leo.screenshot(path=screenshots / "03-approvals-lead.png", full_page=True)
    await leo.get_by_label("Comment").first.fill("Agreed: the threat names a date.")
    await leo.get_by_role("button", name=f"Approve {approval_id}").click()
    await expect(leo.get_by_role("status")).to_have_text("Approved.")

    lucia = await new_page(browser, timezone_id="Asia/Singapore")
    await sign_in(lucia, console, "lucia", f"/incidents/{iid}")
    await expect(lucia.locator(".quorum")).to_have_text("Approvals: 1 of 2 needed")
    await lucia.get_by_role("button", name=f"Approve {approval_id}").click()
    await expect(lucia.get_by_role("status")).to_have_text("Approved.")

    # Enforcement runs; the incident goes back to waiting for Legal.
    await until(
        ana,
        f"{console.base_url}/incidents/{iid}",
        lambda: ana.locator(f"#{approval_id} .badge").filter(has_text="carried out").is_visible(),
    )
    await expect(ana.locator(".facts .status")).to_have_text("escalated")  # Legal has not answered yet
    await expect(ana.locator(".timeline li").filter(has_text=re.compile(r"lucia\b.*approved"))).to_have_count(1)
    await ana.screenshot(path=screenshots / "04-incident-enforced.png", full_page=True)
    state = await console.state(iid)
    assert [v["by"] for v in state["proposals"][0]["votes"]] == ["leo", "lucia"]
    assert state["proposals"][0]["status"] == "done"


async def test_graphic_content_stays_hidden_until_asked_and_is_never_loaded(console: Console, browser: Any) -> None:
    incident = await console.open(
        category="graphic_violence", channel="user_report", region="APAC", content=[{"url": GRAPHIC, "graphic": True}]
    )
    page = await new_page(browser)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await sign_in(page, console, "ana", f"/incidents/{incident['id']}")

    guard = page.locator("details.graphic-guard")
    link = guard.get_by_role("link", name=GRAPHIC)
    await expect(link).to_be_hidden()
    await expect(guard.locator("summary")).to_contain_text("Show 1 graphic content link")
    await guard.locator("summary").focus()
    await page.keyboard.press("Enter")  # the keyboard opens it as well as a click
    await expect(link).to_be_visible()
    await expect(guard.locator(".warning")).to_contain_text("Warning: this may show violence")
    assert await page.locator("img").count() == 0
    assert not [url for url in requested if "video.example" in url]


async def test_spanish_pages_and_the_language_switch(console: Console, browser: Any, screenshots: Path) -> None:
    incident = await console.open(content=[{"url": GRAPHIC, "graphic": True}])
    await console.act(incident["id"], {"type": "acknowledge"}, "ana")
    page = await new_page(browser, locale="es-ES", timezone_id="America/Bogota")
    await page.goto(f"{console.base_url}/sign-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión en Vigil")
    await sign_in(page, console, "lucia", f"/incidents/{incident['id']}")
    await expect(page.get_by_role("navigation", name="Consola").get_by_role("link", name="Cola")).to_be_visible()
    await expect(page.get_by_role("heading", name="Plazos")).to_be_visible()
    guard = page.locator("details.graphic-guard summary")
    await expect(guard).to_contain_text("Mostrar 1 enlace a contenido explícito")
    await expect(page.locator("time.ts + .local").first).to_contain_text("hora local")
    await page.screenshot(path=screenshots / "05-incident-spanish.png", full_page=True)

    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="Clocks")).to_be_visible()
    await page.goto(f"{console.base_url}/trends")  # remembered: English though the browser asks for Spanish
    await expect(page.get_by_role("heading", level=1)).to_have_text("Trends")
    await page.screenshot(path=screenshots / "06-trends.png", full_page=True)


async def test_every_control_has_a_label_and_the_keyboard_reaches_the_content(console: Console, browser: Any) -> None:
    incident = await console.open()
    await console.act(incident["id"], {"type": "acknowledge"}, "ana")
    page = await new_page(browser)
    await page.goto(f"{console.base_url}/sign-in")
    unlabelled = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)"""
    assert await page.evaluate(unlabelled) == []
    await sign_in(page, console, "leo")
    for path in ("/", f"/incidents/{incident['id']}", "/approvals", "/trends"):
        await page.goto(console.base_url + path)
        assert await page.evaluate(unlabelled) == [], path
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Skip to content", path
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main", path


async def test_the_console_works_without_javascript(console: Console, browser: Any) -> None:
    incident = await console.open()
    page = await new_page(browser, java_script_enabled=False)
    await sign_in(page, console, "bea", f"/incidents/{incident['id']}")
    await page.locator("#form-add_note summary").click()
    await page.get_by_role("textbox", name="Note").fill("Checked the stream archive: 3 copies.")
    await page.get_by_role("button", name="Add a note").click()
    await expect(page.get_by_role("status")).to_have_text("Note added.")
    await expect(page.locator("blockquote").first).to_contain_text("3 copies")
    assert (await console.state(incident["id"]))["notes"][0]["by"] == "bea"


async def test_another_persons_action_appears_on_my_open_pages_without_a_reload(console: Console, browser: Any) -> None:
    incident = await console.open(title="Threat against a school, second report")
    iid = incident["id"]
    ana = await new_page(browser)
    await sign_in(ana, console, "ana")
    await until(ana, f"{console.base_url}/", lambda: ana.locator(f"tr[data-incident='{iid}']").is_visible())
    detail = await ana.context.new_page()
    await detail.goto(f"{console.base_url}/incidents/{iid}")
    await expect(detail.locator(".facts .status")).to_have_text("triage")
    assigned_before = int(await ana.locator("[data-waiting='assigned']").text_content() or "0")
    for page in (ana, detail):  # a reload would lose this
        await page.evaluate("window.__notReloaded = true")

    await console.act(iid, {"type": "acknowledge"}, "bea")  # someone else, elsewhere
    await console.act(iid, {"type": "assign", "assignee": "ana"}, "bea")

    row = ana.locator(f"tr[data-incident='{iid}']")
    await expect(row.locator(".status")).to_have_text("investigating", timeout=15_000)
    await expect(row).to_contain_text("ana")
    await expect(detail.locator(".facts .status")).to_have_text("investigating", timeout=15_000)
    await expect(detail.locator(".facts")).to_contain_text("assigned to ana")
    await expect(detail.locator(".timeline li").filter(has_text="bea (analyst) acknowledged")).to_have_count(1)
    await expect(ana.locator("[data-waiting='assigned']")).to_have_text(str(assigned_before + 1), timeout=15_000)
    for page in (ana, detail):
        assert await page.evaluate("window.__notReloaded === true")
