"""English and Spanish: the browser's language by default, a switch that is remembered, a full catalog."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import vigil
from tests.console.conftest import Console

VIGIL = Path(vigil.__file__).parent


async def test_pages_follow_accept_language(console: Console) -> None:
    incident = await console.open()
    browser = await console.signed_in("ana")
    spanish = (await browser.get(f"/incidents/{incident['id']}", headers={"Accept-Language": "es-MX,es;q=0.9"})).text
    assert '<html lang="es">' in spanish
    assert "Cola" in spanish and "Plazos" in spanish and "Cronología" in spanish
    assert "extremismo violento" in spanish  # the shared vocabulary, translated
    assert "vence en" in spanish
    english = (await browser.get(f"/incidents/{incident['id']}", headers={"Accept-Language": "de-DE,en;q=0.5"})).text
    assert '<html lang="en">' in english and "Queue" in english


async def test_the_language_switch_is_remembered_over_the_browsers_choice(console: Console) -> None:
    browser = await console.signed_in("ana")
    switch = await browser.get("/language/es", params={"next": "/trends?by=region"})
    assert (switch.status_code, switch.headers["location"]) == (303, "/trends?by=region")
    cookie = switch.headers["set-cookie"].lower()
    assert cookie.startswith("vigil_language=es") and "max-age=31536000" in cookie
    page = (await browser.get("/trends?by=region", headers={"Accept-Language": "en"})).text
    assert '<html lang="es">' in page and "Tendencias" in page and "por región" in page

    await browser.get("/language/en", params={"next": "/"})
    assert '<html lang="en">' in (await browser.get("/", headers={"Accept-Language": "es"})).text

    unknown = await browser.get("/language/xx", params={"next": "https://evil.example/"})
    assert unknown.headers["location"] == "/" and "set-cookie" not in unknown.headers


async def test_the_sign_in_page_speaks_the_browsers_language(console: Console) -> None:
    page = (await console.client().get("/sign-in", headers={"Accept-Language": "es"})).text
    assert "Iniciar sesión en Vigil" in page and "Tu token" in page


def test_every_console_string_has_a_spanish_translation() -> None:
    """A new string in a console page or module without its Spanish fails here, not in front of a reader."""
    with (VIGIL / "locales" / "es" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="es")
    method_map = [("console/**.py", "python"), ("templates/console/**.html", "jinja2")]
    options = {"templates/console/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
    found, untranslated = 0, []
    for filename, _line, message, _comments, context in extract_from_dir(str(VIGIL), method_map, options):
        found += 1
        msgid = message if isinstance(message, str) else message[0]
        entry = catalog.get(msgid, context=context)
        translated = entry is not None and all(entry.string if isinstance(entry.string, tuple) else [entry.string])
        if not translated:
            untranslated.append(f"{filename}: {msgid}")
    assert found > 150
    assert untranslated == []
