"""Languages: gettext catalogs (Babel) for the console, notifications and timelines.

Catalogs live in vigil/locales/<lang>/LC_MESSAGES/messages.po and are compiled in memory on
first use, so there is no build step and a translator edits one text file.
`pybabel extract -F babel.cfg -o vigil/locales/messages.pot .` collects new strings.
"""

import gettext
from datetime import datetime, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
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


def gettext_for(language: str):  # noqa: ANN201
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


def when(moment: datetime, language: str) -> str:
    """A timestamp as a reader of `language` writes it, always in UTC (teams span time zones)."""
    return format_datetime(moment, "medium", tzinfo=None, locale=supported(language)) + " UTC"


def how_long(seconds: float, language: str) -> str:
    return format_timedelta(timedelta(seconds=seconds), threshold=1.1, locale=supported(language))


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
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, language: str, **context: object) -> str:
    """Render with the language's catalog; autoescaped for .html templates."""
    language = supported(language)
    env = environment(language, autoescape=template.endswith(".html"))
    return env.get_template(template).render(language=language, **context)
