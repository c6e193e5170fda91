"""The queue's saved views (per person) and bulk actions (assign, merge: confirmed, then each one
through the API's action handler, signed as the person; the result said per incident)."""

import html
import re
import uuid
from typing import Any

import httpx

from tests.console.conftest import Console, hidden_value
from tests.helpers import eventually


def _views(page: str) -> dict[str, str]:
    """The saved views above the queue: name -> link."""
    nav = re.search(r'<nav class="saved-views".*?</nav>', page, flags=re.S)
    found = re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(0)) if nav else []
    return {html.unescape(name): html.unescape(link) for link, name in found}


async def test_a_person_saves_the_queue_filters_as_a_view_and_deletes_it(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    ana = await console.signed_in("ana")
    name = f"LATAM SEV1 {tag}"
    query = f"severity=SEV1&region=LATAM&region=EMEA&text={tag}&sort=severity&region=MARS"
    saved = await console.post_form(ana, f"/?{query}", "/views", {"name": name, "query": query})
    assert saved.status_code == 303, saved.text
    location = saved.headers["location"]
    assert "severity=SEV1" in location and "region=LATAM" in location and "region=EMEA" in location
    assert "MARS" not in location  # a value the queue ignores is not kept

    queue = await ana.get(location)
    assert "View saved" in queue.text
    link = _views(queue.text)[name]
    assert link == location
    assert name not in _views((await (await console.signed_in("bea")).get("/")).text)  # theirs alone

    again = await console.post_form(ana, "/", "/views", {"name": name.upper(), "query": ""})
    assert again.status_code == 409 and "already have a view of that name" in again.text
    blank = await console.post_form(ana, "/", "/views", {"name": "  ", "query": ""})
    assert blank.status_code == 422 and "1 to 80 characters" in blank.text
    pasted = await console.post_form(ana, "/", "/views", {"name": f"pasted {name}", "query": "text=mirror%01%00"})
    assert pasted.status_code == 303 and "text=mirror" in pasted.headers["location"]  # control characters dropped
    assert (await console.post_form(ana, "/", "/views/\u00b2/delete", {})).status_code == 404

    delete_ids = re.findall(r'action="/views/(\d+)/delete"', queue.text)
    assert delete_ids, queue.text
    view_id = delete_ids[list(_views(queue.text)).index(name)]
    bea = await console.signed_in("bea")
    assert (await console.post_form(bea, "/", f"/views/{view_id}/delete", {})).status_code == 404  # not theirs
    deleted = await console.post_form(ana, "/", f"/views/{view_id}/delete", {})
    assert deleted.status_code == 303
    assert name not in _views((await ana.get("/")).text)


async def test_saved_views_speak_spanish(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    ana = await console.signed_in("ana")
    ana.cookies.set("vigil_language", "es")
    await console.post_form(ana, "/", "/views", {"name": f"Mía {tag}", "query": ""})
    queue = (await ana.get("/")).text
    assert "Tus vistas:" in queue and f"Mía {tag}" in queue
    again = await console.post_form(ana, "/", "/views", {"name": f"mía {tag}", "query": ""})
    assert again.status_code == 409 and "ya tienes una vista con ese nombre" in again.text


async def _confirm(client: httpx.AsyncClient, kind: str, ids: list[str], **values: str) -> httpx.Response:
    params: list[tuple[str, str]] = [("bulk", kind), *(("id", i) for i in ids), *values.items()]
    return await client.get("/bulk", params=params)


async def _bulk(console: Console, client: httpx.AsyncClient, kind: str, ids: list[str], **values: str) -> str:
    """Confirm, then send: the result page."""
    confirmation = await _confirm(client, kind, ids, **values)
    assert confirmation.status_code == 200, confirmation.text
    for incident_id in ids:
        assert f'data-incident="{incident_id}"' in confirmation.text  # each listed before anything is done
    data = {"csrf": hidden_value(confirmation.text, "csrf"), "key": hidden_value(confirmation.text, "key")}
    done = await client.post("/bulk", data={**data, "bulk": kind, "id": ids, **values})
    assert done.status_code == 200, done.text
    return done.text


def _result(page: str, incident_id: str) -> str:
    row = re.search(rf'<tr data-incident="{incident_id}" class="(bulk-\w+)">(.*?)</tr>', page, flags=re.S)
    assert row, f"{incident_id} not in the result page"
    return row.group(1) + " " + re.sub(r"<[^>]+>", "", row.group(2))


async def _open_three(console: Console, tag: str) -> list[dict[str, Any]]:
    return [
        await console.open(category="hate_speech", channel="user_report", region="NA", title=f"Raid {tag} {n}")
        for n in range(3)
    ]


async def test_a_lead_bulk_assigns_three_incidents_to_an_analyst(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [i["id"] for i in await _open_three(console, tag)]
    for iid in ids:
        await console.state(iid)  # projected: the queue lists it
    leo = await console.signed_in("leo")
    confirmation = await _confirm(leo, "assign", ids, assignee="bea")
    assert "Assign 3 incidents to bea" in confirmation.text
    assert [(await console.state(i))["assignee"] for i in ids] == [None, None, None]  # confirming did nothing

    page = await _bulk(console, leo, "assign", ids, assignee="bea")
    assert "3 of 3 done" in page
    for iid in ids:
        assert _result(page, iid).startswith("bulk-done") and "Assigned" in _result(page, iid)

    async def all_assigned() -> bool:
        listed = await console.api.get(
            "/api/incidents", params={"text": tag, "assignee": "bea"}, headers=console.auth("audrey")
        )
        return sorted(i["id"] for i in listed.json()["items"]) == sorted(ids)

    await eventually(all_assigned)
    timeline = await console.api.get(f"/api/incidents/{ids[0]}/timeline", headers=console.auth("audrey"))
    assigned = [e for e in timeline.json()["entries"] if e.get("type") == "assign"]
    assert assigned and assigned[-1]["actor"] == "leo"  # signed as the person, as one assign is


async def test_a_bulk_action_carries_on_past_a_refusal_and_says_it(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    first, second, third = await _open_three(console, tag)
    await console.act(second["id"], {"type": "merge_into", "incident_id": third["id"]}, "ana")  # takes nothing more
    ids = [first["id"], second["id"], third["id"]]
    bea = await console.signed_in("bea")
    page = await _bulk(console, bea, "assign", ids, assignee="ana")
    assert "2 of 3 done" in page
    assert _result(page, first["id"]).startswith("bulk-done")
    assert _result(page, third["id"]).startswith("bulk-done")
    refused = _result(page, second["id"])
    assert refused.startswith("bulk-refused") and "merged into" in refused, refused
    assert (await console.state(first["id"]))["assignee"] == "ana"
    assert (await console.state(second["id"]))["assignee"] is None


async def test_two_incidents_are_merged_into_a_third(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    first, second, target = await _open_three(console, tag)
    ana = await console.signed_in("ana")
    confirmation = await _confirm(ana, "merge_into", [first["id"], second["id"]], incident_id=target["id"])
    assert f"Merge 2 incidents into {target['id']}" in confirmation.text
    page = await _bulk(console, ana, "merge_into", [first["id"], second["id"]], incident_id=target["id"])
    assert "2 of 2 done" in page
    for source in (first, second):
        state = await console.state(source["id"])
        assert state["status"] == "merged" and state["merged_into"] == target["id"]
    assert (await console.state(target["id"]))["status"] == "triage"


async def test_sending_the_same_confirmation_twice_applies_each_action_once(console: Console) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [i["id"] for i in await _open_three(console, tag)][:2]
    leo = await console.signed_in("leo")
    confirmation = await _confirm(leo, "assign", ids, assignee="ana")
    data = {"csrf": hidden_value(confirmation.text, "csrf"), "key": hidden_value(confirmation.text, "key")}
    data |= {"bulk": "assign", "assignee": "ana", "id": ids}
    first = await leo.post("/bulk", data=data)
    again = await leo.post("/bulk", data=data)
    assert "2 of 2 done" in first.text and "2 of 2 done" in again.text  # the same answers, not "already assigned"
    timeline = await console.api.get(f"/api/incidents/{ids[0]}/timeline", headers=console.auth("audrey"))
    assert len([e for e in timeline.json()["entries"] if e.get("type") == "assign"]) == 1


async def test_bulk_actions_are_refused_to_readers_and_need_a_choice(console: Console) -> None:
    incident = await console.open(category="spam_scam", channel="user_report", region="NA", title="Bulk reader")
    audrey = await console.signed_in("audrey")
    refused = await _confirm(audrey, "assign", [incident["id"]], assignee="bea")
    assert refused.status_code == 403 and "may not assign" in refused.text
    ana = await console.signed_in("ana")
    assert (await _confirm(ana, "assign", [])).status_code == 422
    assert (await _confirm(ana, "assign", [incident["id"]])).status_code == 422  # whom to?
    assert (await _confirm(ana, "merge_into", [incident["id"]], incident_id="nonsense")).status_code == 422
    assert (await _confirm(ana, "delete", [incident["id"]])).status_code == 422
    queue = (await audrey.get("/")).text
    assert 'id="bulk"' not in queue and 'form="bulk"' not in queue  # no checkboxes for those who do not act
