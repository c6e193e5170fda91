"""The queue: the API's filters and pages, nearest deadline first, severity and breaches in words."""

import html
import re
import uuid
from urllib.parse import urlencode

from tests.console.conftest import Console
from tests.helpers import eventually


def listed(html: str) -> list[str]:
    """Incident ids in the order the queue shows them."""
    return re.findall(r'<a href="/incidents/(INC-\d{4}-\d{6})" class="incident-link">', html)


async def test_the_queue_puts_the_nearest_deadline_first_and_says_breaches_in_words(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    sev1 = await console.open(title=f"School threat {tag}")
    late = await console.open(
        category="misinformation", channel="user_report", region="NA", reach=5, title=f"Fake notice {tag}"
    )
    sev3 = await console.open(category="hate_speech", channel="user_report", region="NA", title=f"Slurs {tag}")
    browser = await console.signed_in("ana")

    async def breached_first() -> str | None:
        page = (await browser.get("/", params={"text": tag})).text
        return page if listed(page) == [late["id"], sev1["id"], sev3["id"]] and "1 breach" in page else None

    page = await eventually(breached_first)
    row = page[page.index(late["id"]) : page.index(sev1["id"])]
    assert 'class="countdown overdue"' in row and "overdue by" in row
    assert '<span class="sev sev-sev4">SEV4</span>' in page and '<span class="sev sev-sev1">SEV1</span>' in page
    assert "nearest deadline" in page  # the sort the page says it uses

    by_severity = (await browser.get("/", params={"text": tag, "sort": "severity"})).text
    assert listed(by_severity) == [sev1["id"], sev3["id"], late["id"]]


async def test_the_filters_are_the_apis_and_unknown_values_are_ignored(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    emea = await console.open(category="hate_speech", channel="trusted_flagger", region="EMEA", title=f"Flagged {tag}")
    latam = await console.open(title=f"Threat {tag}")
    await console.act(latam["id"], {"type": "acknowledge"}, "bea")
    browser = await console.signed_in("ana")

    async def shows(params: dict[str, str], expected: list[str]) -> bool:
        page = await browser.get("/", params={"text": tag, **params})
        assert page.status_code == 200
        return sorted(listed(page.text)) == sorted(expected)

    await eventually(lambda: shows({"assignee": "bea"}, [latam["id"]]))
    assert await shows({}, [emea["id"], latam["id"]])
    assert await shows({"region": "EMEA"}, [emea["id"]])
    assert await shows({"category": "violent_extremism", "channel": "law_enforcement"}, [latam["id"]])
    assert await shows({"severity": "SEV3"}, [emea["id"]])
    assert await shows({"status": "investigating"}, [latam["id"]])
    assert await shows({"status": "resolved"}, [])
    nonsense = {"region": "MARS", "severity": "SEV9", "sort": "nonsense", "limit": "7000"}
    assert await shows(nonsense, [emea["id"], latam["id"]])


async def test_pages_follow_one_another_without_repeats(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    opened = [
        (await console.open(category="privacy", channel="user_report", title=f"Doxxing {tag} {n}"))["id"]
        for n in range(5)
    ]
    browser = await console.signed_in("ana")
    await eventually(lambda: _count(browser, tag, 5))

    seen: list[str] = []
    link = "/?" + urlencode({"text": tag, "limit": 2})
    for number in range(1, 5):
        page = (await browser.get(link)).text
        seen += listed(page)
        assert ("First page" in page) is (number > 1)
        more = re.search(r'<a href="([^"]+)" rel="next">', page)
        if not more:
            break
        link = html.unescape(more.group(1))
    assert number == 3
    assert seen == opened  # same severity and deadline: oldest first, each once

    bad_cursor = await browser.get("/", params={"text": tag, "cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 200 and "showing the first page" in bad_cursor.text
    assert listed(bad_cursor.text) == opened


async def _count(browser, tag: str, expected: int) -> bool:
    return len(listed((await browser.get("/", params={"text": tag})).text)) == expected


async def test_a_lead_is_told_who_has_seen_least_sensitive_content_today(console: Console) -> None:
    """With a sensitive incident unassigned, the queue names who to hand it to (least exposed
    today: names only, never figures) to those who may read team exposure; not to analysts."""
    tag = uuid.uuid4().hex[:8]
    incident = await console.open(title=f"Livestream {tag}")  # violent extremism: sensitive by policy
    lead = await console.signed_in("leo")
    page = await eventually(lambda: _text_if(lead, {"text": tag}, incident["id"]), timeout=15)
    hint = page[page.index('id="least-exposed"') :]
    hint = hint[: hint.index("</p>")]
    assert "Least exposed to sensitive content today:" in hint and not re.search(r"\d", hint.split(":", 1)[1])
    analyst = await console.signed_in("ana")
    assert 'id="least-exposed"' not in (await analyst.get("/", params={"text": tag})).text


async def _text_if(browser, params: dict[str, str], incident_id: str) -> str | None:  # type: ignore[no-untyped-def]
    page = (await browser.get("/", params=params)).text
    return page if incident_id in page else None


async def test_the_queue_search_finds_words_of_the_description_a_note_and_the_content_url(console: Console) -> None:
    tag = "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])  # one word, letters only
    incident = await console.open(
        title="Threat in a live chat",
        description=f"Mentions the plaza of Guadalajara{tag} by name",
        content=[{"url": f"https://clips{tag}.example/watch/1", "graphic": False}],
    )
    await console.act(incident["id"], {"type": "add_note", "text": f"Same user as in caso{tag}"}, "ana")
    browser = await console.signed_in("ana")

    async def finds(text: str) -> bool:
        return incident["id"] in listed((await browser.get("/", params={"text": text})).text)

    await eventually(lambda: finds(f"caso{tag}"))  # the note, once projected
    assert await finds(f"guadalajara{tag}")
    assert await finds(f"clips{tag}")
    assert not await finds(f"guadalajara{tag} nowhere")
