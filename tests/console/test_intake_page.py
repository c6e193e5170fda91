"""Intake from the console (/intake): the API's own handler behind a form, its refusals on the form."""

import html
import uuid

from tests.console.conftest import Console


async def test_an_analyst_takes_in_an_incident_from_the_console(console: Console) -> None:
    ana = await console.signed_in("ana")
    assert 'href="/intake"' in (await ana.get("/")).text  # in the navigation of those who act
    ref = f"CONSOLE-INTAKE-{uuid.uuid4().hex[:8]}"
    form = {
        "title": "Harassment of a streamer in chat",
        "description": "Repeated slurs in a live chat.",
        "channel": "user_report",
        "category": "hate_speech",
        "region": "EMEA",
        "language": "en",
        "reach": "1200",
        "content": "https://chat.example/c/1\nhttps://chat.example/c/2",
        "reporter_name": "A viewer",
        "reporter_email": "viewer@example.org",
        "external_ref": ref,
    }
    taken = await console.post_form(ana, "/intake", "/intake", form)
    assert taken.status_code == 303, taken.text
    location = taken.headers["location"]
    assert location.startswith("/incidents/INC-")
    incident_id = location.split("/")[2].split("?")[0]
    shown = (await ana.get(location)).text
    assert "Taken in: the policy triaged it and its clocks are running." in shown
    assert (await ana.get(location)).text.count("Taken in: the policy") == 0  # said once
    state = await console.state(incident_id)
    assert state["intake"]["external_ref"] == ref and state["severity"] == "SEV3"
    assert [c["url"] for c in state["intake"]["content"]] == ["https://chat.example/c/1", "https://chat.example/c/2"]
    assert state["intake"]["reporter"] == {"name": "A viewer", "email": "viewer@example.org"}  # audrey reads it

    # The same reference with another category: the API's 409, on the form, nothing opened.
    again = await console.post_form(ana, "/intake", "/intake", {**form, "category": "spam_scam"})
    assert again.status_code == 409 and "Not taken in:" in again.text and incident_id in again.text


async def test_bad_intake_is_refused_on_the_form_and_readers_cannot_take_in(console: Console) -> None:
    ana = await console.signed_in("ana")
    bad = {"title": "A link that is not a web link", "channel": "user_report", "category": "spam_scam"}
    bad |= {"region": "NA", "content": "javascript:alert(1)"}
    refused = await console.post_form(ana, "/intake", "/intake", bad)
    assert refused.status_code == 422 and "Not taken in:" in refused.text
    assert html.escape("A link that is not a web link") in refused.text  # what was typed is kept
    missing = await console.post_form(ana, "/intake", "/intake", {"title": "No category"})
    assert missing.status_code == 422 and "channel" in missing.text

    audrey = await console.signed_in("audrey")
    page = (await audrey.get("/intake")).text
    assert "your role reads them" in page and 'action="/intake"' not in page
    forbidden = await console.post_form(audrey, "/intake", "/intake", {**bad, "content": ""})
    assert forbidden.status_code == 403 and "may not take in incidents" in forbidden.text
