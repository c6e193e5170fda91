"""Who may do what: the role sets every part of Vigil checks, and how a refusal says so.

One home for the rule, read by the API's route checks, the console, the timeline and the state
machine (which adds, per action, the statuses it is legal in: `lifecycle.RULES`). Pure: the
workflow sandbox imports it.

    analyst   takes intake, acts on incidents (never set_severity, approve, reject)
    lead      all an analyst does, plus set_severity, approve and reject (never their own proposal)
    auditor   reads everything, raw histories and replays included; acts on nothing
    admin     manages people and tokens, reads everything; acts on nothing
              (reviews: analysts and leads write them; the owner or a lead completes one)
    system    Vigil itself (timers, triage, enforcement results); never held by a token
"""

from vigil.domain import Role

READERS = frozenset({Role.ANALYST, Role.LEAD, Role.AUDITOR, Role.ADMIN})  # incidents, lists, trends
RESPONDERS = frozenset({Role.ANALYST, Role.LEAD})  # take intake and act on incidents
LEADS = frozenset({Role.LEAD})  # change severity, approve and reject
AUDITORS = frozenset({Role.AUDITOR, Role.ADMIN})  # raw histories, seals, replay, the payload codec
ADMINS = frozenset({Role.ADMIN})  # manage people and tokens
# Reset an incident whose history no longer replays (vigil.audit.repair): an operation on Temporal,
# not an action on the incident, so the ones who run the system do it, and auditors read it.
REPAIRERS = frozenset({Role.ADMIN})
SYSTEM = frozenset({Role.SYSTEM})
REVIEWERS = RESPONDERS  # write post-incident reviews and their follow-ups (the owner or a lead completes)

# Who reported an incident, and how to reach them, is shown to leads and auditors only.
# Reporters are often victims, minors, whistleblowers or a named officer; analysts act on the
# content and do not need the identity. Limiting it to the few who must contact the reporter
# (leads: law-enforcement and regulator liaison) or check due process (auditors) protects
# reporters from retaliation and from insider risk. Admins manage accounts, not cases.
REPORTER_READERS = frozenset({Role.LEAD, Role.AUDITOR})


# Evidence (vigil.evidence). Anyone who reads incidents sees an item's metadata; its bytes go to
# those who work or check the case (responders, auditors), never to admins, who manage accounts,
# not cases. Leads place and lift legal holds and delete items (never one under preservation);
# the chain of custody is read by leads and auditors.
EVIDENCE_UPLOADERS = RESPONDERS
EVIDENCE_METADATA_READERS = READERS
EVIDENCE_CONTENT_READERS = frozenset({Role.ANALYST, Role.LEAD, Role.AUDITOR})
EVIDENCE_HOLDERS = LEADS
EVIDENCE_DELETERS = LEADS
CUSTODY_READERS = frozenset({Role.LEAD, Role.AUDITOR})
VIEWING_TEAM_DEFAULTS = LEADS  # set the team's default blur, greyscale and autoplay

# Exposure to sensitive content is health data: a person reads their own, leads their team's
# (every analyst and lead while the directory has no teams of people), auditors everyone's
# (applied by vigil.need_to_know).
EXPOSURE_TEAM_READERS = LEADS
EXPOSURE_ALL_READERS = frozenset({Role.AUDITOR})


def sees_reporters(role: Role) -> bool:
    return role in REPORTER_READERS


def may_not(role: Role, doing: str) -> str:
    """The refusal's words: 'an analyst may not approve', 'a lead may not manage users'."""
    article = "an" if role.value[0] in "aeiou" else "a"
    return f"{article} {role.value} may not {doing}"
