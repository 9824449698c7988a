"""Stubs over HTTP (in-process): matching, order, counts, the journal, the admin API and bad definitions."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cwsim.simulator.server import create_app
from cwsim.simulator.stub_schema import load_stubs
from cwsim.simulator.stubs import StubBook, StubRequest
from cwsim.simulator.world import World, WorldOptions

from .conftest import API, Api

TICKETS = f"{API}/service/tickets"


def add_stub(api: Api, stub: dict[str, Any] | list[dict[str, Any]]) -> Any:
    response = api.client.post("/_sim/stubs", json=stub)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stubs(api: Api) -> list[dict[str, Any]]:
    return api.client.get("/_sim/stubs").get_json()


def pinned(path: str = TICKETS + "*", **match: Any) -> dict[str, Any]:
    return {"match": {"path": path, **match}, "respond": {"status": 200, "json": {"pinned": True}}}


def is_stubbed(response: Any) -> bool:
    return response.status_code == 200 and response.get_json() == {"pinned": True}


def test_a_stub_answers_ahead_of_the_fake_with_its_status_headers_and_body(api: Api) -> None:
    stub = add_stub(
        api,
        {
            "match": {"method": "GET", "path": TICKETS + "*"},
            "respond": {"status": 202, "headers": {"X-Foo": "1"}, "json": [{"id": 9, "summary": "pinned"}]},
        },
    )
    assert stub["id"] and stub["hits"] == 0 and stub["exhausted"] is False
    response = api.get("service/tickets/1")
    assert response.status_code == 202
    assert response.headers["X-Foo"] == "1"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.data == b'[{"id":9,"summary":"pinned"}]'
    assert api.client.get(TICKETS + "/1").status_code == 202, "stubs answer ahead of auth: no keys needed"
    assert api.post("service/tickets", {"summary": "x"}).status_code != 202, "a POST is not the stub's GET"


def test_any_path_works_even_one_the_fake_does_not_serve(api: Api) -> None:
    assert api.client.get("/nowhere/at/all").status_code == 404
    add_stub(api, {"match": {"path": "/nowhere/*"}, "respond": {"json": {"here": 1}}})
    response = api.client.get("/nowhere/at/all")
    assert (response.status_code, response.get_json()) == (200, {"here": 1})


def test_the_journal_names_the_stub_that_answered(api: Api) -> None:
    stub = add_stub(api, {"id": "pinned-tickets", **pinned()})
    api.get("service/tickets")
    api.get("service/boards")
    entries = api.client.get("/_sim/requests").get_json()
    assert entries[-2]["stub"] == stub["id"] == "pinned-tickets"
    assert "stub" not in entries[-1]


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"method": "PATCH"}, {"method": "PATCH", "json": []}, {"method": "GET"}),
        ({"method": ["PUT", "PATCH"]}, {"method": "PUT", "json": {}}, {"method": "DELETE"}),
        ({"query": {"pageSize": "1"}}, {"query": "pagesize=1&page=2"}, {"query": "pageSize=10"}),
        ({"query": {"pageSize": 1}}, {"query": "pageSize=1"}, {"query": ""}),
        ({"headers": {"clientId": "x"}}, {"headers": {"CLIENTID": "x"}}, {"headers": {"clientId": "X"}}),
        (
            {"json": {"summary": "x"}},
            {"method": "POST", "json": {"summary": "x", "board": {"id": 1}}},
            {"method": "POST", "json": {"summary": "y"}},
        ),
        (
            {"json": {"board": {"id": 1}}},
            {"method": "POST", "json": {"board": {"id": 1}}},
            {"method": "POST", "json": {"board": {"id": 1, "name": "x"}}},
        ),
        (
            {"json": [{"op": "replace", "path": "summary", "value": "x"}]},
            {"method": "PATCH", "json": [{"op": "replace", "path": "summary", "value": "x"}]},
            {"method": "PATCH", "json": [{"op": "replace", "path": "summary", "value": "y"}]},
        ),
        (
            {"strict": True, "query": {"pageSize": "1"}},
            {"query": "PageSize=1"},
            {"query": "pageSize=1&page=2"},
        ),
        (
            {"strict": True, "json": {"summary": "x"}},
            {"method": "POST", "json": {"summary": "x"}},
            {"method": "POST", "json": {"summary": "x", "board": {"id": 1}}},
        ),
        ({"strict": True}, {"method": "POST"}, {"method": "POST", "json": {"summary": "x"}}),
    ],
)
def test_each_match_key_decides(api: Api, match: dict[str, Any], hit: dict[str, Any], miss: dict[str, Any]) -> None:
    add_stub(api, pinned(**match))

    def ask(request: dict[str, Any]) -> Any:
        query = request.get("query")
        path = TICKETS + (f"?{query}" if query else "")
        extra = {"json": request["json"]} if "json" in request else {}
        headers = request.get("headers", {})
        return api.client.open(path, method=request.get("method", "GET"), headers=headers, **extra)

    assert is_stubbed(ask(hit)), f"{hit} should match {match}"
    assert not is_stubbed(ask(miss)), f"{miss} should not match {match}"


def test_the_path_glob_is_the_whole_path_case_insensitive_and_star_spans_slashes(api: Api) -> None:
    add_stub(api, pinned(f"{API}/service/*/notes"))
    assert is_stubbed(api.get("service/tickets/7/notes"))
    assert is_stubbed(api.client.get(f"{API}/SERVICE/tickets/7/NOTES/"))
    assert not is_stubbed(api.get("service/tickets/7/notes/3")), "the glob is anchored at the end"
    assert not is_stubbed(api.get("service/tickets/7")), "and the path is not a prefix"


def test_the_first_match_wins_and_an_exhausted_stub_lets_the_next_answer(api: Api) -> None:
    first, second = add_stub(
        api,
        [
            {"match": {"path": TICKETS}, "respond": {"json": "first"}, "times": 2},
            {"match": {"path": TICKETS}, "respond": {"json": "second"}},
        ],
    )
    answers = [api.get("service/tickets").get_json() for _ in range(4)]
    assert answers == ["first", "first", "second", "second"]
    listed = {stub["id"]: stub for stub in stubs(api)}
    assert (listed[first["id"]]["hits"], listed[first["id"]]["exhausted"]) == (2, True)
    assert (listed[second["id"]]["hits"], listed[second["id"]]["exhausted"]) == (2, False)
    assert [stub["id"] for stub in stubs(api)] == [first["id"], second["id"]], "listed in the order they are tried"


def test_after_its_times_the_fakes_own_answer_comes_back(api: Api) -> None:
    add_stub(api, {**pinned(TICKETS), "times": 1})
    assert is_stubbed(api.get("service/tickets"))
    fake = api.get("service/tickets")
    assert fake.status_code == 200 and isinstance(fake.get_json(), list)


def test_times_holds_under_concurrent_requests() -> None:
    book = StubBook()
    book.add(load_stubs({"match": {"path": "/x"}, "respond": {"json": 1}, "times": 5}))
    answered: list[str] = []

    def ask() -> None:
        for _ in range(20):
            stub = book.answer_for(StubRequest("GET", "/x", (), {}, lambda: b""))
            if stub is not None:
                answered.append(stub.id)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answered) == 5
    assert book.describe()[0]["hits"] == 5


def test_delete_one_clear_all_and_unknown_ids(api: Api) -> None:
    one, two = add_stub(api, [pinned(TICKETS), pinned(f"{API}/service/boards")])
    assert api.client.delete(f"/_sim/stubs/{one['id']}").status_code == 204
    assert [stub["id"] for stub in stubs(api)] == [two["id"]]
    assert api.client.get(f"/_sim/stubs/{two['id']}").get_json()["id"] == two["id"]
    missing = api.client.delete(f"/_sim/stubs/{one['id']}")
    assert missing.status_code == 404 and missing.get_json()["code"] == "NotFound"
    assert api.client.delete("/_sim/stubs").status_code == 204
    assert stubs(api) == []
    assert not is_stubbed(api.get("service/boards"))


def test_ids_given_by_the_author_are_unique(api: Api) -> None:
    add_stub(api, {"id": "mine", **pinned()})
    again = api.client.post("/_sim/stubs", json={"id": "mine", **pinned()})
    assert again.status_code == 400
    assert again.get_json()["errors"][0]["field"] == "id"
    generated = add_stub(api, pinned())
    assert generated["id"] != "mine"


def test_the_control_plane_is_never_stubbed(api: Api) -> None:
    add_stub(api, {"match": {"path": "*"}, "respond": {"status": 500, "json": "stubbed"}})
    assert api.get("service/boards").status_code == 500
    assert api.client.get("/_sim/health").status_code == 200
    assert api.client.delete("/_sim/stubs").status_code == 204
    assert api.get("service/boards").status_code == 200


def test_a_fault_still_reaches_a_stubbed_path(api: Api) -> None:
    add_stub(api, pinned(TICKETS))
    fault = {"path": "service/tickets", "effect": {"kind": "status", "status": 503}}
    rule = api.client.post("/_sim/faults", json=fault)
    assert rule.status_code == 201
    assert api.get("service/tickets").status_code == 503


def test_text_bodies_and_empty_answers(api: Api) -> None:
    add_stub(
        api,
        [
            {
                "match": {"path": "/text"},
                "respond": {"status": 502, "headers": {"Content-Type": "text/html"}, "body": "<h1>"},
            },
            {"match": {"path": "/empty"}, "respond": {"status": 204}},
        ],
    )
    text = api.client.get("/text")
    assert (text.status_code, text.data, text.headers["Content-Type"]) == (502, b"<h1>", "text/html")
    empty = api.client.get("/empty")
    assert (empty.status_code, empty.data) == (204, b"")


@pytest.mark.parametrize(
    ("stub", "fields"),
    [
        ({"respond": {}}, {"match"}),
        ({"match": {"method": "GET"}, "respond": {}}, {"match.path"}),
        ({"match": {"path": "service/tickets"}, "respond": {}}, {"match.path"}),
        ({"match": {"path": "/x?pageSize=1"}, "respond": {}}, {"match.path"}),
        ({"match": {"path": "/x", "method": "FETCH"}, "respond": {}}, {"match.method"}),
        ({"match": {"path": "/x", "query": ["pageSize"]}, "respond": {}}, {"match.query"}),
        ({"match": {"path": "/x", "query": {"pageSize": {"a": 1}}}, "respond": {}}, {"match.query.pageSize"}),
        ({"match": {"path": "/x", "headers": {"bad name": "1"}}, "respond": {}}, {"match.headers.bad name"}),
        ({"match": {"path": "/x", "colour": "red"}, "respond": {}}, {"match.colour"}),
        ({"match": {"path": "/x"}, "respond": {"status": 99}}, {"respond.status"}),
        ({"match": {"path": "/x"}, "respond": {"status": "200"}}, {"respond.status"}),
        ({"match": {"path": "/x"}, "respond": {"json": 1, "body": "1"}}, {"respond.body"}),
        ({"match": {"path": "/x"}, "respond": {"status": 204, "json": {}}}, {"respond.json"}),
        ({"match": {"path": "/x"}, "respond": {"headers": {"Content-Length": "9"}}}, {"respond.headers"}),
        ({"match": {"path": "/x"}, "respond": {"headers": {"X-A": "1\r\nX-B: 2"}}}, {"respond.headers.X-A"}),
        ({"match": {"path": "/x"}, "respond": {}, "times": 0}, {"times"}),
        ({"match": {"path": "/x"}, "respond": {}, "id": "has space"}, {"id"}),
        ("not an object", {"stub"}),
    ],
)
def test_a_bad_definition_is_a_connectwise_400_naming_the_field(api: Api, stub: Any, fields: set[str]) -> None:
    response = api.client.post("/_sim/stubs", json=[stub] if isinstance(stub, str) else stub)
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["code"] == "InvalidObject" and body["message"] == "stub object is invalid"
    named = {error["field"].removeprefix("[0].").removeprefix("[0]") or "stub" for error in body["errors"]}
    assert named == fields
    assert stubs(api) == [], "nothing of a refused definition goes in"


def test_a_list_with_one_bad_stub_adds_none(api: Api) -> None:
    response = api.client.post("/_sim/stubs", json=[pinned(), {"match": {}, "respond": {}}])
    assert response.status_code == 400
    assert [error["field"] for error in response.get_json()["errors"]] == ["[1].match.path"]
    assert stubs(api) == []


def test_a_reset_brings_back_the_servers_own_stubs_and_drops_the_rest() -> None:
    replayed = {"id": "replayed", "match": {"path": "/pinned"}, "respond": {"json": "kept"}, "times": 1}
    initial = tuple(load_stubs(replayed))
    world = World(WorldOptions(seed=3, companies=2, stubs=initial))
    client = create_app(world).test_client()
    assert client.get("/pinned").get_json() == "kept"
    client.post("/_sim/stubs", json={"match": {"path": "/added"}, "respond": {"json": "added"}})
    assert [stub["id"] for stub in client.get("/_sim/stubs").get_json()] == ["replayed", "stub-1"]
    assert client.post("/_sim/reset").status_code == 200
    listed = client.get("/_sim/stubs").get_json()
    assert [(stub["id"], stub["hits"]) for stub in listed] == [("replayed", 0)]
    assert client.get("/pinned").get_json() == "kept"
