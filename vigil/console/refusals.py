"""A refusal in words, in the reader's language: what the state machine and the API answered,
with its ids (`terminate_account`, `legal`, `pending_approval`) said as a person says them.

The state machine's reasons are English sentences made from a few patterns (vigil.workflows.
lifecycle, vigil.roles.may_not, the API's input checks); each pattern here has a catalog entry,
and its parts are translated as the vocabulary they are (vigil.i18n.label, the policy's own
names). A reason no pattern knows is shown as it came, never dropped.
"""

import re
from collections.abc import Callable

from vigil.i18n import _, gettext_for, label, supported, translations

CONTEXT = "refusal"  # the words inside a refusal ("acknowledge" the verb, not the clock's name)


def pgettext(context: str, text: str) -> str:
    """Marks a word of a refusal for extraction with its context (`pybabel extract` reads msgctxt)."""
    return text


# What each action type is called inside a sentence: "cannot <verb> an incident that is ...".
VERBS = {
    "acknowledge": pgettext("refusal", "acknowledge"),
    "assign": pgettext("refusal", "assign"),
    "add note": pgettext("refusal", "add a note to"),
    "set severity": pgettext("refusal", "change the severity of"),
    "escalate": pgettext("refusal", "escalate"),
    "team response": pgettext("refusal", "record a team's answer on"),
    "propose action": pgettext("refusal", "propose an action on"),
    "approve": pgettext("refusal", "approve actions on"),
    "reject": pgettext("refusal", "reject actions on"),
    "resolve": pgettext("refusal", "resolve"),
    "reopen": pgettext("refusal", "reopen"),
    "post update": pgettext("refusal", "post an update on"),
    "change reviews": pgettext("refusal", "change reviews"),
}
# What a role may not do: "an analyst may not <doing>".
DOINGS = {
    "set severity": pgettext("refusal", "change the severity"),
    "approve": pgettext("refusal", "approve"),
    "reject": pgettext("refusal", "reject"),
    "acknowledge": pgettext("refusal", "acknowledge"),
    "assign": pgettext("refusal", "assign"),
    "add note": pgettext("refusal", "add notes"),
    "escalate": pgettext("refusal", "escalate"),
    "team response": pgettext("refusal", "record a team's answer"),
    "propose action": pgettext("refusal", "propose actions"),
    "resolve": pgettext("refusal", "resolve"),
    "reopen": pgettext("refusal", "reopen"),
    "merge into": pgettext("refusal", "merge incidents"),
    "post update": pgettext("refusal", "post status updates"),
    "change reviews": pgettext("refusal", "change reviews"),
    "read timelines": pgettext("refusal", "read timelines"),
    "read incidents": pgettext("refusal", "read incidents"),
    "replay histories": pgettext("refusal", "replay histories"),
    "verify histories": pgettext("refusal", "verify histories"),
    "read raw histories": pgettext("refusal", "read raw histories"),
    "manage users": pgettext("refusal", "manage users"),
    "manage tokens": pgettext("refusal", "manage tokens"),
}

Part = Callable[[str, str], str]


def _label(value: str, language: str) -> str:
    return label(value, language)


def _plain(value: str, language: str) -> str:
    return value


def _policy(value: str, language: str) -> str:
    from vigil.console.render import policy_text  # the policy's own name, in this language

    return policy_text(value, language)


def _role(value: str, language: str) -> str:
    return label(value, language)


# Who may not: "an analyst may not approve".
ROLES = {
    "analyst": pgettext("refusal", "an analyst"),
    "lead": pgettext("refusal", "a lead"),
    "auditor": pgettext("refusal", "an auditor"),
    "admin": pgettext("refusal", "an admin"),
}


def _from(table: dict[str, str]) -> Part:
    def words(value: str, language: str) -> str:
        return translations(supported(language)).pgettext(CONTEXT, table[value]) if value in table else value

    return words


