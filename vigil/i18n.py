"""Languages: gettext catalogs (Babel) for the console, notifications and timelines.

Catalogs live in vigil/locales/<lang>/LC_MESSAGES/messages.po and are compiled in memory on
first use, so there is no build step and a translator edits one text file.
`pybabel extract -F babel.cfg -o vigil/locales/messages.pot .` collects new strings.
"""

import gettext
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

LOCALES = Path(__file__).with_name("locales")
TEMPLATES = Path(__file__).with_name("templates")
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"


@cache
def translations(language: str) -> gettext.NullTranslations:
    po = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def gettext_for(language: str) -> Callable[[str], str]:
    return translations(supported(language)).gettext


def supported(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header ('es-MX,es;q=0.9,en;q=0.8')."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    wanted = []
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            wanted.append((quality, tag.strip().replace("_", "-")))
    for _, tag in sorted(wanted, key=lambda item: -item[0]):
        try:
            language = Locale.parse(tag, sep="-").language
        except (UnknownLocaleError, ValueError):
            continue
        if language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def when(moment: datetime, language: str, short: bool = False) -> str:
    """'Nov 25, 2026, 10:38 UTC' / '25 nov 2026, 10:38 UTC': the one format of every page, notice
    and timeline, as a reader of `language` writes it, always in UTC (teams span time zones)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    locale = supported(language)
    day = format_skeleton("MMMd" if short else "yMMMd", moment, tzinfo=UTC, locale=locale)
    return f"{day}, {format_skeleton('Hm', moment, tzinfo=UTC, locale=locale)} UTC"


def number(value: float, language: str) -> str:
    """12,000 / 12.000: a number as a reader of `language` writes it (Babel)."""
    return format_decimal(value, locale=supported(language))


def how_long(seconds: float, language: str) -> str:
    return format_timedelta(timedelta(seconds=seconds), threshold=1.1, locale=supported(language))


def _(text: str) -> str:
    """Marks a string for extraction; translated when used, in the reader's language."""
    return text


# How the vocabulary of vigil.domain reads to a person (translated through the catalog).
LABELS: dict[str, str] = {
    # statuses
    "triage": _("triage"),
    "investigating": _("investigating"),
    "escalated": _("escalated"),
    "pending_approval": _("pending approval"),
    "actioning": _("actioning"),
    "resolved": _("resolved"),
    "closed": _("closed"),
    "merged": _("merged"),
    # harm categories
    "child_safety": _("child safety"),
    "violent_extremism": _("violent extremism"),
    "self_harm_suicide": _("self-harm and suicide"),
    "hate_speech": _("hate speech"),
    "bullying_harassment": _("bullying and harassment"),
    "sexual_violence": _("sexual violence"),
    "graphic_violence": _("graphic violence"),
    "animal_abuse": _("animal abuse"),
    "dangerous_challenges": _("dangerous challenges"),
    "misinformation": _("misinformation"),
    "privacy": _("privacy"),
    "spam_scam": _("spam and scams"),
    "other": _("other"),
    # channels
    "user_report": _("user report"),
    "automated_detection": _("automated detection"),
    "law_enforcement": _("law enforcement"),
    "regulator": _("regulator"),
    "press": _("press"),
    "trusted_flagger": _("trusted flagger"),
    "internal": _("internal"),
    # teams
    "legal": _("Legal"),
    "public_policy": _("Public Policy"),
    "product": _("Product"),
    "engineering": _("Engineering"),
    "incident_na": _("North America incident team"),
    "incident_latam": _("Latin America incident team"),
    "incident_emea": _("EMEA incident team"),
    "incident_apac": _("APAC incident team"),
    # enforcement actions
    "remove_content": _("remove content"),
    "geo_block": _("geo-block"),
    "suspend_account": _("suspend account"),
    "terminate_account": _("terminate account"),
    "law_enforcement_disclosure": _("disclosure to law enforcement"),
    "regulator_report": _("report to regulator"),
    "public_statement": _("public statement"),
    "no_action": _("no action"),
    # resolutions
    "actioned": _("actioned"),
    "no_violation": _("no violation"),
    "duplicate": _("duplicate"),
    "referred": _("referred"),
    "insufficient_information": _("insufficient information"),
    # SLA clocks
    "acknowledge": _("acknowledge"),
    "first_response": _("first response"),
    "resolve": _("resolve"),
    # audiences of status updates, and the status-update clock
    "leadership": _("leadership"),
    "stakeholders": _("stakeholders"),
    "status update": _("status update"),
    # tiers: who is asked to approve, who is told of a breach
    "leads": _("leads"),
    "regional_on_call_lead": _("regional on-call lead"),
    "head_of_incident_management": _("head of incident management"),
    # roles
    "analyst": _("analyst"),
    "lead": _("lead"),
    "auditor": _("auditor"),
    "admin": _("admin"),
    "system": _("Vigil"),
}


def label(value: object, language: str) -> str:
    """'hate_speech' -> 'hate speech' / 'discurso de odio'. Unknown values pass through."""
    text = str(getattr(value, "value", value))
    return gettext_for(language)(LABELS[text]) if text in LABELS else text


@cache
def environment(language: str, autoescape: bool) -> Environment:
    """One environment per language, so renders in different threads never share a catalog."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]) if autoescape else False,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["how_long"] = how_long
    env.filters["label"] = label
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, language: str, **context: object) -> str:
    """Render with the language's catalog; autoescaped for .html templates."""
    language = supported(language)
    env = environment(language, autoescape=template.endswith(".html"))
    return env.get_template(template).render(language=language, **context)
