"""An incident's journal (the `incident_events` projection) told in words, in English or Spanish.

A first, simple timeline: the audit work rebuilds it from Temporal's history itself.
"""

from typing import Any

from vigil.db.tables import IncidentEventRow
from vigil.i18n import label

# One phrase per action type; {fields} come from the recorded action.
_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "open": "opened the incident as {severity} ({triage})",
        "acknowledge": "acknowledged the incident",
        "assign": "assigned it to {assignee}",
        "add_note": "added a note: {text}",
        "set_severity": "changed severity to {severity}: {reason}",
        "escalate": "escalated to {team}: {reason}",
        "team_response": "recorded {team}'s answer: {text}",
        "propose_action": "proposed {action}: {rationale}",
        "approve": "approved {approval_id}",
        "reject": "rejected {approval_id}: {reason}",
        "resolve": "resolved it as {resolution}: {summary}",
        "reopen": "reopened it: {reason}",
        "merge_into": "merged it into {incident_id}",
        "clock_fired": "clock {clock_id} fired",
        "enforcement_completed": "enforcement of {proposal_id} {outcome} ({reference})",
        "malformed": "sent a malformed action",
        "refused": "refused: {reason}",
        "succeeded": "succeeded",
        "failed": "failed",
        "vigil": "Vigil",
    },
    "es": {
        "open": "abrió el incidente como {severity} ({triage})",
        "acknowledge": "tomó conocimiento del incidente",
        "assign": "lo asignó a {assignee}",
        "add_note": "añadió una nota: {text}",
        "set_severity": "cambió la gravedad a {severity}: {reason}",
        "escalate": "escaló a {team}: {reason}",
        "team_response": "registró la respuesta de {team}: {text}",
        "propose_action": "propuso {action}: {rationale}",
        "approve": "aprobó {approval_id}",
        "reject": "rechazó {approval_id}: {reason}",
        "resolve": "lo resolvió como {resolution}: {summary}",
        "reopen": "lo reabrió: {reason}",
        "merge_into": "lo fusionó con {incident_id}",
        "clock_fired": "venció el reloj {clock_id}",
        "enforcement_completed": "la ejecución de {proposal_id} {outcome} ({reference})",
        "malformed": "envió una acción mal formada",
        "refused": "rechazado: {reason}",
        "succeeded": "se completó",
        "failed": "falló",
        "vigil": "Vigil",
    },
}


_IMPERSONAL = {"clock_fired", "enforcement_completed"}
_VOCABULARY = {"team", "action", "resolution"}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _short(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(row: IncidentEventRow, language: str) -> str:
    phrases = _PHRASES.get(language, _PHRASES["en"])
    action: dict[str, Any] = row.action or {}
    fields = _Blank({k: _short(v) for k, v in action.items() if isinstance(v, str | int | float)})
    for key in _VOCABULARY & set(fields):  # teams, actions, resolutions in the reader's words
        fields[key] = label(action[key], language)
    if row.type == "open":
        fields["triage"] = "; ".join(action.get("triage_reasons") or [])
    if row.type == "enforcement_completed":
        fields["outcome"] = phrases["succeeded"] if action.get("succeeded") else phrases["failed"]
    what = phrases.get(row.type, row.type).format_map(fields)
    if row.type in _IMPERSONAL:  # things that happened, not things someone did
        text = what[:1].upper() + what[1:]
    else:
        text = f"{phrases['vigil'] if row.actor_role == 'system' else row.actor} {what}"
    if row.refused:
        text += " — " + phrases["refused"].format_map(_Blank(reason=row.reason or "?"))
    return text
