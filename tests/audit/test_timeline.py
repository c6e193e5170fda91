"""GET /api/incidents/{id}/timeline: the history in words, in English and Spanish."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import delete
from sqlalchemy.orm import Session

import vigil
from tests.audit.conftest import World
from vigil.db.tables import HistorySealRow, IncidentEventRow

VIGIL = Path(vigil.__file__).parent


async def _timeline(world: World, scenario: str, language: str | None = None, user: str = "audrey") -> dict:
    headers = {"Accept-Language": language} if language else {}
    response = await world.get(f"/api/incidents/{world.one(scenario)}/timeline", user, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _texts(timeline: dict) -> list[str]:
    return [entry["text"] for entry in timeline["entries"]]


def _one(texts: list[str], pattern: str) -> str:
    found = [t for t in texts if re.search(pattern, t)]
    assert len(found) == 1, (pattern, texts)
    return found[0]


async def test_who_did_what_in_which_role_and_the_approvers(world: World) -> None:
    timeline = await _timeline(world, "approved-by-two-leads")
    texts = _texts(timeline)
    approval = f"{world.one('approved-by-two-leads')}-A1"
    assert texts[0].startswith("Vigil opened the incident as SEV1: violent extremism reported by an authority")
    assert "(policy audit-scenarios-1)" in texts[0] and "acknowledge by" in texts[0]
    assert "ana (analyst) acknowledged the incident." in texts
    assert "bea (analyst) escalated to Legal: Police request the account data" in _one(texts, "escalated")
    assert _one(texts, "proposed").endswith("Needs the approval of 2 leads.")
    assert f"lea (lead) approved {approval} (1 of 2)." in texts
    assert f"leo (lead) approved {approval} (2 of 2). Approved by lea, leo: enforcement may run." in texts
    assert f"Asked the leads to decide on {approval}." in texts
    assert f"Enforcement of terminate account ({approval}) succeeded: reference ENF-{approval}." in texts
    assert _one(texts, "resolved it").startswith("bea (analyst) resolved it as actioned")
    assert "The reopen window ended: the incident is closed." in texts
    by_actor = {(e["actor"], e["role"]) for e in timeline["entries"] if e["kind"] == "action"}
    assert by_actor == {("ana", "analyst"), ("bea", "analyst"), ("lea", "lead"), ("leo", "lead")}


async def test_the_same_timeline_in_spanish(world: World) -> None:
    timeline = await _timeline(world, "approved-by-two-leads", language="es-MX,es;q=0.9,en;q=0.5")
    texts = _texts(timeline)
    approval = f"{world.one('approved-by-two-leads')}-A1"
    assert timeline["language"] == "es"
    assert texts[0].startswith("Vigil abrió el incidente como SEV1") and "(política audit-scenarios-1)" in texts[0]
    assert "ana (analista) confirmó la recepción del incidente." in texts
    assert f"leo (responsable) aprobó {approval} (2 de 2). Aprobada por lea, leo: puede ejecutarse." in texts
    assert f"La ejecución de cancelar cuenta ({approval}) se completó: referencia ENF-{approval}." in texts
    assert "Terminó el plazo de reapertura: el incidente queda cerrado." in texts
    assert _one(texts, "Historial sellado: SHA-256 [0-9a-f]{64} sobre \\d+ eventos")


async def test_a_spanish_reader_gets_spanish_without_asking(world: World) -> None:
    timeline = await _timeline(world, "rejected", user="aurora")
    assert timeline["language"] == "es"
    assert _one(_texts(timeline), "rechazó .*: Only two strikes: suspend instead.").startswith("leo (responsable)")


async def test_timers_fired_and_sla_breaches_with_how_late(world: World) -> None:
    texts = _texts(await _timeline(world, "sla-breached"))
    assert "Timer fired after 2 seconds for the acknowledge clock." in texts
    breach = _one(texts, "acknowledge SLA was breached")
    assert breach == (
        "The acknowledge SLA was breached: not met within 2 seconds; notice to the region's on-call lead queued."
    )
    assert re.search(
        r"^bea \(analyst\) acknowledged the incident\. The acknowledge clock was met \d+ seconds? late\.$",
        _one(texts, "acknowledged"),
    )
    assert _one(texts, "first response SLA was breached")
    assert re.search(r"The first response clock was met \d+ seconds? late\.$", _one(texts, "answer of Product"))

    spanish = _texts(await _timeline(world, "sla-breached", language="es"))
    assert "Venció el temporizador del reloj de confirmación tras 2 segundos." in spanish
    assert (
        "Se incumplió el SLA de confirmación: no se cumplió en 2 segundos; aviso para la persona responsable "
        "de guardia de la región en cola."
    ) in spanish


async def test_a_missed_legal_deadline_says_which_law(world: World) -> None:
    texts = _texts(await _timeline(world, "legal-deadline-missed"))
    missed = _one(texts, "^Legal deadline missed")
    assert "EU terrorist content removal order (Regulation 2021/784 art. 3)" in missed
    assert missed.endswith("not met within 3 seconds; notice to the region's on-call lead queued.")
    assert re.search(r"EU terrorist content .* clock was met \d+ seconds? late\.$", _one(texts, "^Enforcement"))
    spanish = _texts(await _timeline(world, "legal-deadline-missed", language="es"))
    assert _one(spanish, "^Plazo legal incumplido \\(EU terrorist content")


async def test_refused_signals_and_why(world: World) -> None:
    timeline = await _timeline(world, "signals-refused")
    refused = [e for e in timeline["entries"] if e["refused"]]
    assert [(e["actor"], e["type"], e["via"]) for e in refused] == [
        ("ana", "escalate", "signal"),
        ("ana", "malformed", "signal"),
        ("audrey", "acknowledge", "signal"),
        ("lea", "approve", "signal"),
    ]
    texts = [e["text"] for e in refused]
    assert texts[0] == "ana (analyst) sent an action (escalation); refused: cannot escalate an incident that is triage."
    assert texts[1].startswith("ana (analyst) sent a malformed action; refused:") and "the_moon" in texts[1]
    assert texts[2] == "audrey (auditor) sent an action (acknowledgement); refused: an auditor may not acknowledge."
    assert "four-eyes" in texts[3]
    applied = [e["text"] for e in timeline["entries"] if e["kind"] == "action"]
    assert "ana (analyst) acknowledged the incident." in applied and any("rejected" in t for t in applied)


async def test_approval_requests_that_waited_ask_the_next_tier(world: World) -> None:
    texts = _texts(await _timeline(world, "approval-asks-next-tier"))
    approval = f"{world.one('approval-asks-next-tier')}-A1"
    assert f"Nobody decided on {approval} within 3 seconds: asked the region's on-call lead (request 2)." in texts
    assert _one(texts, "Approval request .* closed").startswith(f"Approval request {approval} closed: approved, after")


async def test_enforcement_refused_by_the_platform(world: World) -> None:
    texts = _texts(await _timeline(world, "enforcement-refused"))
    failed = _one(texts, "^Enforcement of suspend account")
    assert "failed" in failed and "no longer exists" in failed
    assert _one(texts, "proposed suspend account").endswith("No approval needed by policy.")


async def test_severity_change_expires_the_pending_approval(world: World) -> None:
    texts = _texts(await _timeline(world, "severity-raised"))
    incident = world.one("severity-raised")
    assert (
        f"lea (lead) changed the severity from SEV3 to SEV2: A minor is the target. Approval {incident}-A1 expired."
    ) in texts


async def test_a_lowered_severity_says_whose_approval_a_proposal_still_needs(world: World) -> None:
    incident = world.one("severity-lowered")
    texts = _texts(await _timeline(world, "severity-lowered"))
    proposed = _one(texts, r"proposed suspend account")
    assert proposed.endswith(
        "Needs the approval of 2 leads. Approval as at SEV1, the most severe level it has held."
    ), proposed
    assert _one(texts, rf"approved {incident}-A1 \(1 of 2\)").startswith("lea (lead)")
    spanish = _texts(await _timeline(world, "severity-lowered", "es"))
    assert any("Aprobación como en SEV1, la severidad más alta que ha tenido" in t for t in spanish)


async def test_continue_as_new_and_the_seal_are_on_the_timeline(world: World) -> None:
    incident = world.one("continued-as-new")
    timeline = await _timeline(world, "continued-as-new")
    assert timeline["runs"] >= 2
    continued = [e for e in timeline["entries"] if e["kind"] == "continued"]
    assert len(continued) == timeline["runs"] - 1
    assert re.match(
        r"History continued in a new run after \d+ events; the state after entry \d+ was carried over\.",
        continued[0]["text"],
    )
    assert {e["run"] for e in timeline["entries"] if e["kind"] == "action"} >= {1, 2}
    with Session(world.engine) as session:
        seal = session.get(HistorySealRow, incident)
    assert timeline["sealed"] == {"digest": seal.digest, "events": seal.events}
    assert timeline["entries"][-1]["text"] == f"History sealed: SHA-256 {seal.digest} over {seal.events} events."


async def test_an_action_that_arrived_before_triage_applies_after_it(world: World) -> None:
    entries = (await _timeline(world, "signal-before-triage"))["entries"]
    assert [e["type"] for e in entries] == ["open", "acknowledge"]
    opened, acknowledged = entries
    assert acknowledged["via"] == "signal" and acknowledged["event"] < opened["event"]  # sent first, applied second


async def test_the_timeline_comes_from_the_history_not_the_projection(world: World) -> None:
    incident = world.one("merged")
    before = await _timeline(world, "merged")
    with Session(world.engine) as session, session.begin():
        session.execute(delete(IncidentEventRow).where(IncidentEventRow.incident_id == incident))
    after = await _timeline(world, "merged")
    assert after == before
    assert any(
        t.endswith("was merged into this incident.") and t.startswith("Vigil added a note") for t in _texts(after)
    )


@pytest.mark.parametrize("user", ["ana", "leo", "audrey", "adam"])
async def test_everyone_reads_timelines(world: World, user: str) -> None:
    response = await world.get(f"/api/incidents/{world.one('reopened')}/timeline", user)
    assert response.status_code == 200


async def test_unknown_incident_has_no_timeline(world: World) -> None:
    response = await world.get("/api/incidents/INC-1999-999999/timeline", "audrey")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_every_timeline_sentence_has_a_spanish_translation() -> None:
    """A new sentence in vigil/audit without its Spanish fails here, not in front of a reader."""
    with (VIGIL / "locales" / "es" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="es")
    found, untranslated = 0, []
    for filename, _line, message, _comments, context in extract_from_dir(str(VIGIL), [("audit/**.py", "python")]):
        found += 1
        entry = catalog.get(message, context=context)
        if entry is None or not entry.string:
            untranslated.append(f"{filename}: {message}")
    assert found > 50
    assert untranslated == []
