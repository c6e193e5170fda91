"""Action forms: they go through the API's own checks, the state machine answers, nothing else decides."""

import re

from tests.console.conftest import Console, hidden_value


def action_forms(html: str) -> set[str]:
    """The action types the page offers (forms posting to the incident's actions)."""
    return set(re.findall(r'<input type="hidden" name="type" value="([a-z_]+)">', html))


async def test_acknowledging_from_the_page_applies_the_action_as_the_signed_in_person(console: Console) -> None:
    incident = await console.open()
    browser = await console.signed_in("bea")
    page = f"/incidents/{incident['id']}"
    response = await console.post_form(browser, page, f"{page}/actions", {"type": "acknowledge"})
    assert response.status_code == 303
    assert re.fullmatch(rf"{page}\?seen=\d+", response.headers["location"])
    state = await console.state(incident["id"])
    assert (state["status"], state["acknowledged_by"], state["assignee"]) == ("investigating", "bea", "bea")
    assert "Acknowledged." in (await browser.get(response.headers["location"])).text
    # Post/redirect/get: what was done is said once; reloading the page does not say it again.
    assert "Acknowledged." not in (await browser.get(response.headers["location"])).text


async def test_a_form_posted_without_the_csrf_token_changes_nothing(console: Console) -> None:
    incident = await console.open()
    browser = await console.signed_in("ana")
    response = await browser.post(f"/incidents/{incident['id']}/actions", data={"type": "acknowledge"})
    assert response.status_code == 403
    forged = await browser.post(f"/incidents/{incident['id']}/actions", data={"type": "acknowledge", "csrf": "x" * 32})
    assert forged.status_code == 403
    assert (await console.state(incident["id"]))["status"] == "triage"


async def test_a_refusal_shows_the_state_machines_own_reason(console: Console) -> None:
    incident = await console.open()
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "leo")
    await console.act(iid, {"type": "propose_action", "action": "terminate_account", "rationale": "Threat."}, "leo")
    approval_id = (await console.state(iid))["proposals"][0]["id"]
    browser = await console.signed_in("leo")
    response = await console.post_form(
        browser,
        f"/incidents/{iid}",
        f"/incidents/{iid}/actions",
        {"type": "approve", "approval_id": approval_id, "comment": "mine"},
    )
    assert response.status_code == 403
    assert "four-eyes: you proposed this action, another lead must decide" in response.text
    assert (await console.state(iid))["proposals"][0]["votes"] == []

    again = await console.post_form(browser, f"/incidents/{iid}", f"/incidents/{iid}/actions", {"type": "acknowledge"})
    assert again.status_code == 409
    assert "cannot acknowledge an incident that is pending approval" in again.text  # in words, not its id


async def test_auditors_and_admins_see_no_action_forms_and_cannot_act(console: Console) -> None:
    incident = await console.open()
    for reader, role in (("audrey", "auditor"), ("adam", "admin")):
        browser = await console.signed_in(reader)
        page = await browser.get(f"/incidents/{incident['id']}")
        assert page.status_code == 200
        assert action_forms(page.text) == set()
        assert "reads incidents but takes no actions" in page.text
        response = await browser.post(
            f"/incidents/{incident['id']}/actions",
            data={"type": "acknowledge", "csrf": hidden_value(page.text, "csrf")},
        )
        assert response.status_code == 403
        assert f"an {role} may not acknowledge" in response.text
    assert (await console.state(incident["id"]))["status"] == "triage"


async def test_the_forms_offered_follow_the_role_and_the_status(console: Console) -> None:
    incident = await console.open()
    iid = incident["id"]
    analyst, lead = await console.signed_in("ana"), await console.signed_in("lucia")

    in_triage = {"acknowledge", "assign", "add_note", "merge_into", "post_update"}
    assert action_forms((await analyst.get(f"/incidents/{iid}")).text) == in_triage
    assert action_forms((await lead.get(f"/incidents/{iid}")).text) == in_triage | {"set_severity"}

    await console.act(iid, {"type": "acknowledge"}, "ana")
    proposed = await console.act(
        iid, {"type": "propose_action", "action": "terminate_account", "rationale": "Threat."}, "ana"
    )
    page = f"/incidents/{iid}?seen={proposed['seq']}"  # another person's action: the page once it shows
    # What the state machine would refuse is not offered, and the page says why: no team was asked.
    pending = {"assign", "add_note", "escalate", "resolve", "post_update"}
    analyst_page = (await analyst.get(page)).text
    assert action_forms(analyst_page) == pending
    assert "no team has been asked yet: escalate to one first" in analyst_page
    assert action_forms((await lead.get(page)).text) == pending | {"set_severity", "approve", "reject"}


async def test_a_form_the_models_refuse_keeps_what_was_typed(console: Console) -> None:
    incident = await console.open()
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    browser = await console.signed_in("ana")
    rationale = "Credible threat against a named school <and> its pupils"
    response = await console.post_form(
        browser,
        f"/incidents/{iid}",
        f"/incidents/{iid}/actions",
        {"type": "propose_action", "action": "", "rationale": rationale},
    )
    assert response.status_code == 422
    assert "Action: please fill this in" in response.text
    assert "Credible threat against a named school &lt;and&gt; its pupils</textarea>" in response.text
    assert '<details class="action-form" id="form-propose_action" open>' in response.text
    assert (await console.state(iid))["proposals"] == []
