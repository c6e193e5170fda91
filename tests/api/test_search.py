"""Full-text search (GET /api/incidents?text=): the words of an incident's description, notes,
content URLs and target accounts find it, on SQLite (FTS5) and PostgreSQL (tsvector); odd input
is never a server error."""

import uuid
from typing import Any

import pytest

from tests.api.conftest import Stack
from tests.helpers import eventually


def _tag() -> str:
    """A word no other incident of the shared databases holds (letters only: one word)."""
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:12])


async def _found(stack: Stack, text: str) -> list[str]:
    response = await stack.get("/api/incidents", "ana", params={"text": text, "limit": 200})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _finds(stack: Stack, text: str, incident_id: str) -> bool:
    return incident_id in await _found(stack, text)


async def _open_searchable(stack: Stack, tag: str) -> dict[str, Any]:
    return await stack.open(
        title=f"Harassment wave {tag}",
        description=f"Coordinated slurs from sockpuppets; moderators in Zaragoza{tag} escalated",
        category="hate_speech",
        channel="user_report",
        region="NA",
        content=[{"url": f"https://streams{tag}.example/canal/{tag}vod", "graphic": False}],
        reporter={"name": f"Reporter{tag}", "email": f"r{tag}@mail.example"},
    )


async def test_an_incident_is_found_by_a_word_of_its_description_a_later_note_its_url_and_an_account(
    stack: Stack,
) -> None:
    tag = _tag()
    incident = await _open_searchable(stack, tag)
    iid = incident["id"]
    await eventually(lambda: _finds(stack, f"zaragoza{tag}", iid))  # a word of the description
    assert await _finds(stack, f"ZARAGOZA{tag} sockpuppets", iid)  # every word, any case, any order

    note = await stack.act(
        iid, {"type": "add_note", "text": f"Reached the streamer; the mod team of Cádiz{tag} helps"}, "ana"
    )
    assert note.status_code == 200, note.text
    await eventually(lambda: _finds(stack, f"cadiz{tag}", iid))  # without its accent too
    assert await _finds(stack, f"cádiz{tag}", iid)

    assert await _finds(stack, f"streams{tag}", iid)  # the content URL's host
    assert await _finds(stack, f"{tag}vod", iid)  # a word of its path
    assert await _finds(stack, f"streams{tag}.example/canal", iid)  # as typed: its words

    assert (await stack.act(iid, {"type": "acknowledge"}, "ana")).status_code == 200
    proposed = await stack.act(
        iid,
        {"type": "propose_action", "action": "suspend_account", "rationale": "slurs", "target": f"@troll_{tag}99"},
        "ana",
    )
    assert proposed.status_code == 200, proposed.text
    await eventually(lambda: _finds(stack, f"troll {tag}99", iid))  # the account it targets
    assert await _finds(stack, f"{tag[:6]}", iid)  # the start of a word


async def test_an_incident_is_not_found_by_words_it_does_not_hold_nor_by_its_reporter(stack: Stack) -> None:
    tag = _tag()
    incident = await _open_searchable(stack, tag)
    iid = incident["id"]
    await eventually(lambda: _finds(stack, f"zaragoza{tag}", iid))
    assert not await _finds(stack, f"zaragoza{tag} quokka", iid)  # one word it does not hold
    assert await _found(stack, f"{_tag()}") == []
    assert not await _finds(stack, f"reporter{tag}", iid)  # need-to-know: the reporter is not searchable
    assert not await _finds(stack, f"r{tag}", iid)


ODD = [
    "",
    "   ",
    "!!!",
    '"',
    '""',
    "*",
    "a*",
    "NEAR(a b)",
    "-",
    "- -x",
    "AND OR NOT",
    "'; DROP TABLE incidents; --",
    "a:* & !b | (c",
    "^col:zz",
    "\\",
    "%_",
    "🙂",
    "x" * 200,
]


@pytest.mark.parametrize("text", ODD)
async def test_odd_search_text_is_an_answer_never_a_server_error(stack: Stack, text: str) -> None:
    response = await stack.get("/api/incidents", "ana", params={"text": text})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


@pytest.mark.parametrize("text", ["x" * 10_000, "a\x00b", "w " * 150])
async def test_search_text_too_long_or_with_nul_is_422(stack: Stack, text: str) -> None:
    response = await stack.get("/api/incidents", "ana", params={"text": text})
    assert response.status_code == 422, response.text


async def test_many_words_search_is_answered(stack: Stack) -> None:
    tag = _tag()
    incident = await _open_searchable(stack, tag)
    await eventually(lambda: _finds(stack, f"zaragoza{tag}", incident["id"]))
    many = " ".join([f"zaragoza{tag}"] + [f"w{n}" for n in range(40)])  # past the words a search uses
    response = await stack.get("/api/incidents", "ana", params={"text": many})
    assert response.status_code == 200, response.text
