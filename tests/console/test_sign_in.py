"""Signing in and out: the session cookie, the sign-in form's own CSRF nonce, where it leads."""

from sqlalchemy.orm import Session

from tests.console.conftest import Console, hidden_value
from vigil import auth


async def test_pages_send_a_signed_out_person_to_sign_in_and_back(console: Console) -> None:
    browser = console.client()
    response = await browser.get("/incidents/INC-2026-000001?done=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/incidents/INC-2026-000001%3Fdone%3Dx"
    assert (await browser.get("/")).headers["location"] == "/sign-in"

    form = await browser.get("/sign-in?next=/trends")
    assert form.status_code == 200
    assert hidden_value(form.text, "next") == "/trends"
    nonce = hidden_value(form.text, "nonce")
    signed = await browser.post("/sign-in", data={"token": console.tokens["ana"], "nonce": nonce, "next": "/trends"})
    assert (signed.status_code, signed.headers["location"]) == (303, "/trends")
    page = await browser.get("/trends")
    assert page.status_code == 200 and "ana" in page.text


async def test_the_session_cookie_is_httponly_strict_and_is_not_the_token(console: Console) -> None:
    browser = console.client()
    form = await browser.get("/sign-in")
    nonce_cookie = form.headers["set-cookie"].lower()
    assert "httponly" in nonce_cookie and "samesite=strict" in nonce_cookie

    nonce = hidden_value(form.text, "nonce")
    response = await browser.post("/sign-in", data={"token": console.tokens["leo"], "nonce": nonce})
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("vigil_session="))
    attributes = {part.strip().split("=")[0].lower() for part in session.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "samesite=strict" in session.lower()
    value = browser.cookies["vigil_session"]
    assert console.tokens["leo"] not in value  # encrypted, not the token itself

    # The cookie opens the console, but it is no bearer token for the API.
    as_bearer = await console.api.get("/api/me", headers={"Authorization": f"Bearer {value}"})
    assert as_bearer.status_code == 401


async def test_a_wrong_token_is_refused_and_no_session_is_made(console: Console) -> None:
    browser = console.client()
    form = await browser.get("/sign-in")
    nonce = hidden_value(form.text, "nonce")
    response = await browser.post("/sign-in", data={"token": "vgl_not-a-real-token", "nonce": nonce})
    assert response.status_code == 401
    assert "That token is unknown, revoked or belongs to a disabled user." in response.text
    assert "vigil_session" not in browser.cookies
    assert (await browser.get("/")).status_code == 303


async def test_sign_in_without_the_forms_nonce_is_refused(console: Console) -> None:
    """Another site cannot sign a browser in as someone else (login CSRF): it has no nonce."""
    browser = console.client()
    response = await browser.post("/sign-in", data={"token": console.tokens["ana"], "nonce": "guessed"})
    assert response.status_code == 403
    assert "vigil_session" not in browser.cookies


async def test_after_sign_in_the_next_page_is_always_one_of_vigils(console: Console) -> None:
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        browser = console.client()
        form = await browser.get("/sign-in", params={"next": evil})
        assert hidden_value(form.text, "next") == "/"
        response = await browser.post(
            "/sign-in", data={"token": console.tokens["ana"], "next": evil, "nonce": hidden_value(form.text, "nonce")}
        )
        assert response.headers["location"] == "/", evil


async def test_sign_out_ends_the_session(console: Console) -> None:
    browser = await console.signed_in("bea")
    without_csrf = await browser.post("/sign-out", data={})
    assert without_csrf.status_code == 403
    assert (await browser.get("/")).status_code == 200  # still signed in

    response = await console.post_form(browser, "/", "/sign-out", {})
    assert (response.status_code, response.headers["location"]) == (303, "/sign-in")
    assert "vigil_session" not in browser.cookies
    assert (await browser.get("/")).status_code == 303


async def test_a_copy_of_the_cookie_opens_nothing_after_sign_out(console: Console) -> None:
    """Signing out ends the session on the server: the old cookie (kept, stolen) no longer works."""
    browser = await console.signed_in("bea")
    copied = browser.cookies["vigil_session"]
    thief = console.client()
    thief.cookies.set("vigil_session", copied)
    assert (await thief.get("/")).status_code == 200
    await console.post_form(browser, "/", "/sign-out", {})
    assert (await thief.get("/")).status_code == 303
    assert (await thief.get("/")).headers["location"] == "/sign-in"
    again = await console.signed_in("bea")  # signing in again makes a new session, which works
    assert (await again.get("/")).status_code == 200


async def test_revoking_the_token_signs_the_console_out_at_once(console: Console) -> None:
    with Session(console.engine) as db:
        token = auth.enrol(db, auth.add_user(db, "temp-analyst", "analyst"))[0]
    console.tokens["temp-analyst"] = token
    browser = await console.signed_in("temp-analyst")
    assert (await browser.get("/")).status_code == 200
    with Session(console.engine) as db:
        auth.revoke_tokens(db, "temp-analyst")
    assert (await browser.get("/")).status_code == 303


async def test_a_tampered_cookie_is_no_session(console: Console) -> None:
    value = (await console.signed_in("ana")).cookies["vigil_session"]
    tampered = value[:40] + ("A" if value[40] != "A" else "B") + value[41:]
    assert (await console.client(cookies={"vigil_session": value}).get("/")).status_code == 200
    assert (await console.client(cookies={"vigil_session": tampered}).get("/")).status_code == 303
