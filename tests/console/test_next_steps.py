"""The incident page's first screen: what is due, what meets it, only what the state machine would
take from this person now, refusals in words in both languages, and a banner said only once."""

import re

from tests.console.conftest import Console


def section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


async def test_clocks_by_urgency_each_with_what_meets_it(console: Console) -> None:
    incident = await console.open(category="child_safety", channel="user_report", region="NA", title="CSAM report")
    iid = incident["id"]
    ana = await console.signed_in("ana")
    page = (await ana.get(f"/incidents/{iid}")).text
    steps = section(page, 'class="next-steps"', "</section>")
    names = re.findall(r'<span class="clock-name">([^<]+)</span>', steps)
    assert names[0] == "acknowledge"  # 15 minutes, then resolve (4 h), then NCMEC (24 h)
    assert names.index("resolve") < names.index(
        "US CSAM report to NCMEC (18 U.S.C. 2258A): as soon as reasonably possible"
    )
    ncmec = steps[steps.index("US CSAM report to NCMEC") :]
    ncmec = ncmec[: ncmec.index("</li>")]
    assert "met once one of these is carried out: report to regulator" in ncmec
    assert "Propose an action (not possible while the incident is triage)" in ncmec  # acknowledge first
    assert '<form method="post" action="/incidents/' in steps and "Take it" in steps  # one click, in triage

    taken = await console.post_form(ana, f"/incidents/{iid}", f"/incidents/{iid}/actions", {"type": "acknowledge"})
    assert taken.status_code == 303
    page = (await ana.get(taken.headers["location"])).text
    assert "Acknowledged." in page and "Take it" not in section(page, 'class="next-steps"', "</section>")
    assert "Acknowledged." not in (await ana.get(taken.headers["location"])).text  # a reload says nothing
    assert '<a href="#form-propose_action" class="do">Propose an action</a>' in page  # what meets NCMEC, now
    # Resolve is offered, but not as "actioned": the state machine would refuse it, and says why.
    resolve = section(page, 'id="form-resolve"', "</details>")
    assert 'value="no_violation"' in resolve and 'value="actioned"' not in resolve
    assert "no enforcement action has completed" in resolve
    # No team was asked: recording an answer is withheld, with the reason.
    assert 'id="form-team_response"' not in page and "no team has been asked yet" in page


async def test_the_statement_of_reasons_says_where_it_is_required(console: Console) -> None:
    emea = await console.open(category="hate_speech", channel="trusted_flagger", region="EMEA", title="Slurs EU")
    acked = await console.act(emea["id"], {"type": "acknowledge"}, "ana")
    ana = await console.signed_in("ana")
    form = section(
        (await ana.get(f"/incidents/{emea['id']}?seen={acked['seq']}")).text, 'id="form-propose_action"', "</details>"
    )
    label = section(form, 'for="propose_action-statement_of_reasons"', "</label>")
    assert "required for remove content, geo-block, suspend account, terminate account" in label
    assert "optional" not in label
    latam = await console.open(title="Threat LATAM")
    acked = await console.act(latam["id"], {"type": "acknowledge"}, "ana")
    form = section(
        (await ana.get(f"/incidents/{latam['id']}?seen={acked['seq']}")).text, 'id="form-propose_action"', "</details>"
    )
    assert "(optional)" in section(form, 'for="propose_action-statement_of_reasons"', "</label>")


async def test_refusals_and_policy_texts_in_spanish(console: Console) -> None:
    incident = await console.open(category="child_safety", channel="user_report", region="NA", title="CSAM ES")
    iid = incident["id"]
    await console.act(iid, {"type": "acknowledge"}, "ana")
    ana = await console.signed_in("ana")
    ana.cookies.set("vigil_language", "es")
    page = (await ana.get(f"/incidents/{iid}")).text
    assert "la seguridad infantil es siempre SEV1" in page  # the policy's why_es
    assert "Denuncia de CSAM al NCMEC de EE. UU." in page  # the policy's name_es
    assert "48.000" in page  # Babel's number format
    again = await console.post_form(ana, f"/incidents/{iid}", f"/incidents/{iid}/actions", {"type": "acknowledge"})
    assert again.status_code == 409
    assert "No se hizo: no se puede confirmar un incidente con estado «en investigación»" in again.text
    auditor = await console.signed_in("audrey")
    auditor.cookies.set("vigil_language", "es")
    page = (await auditor.get(f"/incidents/{iid}")).text
    refused = await auditor.post(f"/incidents/{iid}/actions", data={"type": "acknowledge", "csrf": _csrf(page)})
    assert refused.status_code == 403 and "un auditor no puede confirmar" in refused.text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found
    return found.group(1)
