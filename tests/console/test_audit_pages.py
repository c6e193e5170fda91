"""The auditor's pages (/incidents/{id}/audit...): the audit API's own answers, as pages, with
the API's role rules, one count of events and runs, and reporters sealed as need-to-know says."""

import json
import re

import httpx

from tests.console.conftest import Console
from tests.helpers import eventually

REPORTER_EMAIL = "ciber@policia.example"  # intake_body's reporter
COUNT = re.compile(r'class="counts" data-events="(\d+)" data-runs="(\d+)"')
ONE_FORMAT = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} UTC$")  # vigil.i18n.when, in English


async def _with(client: httpx.AsyncClient, path: str, text: str) -> str | None:
    page = (await client.get(path)).text
    return page if text in page else None


async def test_the_timeline_shows_every_event_refusals_too_with_one_count(console: Console) -> None:
    incident = await console.open(title="Audit timeline")
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    again = await console.api.post(
        f"/api/incidents/{iid}/actions", json={"type": "acknowledge"}, headers=console.auth("ana")
    )
    assert again.status_code == 409  # refused: and recorded, so the auditor sees it
    audrey = await console.signed_in("audrey")
    page = await eventually(lambda: _with(audrey, f"/incidents/{iid}/audit", "refused"))
    events, runs = map(int, COUNT.findall(page)[0])
    api = (await console.api.get(f"/api/incidents/{iid}/timeline", headers=console.auth("audrey"))).json()
    assert 0 < events <= api["counts"]["events"] and runs == api["counts"]["runs"] == 1  # the history only grows
    times = re.findall(r'<time class="ts" datetime="[^"]+">([^<]+)</time>', page)
    assert times and all(ONE_FORMAT.match(t) for t in times), times[:5]
    assert " AM " not in page and " PM " not in page
    assert f'href="/incidents/{iid}/audit/state?after_event=' in page  # each event opens the state after it
    assert 'href="/audit"' in page  # the auditor's navigation
    assert REPORTER_EMAIL not in page  # the words never name the reporter

    incident_page = (await audrey.get(f"/incidents/{iid}")).text
    assert f'href="/incidents/{iid}/audit"' in incident_page
    ana = await console.signed_in("ana")
    assert 'href="/audit"' not in (await ana.get("/")).text  # not an auditor: no navigation link
    assert (await ana.get(f"/incidents/{iid}/audit")).status_code == 200  # the API lets every reader read timelines

    spanish = " ".join((await audrey.get(f"/incidents/{iid}/audit", headers={"Accept-Language": "es"})).text.split())
    assert "rechazada</span>" in spanish and "eventos en 1 ejecución" in spanish and "Auditoría de" in spanish


async def test_the_state_after_an_event_and_bad_event_numbers(console: Console) -> None:
    incident = await console.open(title="Audit state")
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    audrey, ana = await console.signed_in("audrey"), await console.signed_in("ana")
    last = await eventually(lambda: _with(audrey, f"/incidents/{iid}/audit/state", "acknowledged"))
    assert "matches every state the workflow recorded" in last
    assert REPORTER_EMAIL in last  # an auditor reads who reported it (need_to_know)
    assert REPORTER_EMAIL not in (await ana.get(f"/incidents/{iid}/audit/state")).text  # an analyst does not
    adam = await console.signed_in("adam")
    assert REPORTER_EMAIL not in (await adam.get(f"/incidents/{iid}/audit/state")).text  # nor an admin
    first = await audrey.get(f"/incidents/{iid}/audit/state", params={"after_event": "1"})
    assert first.status_code == 200 and "The incident was not open yet after this event." in first.text
    for bad in ("0", "-3", "abc", "1.5", "99999", "\u00b2"):  # "²" is a digit to str.isdigit, not to int()
        refused = await audrey.get(f"/incidents/{iid}/audit/state", params={"after_event": bad})
        assert refused.status_code == 422, (bad, refused.status_code)
        assert "event number" in refused.text
    assert (await audrey.get("/incidents/INC-2026-999999/audit/state")).status_code == 404
    assert (await audrey.get("/incidents/not-an-id/audit")).status_code == 404


async def test_replay_seal_and_export_are_for_auditors_and_admins(console: Console) -> None:
    incident = await console.open(title="Audit replay")
    iid = incident["id"]
    ana, leo, audrey, adam = [await console.signed_in(p) for p in ("ana", "leo", "audrey", "adam")]
    for person in (ana, leo):
        for view in ("replay", "seal", "export"):
            refused = await person.get(f"/incidents/{iid}/audit/{view}")
            assert refused.status_code == 403 and "may not" in refused.text
    assert (await leo.get(f"/incidents/{iid}/audit")).status_code == 200  # a lead reads the timeline
    replayed = await audrey.get(f"/incidents/{iid}/audit/replay")
    assert replayed.status_code == 200 and "Replays against today's code" in replayed.text
    assert COUNT.search(replayed.text)
    assert (await adam.get(f"/incidents/{iid}/audit/replay")).status_code == 200
    still_open = await audrey.get(f"/incidents/{iid}/audit/seal")
    assert still_open.status_code == 409 and "sealed when the incident closes" in still_open.text
    assert (await audrey.get("/incidents/INC-2026-999999/audit/replay")).status_code == 404
    assert (await audrey.get("/incidents/INC-2026-999999/audit/export")).status_code == 404

    exported = await audrey.get(f"/incidents/{iid}/audit/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/json"
    assert f'filename="{iid}-history.json"' in exported.headers["content-disposition"]
    document = json.loads(exported.text)
    assert document["format"] == "vigil-history-v1" and document["incident_id"] == iid
    assert REPORTER_EMAIL not in exported.text  # payloads stay encrypted


async def test_an_ended_incident_is_sealed_and_verified(console: Console) -> None:
    kept = await console.open(title="Audit kept")
    duplicate = await console.open(title="Audit duplicate")
    dup = duplicate["id"]
    await console.act(dup, {"type": "merge_into", "incident_id": kept["id"]}, "ana")
    audrey = await console.signed_in("audrey")
    sealed = await eventually(lambda: _with(audrey, f"/incidents/{dup}/audit/seal", "Intact"), timeout=30)
    assert "Temporal's copy of the digest" in sealed and COUNT.search(sealed)
    timeline = (await audrey.get(f"/incidents/{dup}/audit")).text
    assert "Sealed at close" in timeline
    start = await audrey.get("/audit")
    assert start.status_code == 200 and f'href="/incidents/{dup}/audit"' in start.text
    opened = await audrey.get("/audit", params={"incident": dup.lower()})
    assert opened.status_code == 303 and opened.headers["location"] == f"/incidents/{dup}/audit"
    assert (await audrey.get("/audit", params={"incident": "nonsense"})).status_code == 422
