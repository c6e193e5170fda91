"""Saved views (/api/views): each person keeps their own queue filters under a name."""

import uuid

import pytest

from tests.api.conftest import Stack


def _name() -> str:
    return f"SEV1 in EMEA {uuid.uuid4().hex[:6]}"


async def test_a_person_saves_lists_and_deletes_their_own_views(stack: Stack) -> None:
    name = _name()
    filters = {"severity": ["SEV1", "SEV2"], "region": ["EMEA"], "text": "removal order", "sort": "severity"}
    made = await stack.post("/api/views", {"name": name, "filters": filters}, "bea")
    assert made.status_code == 201, made.text
    view = made.json()
    assert view["name"] == name and view["filters"]["severity"] == ["SEV1", "SEV2"]
    assert view["filters"]["status"] == "open"  # what was not chosen keeps the queue's default

    mine = (await stack.get("/api/views", "bea")).json()["items"]
    assert [v["id"] for v in mine if v["name"] == name] == [view["id"]]
    assert all(v["id"] != view["id"] for v in (await stack.get("/api/views", "ana")).json()["items"])

    gone = await stack.http.delete(f"/api/views/{view['id']}", headers=stack.auth("bea"))
    assert gone.status_code == 204
    assert all(v["id"] != view["id"] for v in (await stack.get("/api/views", "bea")).json()["items"])
    again = await stack.http.delete(f"/api/views/{view['id']}", headers=stack.auth("bea"))
    assert again.status_code == 404


async def test_another_persons_view_is_not_found_and_stays(stack: Stack) -> None:
    view = (await stack.post("/api/views", {"name": _name()}, "leo")).json()
    for other in ("ana", "audrey", "adam"):
        response = await stack.http.delete(f"/api/views/{view['id']}", headers=stack.auth(other))
        assert response.status_code == 404, (other, response.text)
    assert view["id"] in [v["id"] for v in (await stack.get("/api/views", "leo")).json()["items"]]


async def test_a_name_used_twice_in_any_case_is_409(stack: Stack) -> None:
    name = _name()
    assert (await stack.post("/api/views", {"name": name}, "ana")).status_code == 201
    twice = await stack.post("/api/views", {"name": name.upper(), "filters": {"region": ["NA"]}}, "ana")
    assert twice.status_code == 409 and "already have a view of that name" in twice.json()["detail"]
    assert (await stack.post("/api/views", {"name": name}, "bea")).status_code == 201  # names are per person
    accented = f"Árbol {name}"  # beyond ASCII: SQLite's lower() would let the second one in
    assert (await stack.post("/api/views", {"name": accented}, "ana")).status_code == 201
    assert (await stack.post("/api/views", {"name": accented.lower()}, "ana")).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 81},
        {"name": "a\x00b"},
        {},
        {"name": "ok", "filters": {"severity": ["SEV9"]}},
        {"name": "ok", "filters": {"status": "nonsense"}},
        {"name": "ok", "filters": {"sort": "title"}},
        {"name": "ok", "filters": {"text": "x" * 201}},
        {"name": "ok", "filters": {"colour": "red"}},
        {"name": "ok", "owner": "leo"},
    ],
    ids=["empty", "blank", "too long", "nul", "no name", "severity", "status", "sort", "text", "unknown", "owner"],
)
async def test_a_bad_view_is_422(sqlite_stack: Stack, body: dict) -> None:
    response = await sqlite_stack.post("/api/views", body, "ana")
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("view_id", ["0", "-1", "abc", str(2**40)])
async def test_a_malformed_view_id_is_422(sqlite_stack: Stack, view_id: str) -> None:
    response = await sqlite_stack.http.delete(f"/api/views/{view_id}", headers=sqlite_stack.auth("ana"))
    assert response.status_code == 422, response.text


async def test_views_need_a_token(sqlite_stack: Stack) -> None:
    assert (await sqlite_stack.http.get("/api/views")).status_code == 401
    assert (await sqlite_stack.http.post("/api/views", json={"name": "x"})).status_code == 401
