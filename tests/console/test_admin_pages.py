"""People and tokens for admins (/admin/users): an enrolment secret shown once, never a token of
someone else's; revoking signs a person out at once; only admins, and only with the form's CSRF."""

import re
import uuid

from sqlalchemy.orm import Session

from tests.console.conftest import Console, hidden_value
from vigil import auth

SECRET = re.compile(r'<code class="secret-value" id="enrolment-secret">(vge_[A-Za-z0-9_-]+)</code>')


def heading(page: str, name: str) -> str:
    """The words of a person's card heading: their name, role and whether they enrolled."""
    card = page.split(f'data-person="{name}">', 1)[1].split("</h3>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", card).split())


async def test_only_admins_manage_people(console: Console) -> None:
    for person in ("ana", "leo", "audrey"):
        client = await console.signed_in(person)
        page = await client.get("/admin/users")
        assert page.status_code == 403 and "may not manage users" in page.text
        assert 'href="/admin/users"' not in (await client.get("/")).text
        form = await console.post_form(
            client, "/", "/admin/users", {"name": f"x{uuid.uuid4().hex[:6]}", "role": "admin"}
        )
        assert form.status_code == 403
        revoke = await console.post_form(client, "/", "/admin/users/ana/revoke", {})
        assert revoke.status_code == 403
    with Session(console.engine) as db:
        assert auth.authenticate(db, console.tokens["ana"]) is not None  # nobody above revoked anything


async def test_an_admin_adds_a_person_who_enrols_themself(console: Console) -> None:
    adam = await console.signed_in("adam")
    listing = await adam.get("/admin/users")
    assert listing.status_code == 200 and 'href="/admin/users"' in listing.text
    assert "Nobody acts as anybody else" in listing.text
    assert heading(listing.text, "ana") == "ana analyst enrolled"
    name = f"nora{uuid.uuid4().hex[:6]}"
    added = await console.post_form(adam, "/admin/users", "/admin/users", {"name": name, "role": "analyst"})
    assert added.status_code == 303 and added.headers["location"] == "/admin/users"
    shown = await adam.get("/admin/users")
    secret = SECRET.search(shown.text)
    assert secret and "shown only this once" in shown.text
    assert SECRET.search((await adam.get("/admin/users")).text) is None  # a reload never shows it again
    assert heading(shown.text, name) == f"{name} analyst waiting to enrol"
    assert "vgl_" not in shown.text  # never an access token

    with Session(console.engine) as db:
        assert auth.authenticate(db, secret.group(1)) is None  # the secret itself opens nothing
    exchanged = await console.api.post("/api/tokens/exchange", json={"secret": secret.group(1)})
    assert exchanged.status_code == 201 and exchanged.json()["user"] == name
    console.tokens[name] = exchanged.json()["token"]
    assert heading((await adam.get("/admin/users")).text, name) == f"{name} analyst enrolled"

    again = await console.post_form(adam, "/admin/users", "/admin/users", {"name": name.upper(), "role": "lead"})
    assert again.status_code == 409 and "already exists" in again.text
    for bad in (
        {"name": "two words", "role": "analyst"},
        {"name": "system", "role": "analyst"},
        {"name": "x", "role": "boss"},
    ):
        refused = await console.post_form(adam, "/admin/users", "/admin/users", bad)
        assert refused.status_code == 422 and "Not added:" in refused.text, bad
    mine = await console.post_form(adam, "/admin/users", "/admin/users/adam/enrolment", {})
    assert mine.status_code == 409 and "ask another admin for yours" in mine.text  # a secret is for someone else
    spanish = (await adam.get("/admin/users", headers={"Accept-Language": "es"})).text
    assert "Personas y tokens" in spanish and "Nadie actúa en nombre de otra persona" in spanish
    assert heading(spanish, name) == f"{name} analista dado de alta"


async def test_revoking_signs_a_person_out_at_once(console: Console) -> None:
    adam = await console.signed_in("adam")
    name = f"rita{uuid.uuid4().hex[:6]}"
    with Session(console.engine) as db:
        token = auth.enrol(db, auth.add_user(db, name, "analyst"))[0]
        second = auth.enrol(db, auth.issue_token(db, name, issued_by="adam"))[0]
    console.tokens[name] = token
    rita = await console.signed_in(name)
    assert (await rita.get("/")).status_code == 200
    bearer = {"Authorization": f"Bearer {second}"}
    assert (await console.api.get("/api/me", headers=bearer)).status_code == 200  # now remembered for seconds

    one = await console.post_form(
        adam, "/admin/users", f"/admin/users/{name}/tokens/revoke", {"token": auth.hash_token(second)}
    )
    assert one.status_code == 303
    assert "The token was revoked." in (await adam.get("/admin/users")).text
    with Session(console.engine) as db:
        assert auth.authenticate(db, second) is None and auth.authenticate(db, token) is not None
    assert (await console.api.get("/api/me", headers=bearer)).status_code == 401  # revoked here: at once
    assert (await rita.get("/")).status_code == 200  # her other token still works

    everything = await console.post_form(adam, "/admin/users", f"/admin/users/{name}/revoke", {})
    assert everything.status_code == 303
    assert (await rita.get("/")).status_code == 303  # signed out: back to the sign-in form

    own = await console.post_form(adam, "/admin/users", "/admin/users/adam/revoke", {})
    assert own.status_code == 409
    current = await console.post_form(
        adam, "/admin/users", "/admin/users/adam/tokens/revoke", {"token": auth.hash_token(console.tokens["adam"])}
    )
    assert current.status_code == 409 and "sign out instead" in current.text
    unknown = await console.post_form(adam, "/admin/users", "/admin/users/nobody-here/revoke", {})
    assert unknown.status_code == 404
    forged = await adam.post(f"/admin/users/{name}/revoke", data={"csrf": "not-the-token"})
    assert forged.status_code == 403
    html = (await adam.get("/admin/users")).text
    assert hidden_value(html, "csrf")  # still signed in after all of it