# (pattern, message, how each named part is said)
PATTERNS: list[tuple[re.Pattern[str], str, dict[str, Part]]] = [
    (
        re.compile(r"^an? (?P<role>\w+) may not (?P<doing>.+)$"),
        _("%(role)s may not %(doing)s"),
        {"role": _from(ROLES), "doing": _from(DOINGS)},
    ),
    (
        re.compile(r"^cannot merge into an incident that is (?P<status>\w+)$"),
        _("cannot merge an incident that is %(status)s"),
        {"status": _label},
    ),
    (
        re.compile(r"^cannot (?P<verb>.+) an incident that is (?P<status>\w+)$"),
        _("cannot %(verb)s an incident that is %(status)s"),
        {"verb": _from(VERBS), "status": _label},
    ),
    (re.compile(r"^already assigned to (?P<name>.+)$"), _("already assigned to %(name)s"), {"name": _plain}),
    (
        re.compile(r"^severity is already (?P<severity>\w+)$"),
        _("the severity is already %(severity)s"),
        {"severity": _plain},
    ),
    (
        re.compile(r"^(?P<team>\w+) owns this incident: escalate to another region's team$"),
        _("%(team)s owns this incident: escalate to another region's team"),
        {"team": _label},
    ),
    (
        re.compile(r"^already waiting for (?P<team>\w+) to answer$"),
        _("already waiting for %(team)s to answer"),
        {"team": _label},
    ),
    (
        re.compile(r"^(?P<team>\w+) was not asked: escalate to it first$"),
        _("%(team)s was not asked: escalate to it first"),
        {"team": _label},
    ),
    (
        re.compile(r"^approval (?P<id>\S+) is already (?P<status>\w+)$"),
        _("approval %(id)s is already %(status)s"),
        {"id": _plain, "status": _plain},
    ),
    (
        re.compile(r"^four-eyes: you proposed this action, another lead must decide$"),
        _("four-eyes: you proposed this action, another lead must decide"),
        {},
    ),
    (re.compile(r"^you have already approved (?P<id>\S+)$"), _("you have already approved %(id)s"), {"id": _plain}),
    (
        re.compile(r"^resolved as actioned, but no enforcement action has completed$"),
        _("resolved as actioned, but no enforcement action has completed"),
        {},
    ),
    (re.compile(r"^still due: (?P<clock>.+)$"), _("still due: %(clock)s"), {"clock": _policy}),
    (re.compile(r"^the reopen window has passed$"), _("the reopen window has passed"), {}),
    (re.compile(r"^an incident cannot be merged into itself$"), _("an incident cannot be merged into itself"), {}),
    (
        re.compile(r"^a legal clock is running here \((?P<clock>.+)\): resolve it first$"),
        _("a legal clock is running here (%(clock)s): resolve it first"),
        {"clock": _policy},
    ),
    (
        re.compile(
            r"^(?P<action>\w+) in (?P<region>\w+) needs a statement of reasons for the user \(EU DSA art\. 17\)$"
        ),
        _("%(action)s in %(region)s needs a statement of reasons for the user (EU DSA art. 17)"),
        {"action": _label, "region": _plain},
    ),
    (
        re.compile(r"^next_update_at: must be in the future, and within 30 days$"),
        _("the next update must be due in the future, and within 30 days"),
        {},
    ),
    (re.compile(r"^assignee: no user '(?P<name>.+)'$"), _("there is no user %(name)s to assign"), {"name": _plain}),
    (
        re.compile(r"^assignee: (?P<name>\S+) is an? (?P<role>\w+); only analysts and leads take incidents$"),
        _("%(name)s is a %(role)s; only analysts and leads take incidents"),
        {"name": _plain, "role": _role},
    ),
    (
        re.compile(r"^incident_id: no incident (?P<id>\S+) to merge into$"),
        _("there is no incident %(id)s to merge into"),
        {"id": _plain},
    ),
    (
        re.compile(r"^(?P<id>\S+) is (?P<status>\w+): merge into an open incident$"),
        _("%(id)s is %(status)s: merge into an open incident"),
        {"id": _plain, "status": _label},
    ),
    (
        re.compile(r"^(?P<id>\S+) is (?P<status>\w+): a history is sealed when the incident closes$"),
        _("%(id)s is %(status)s: a history is sealed when the incident closes"),
        {"id": _plain, "status": _label},
    ),
    (
        re.compile(r"^(?P<id>\S+) is (?P<status>\w+) but its seal is not recorded yet; retry shortly$"),
        _("%(id)s is %(status)s but its seal is not recorded yet; try again in a moment"),
        {"id": _plain, "status": _label},
    ),
    (
        re.compile(r"^Temporal no longer keeps the history of (?P<id>\S+) .*$"),
        _("Temporal no longer keeps the history of %(id)s (its retention period has passed): read an exported copy"),
        {"id": _plain},
    ),
    (
        re.compile(r"^after_event: after_event must be between 1 and (?P<last>\d+) .*$"),
        _("the event number must be between 1 and %(last)s"),
        {"last": _plain},
    ),
    (
        re.compile(r"^after_event: (?P<given>.*) is not an event number \(1 or more\)$"),
        _("%(given)s is not an event number (1 or more)"),
        {"given": _plain},
    ),
    (
        re.compile(r"^user '(?P<name>.+)' already exists \(names are case-insensitive\)$"),
        _("a user %(name)s already exists (names are case-insensitive)"),
        {"name": _plain},
    ),
    (
        re.compile(r"^an enrolment secret is for someone else: .*$"),
        _("an enrolment secret is for someone else: ask another admin for yours"),
        {},
    ),
    (re.compile(r"^no enabled user (?P<name>\S+)$"), _("there is no enabled user %(name)s"), {"name": _plain}),
    (
        re.compile(r"^the user name '(?P<name>.+)' is reserved: .*$"),
        _("the user name %(name)s is reserved: Vigil uses it, or people would take it for Vigil's"),
        {"name": _plain},
    ),
    (
        re.compile(r"^you already have a view of that name: (?P<name>.+)$"),
        _("you already have a view of that name: %(name)s"),
        {"name": _plain},
    ),
    (
        re.compile(r"^you have (?P<count>\d+) saved views: delete one first$"),
        _("you have %(count)s saved views: delete one first"),
        {"count": _plain},
    ),
    (re.compile(r"^no view (?P<id>\S+) of yours$"), _("you have no view %(id)s"), {"id": _plain}),
    (
        re.compile(r"^a view needs a name of 1 to 80 characters$"),
        _("a view needs a name of 1 to 80 characters"),
        {},
    ),
    (
        re.compile(r"^not connected to Temporal yet; retry shortly$"),
        _("Vigil is not connected to Temporal yet; try again in a moment"),
        {},
    ),
]


def in_words(reason: str, language: str) -> str:
    """The reason as the reader's language says it; unknown reasons as they came."""
    gettext = gettext_for(language)
    for pattern, message, parts in PATTERNS:
        found = pattern.match(reason)
        if found:
            values = {name: parts[name](value, language) for name, value in found.groupdict().items()}
            return gettext(message) % values
    return reason
