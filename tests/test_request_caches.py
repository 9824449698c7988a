"""What the fake keeps between requests to answer faster (issue 16) answers as before: rendered records are
never served stale (a changed record, a changed referenced record, another base URL or a reset each render
afresh), and the hand-made mobileGuid is the standard library's UUID 5."""

from __future__ import annotations

import uuid

import pytest

from cwsim.simulator.connectwise.backend import url_uuid5
from cwsim.simulator.connectwise.query import Planner
from cwsim.simulator.connectwise.rendering import Renderer

from .conftest import Api


@pytest.fixture
def ticket(api: Api) -> dict:
    created = api.post("service/tickets", json={"summary": "cache me", "company": {"id": 2}, "board": {"id": 1}})
    assert created.status_code == 201, created.json
    return created.json


def test_the_same_stored_record_is_rendered_once(api: Api, ticket: dict) -> None:
    backend = api.world.backend
    collection = backend.collection("service/tickets")
    renderer = backend.renderer(collection)
    record = backend.store.get("service/tickets", ticket["id"])
    first = renderer.render(record, "http://x/apis/3.0")
    assert renderer.render(record, "http://x/apis/3.0") is first
    assert renderer.render(record, "https://y/apis/3.0") is not first
    assert renderer.render(record, "https://y/apis/3.0")["board"]["_info"]["board_href"].startswith("https://y/")


def test_a_changed_ticket_is_shown_changed(api: Api, ticket: dict) -> None:
    assert api.get(f"service/tickets/{ticket['id']}").json["summary"] == "cache me"
    patched = api.patch(f"service/tickets/{ticket['id']}", json=[{"op": "replace", "path": "summary", "value": "new"}])
    assert patched.status_code == 200
    assert api.get(f"service/tickets/{ticket['id']}").json["summary"] == "new"
    listed = api.get("service/tickets", query_string={"conditions": f"id={ticket['id']}"}).json
    assert [row["summary"] for row in listed] == ["new"]


def test_a_renamed_board_shows_on_a_ticket_already_rendered(api: Api, ticket: dict) -> None:
    board_id = ticket["board"]["id"]
    assert api.get(f"service/tickets/{ticket['id']}").json["board"]["name"] == ticket["board"]["name"]
    renamed = api.patch(f"service/boards/{board_id}", json=[{"op": "replace", "path": "name", "value": "Renamed"}])
    assert renamed.status_code == 200, renamed.json
    assert api.get(f"service/tickets/{ticket['id']}").json["board"]["name"] == "Renamed"


def test_a_reset_renders_afresh(api: Api, ticket: dict) -> None:
    api.get(f"service/tickets/{ticket['id']}")
    api.world.reset(startup=True)
    assert api.get(f"service/tickets/{ticket['id']}").status_code == 404


def test_negative_control_a_cache_blind_to_references_would_serve_a_stale_board(
    api: Api, ticket: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the referenced tables' versions in its key, the renamed board would not show: the test above
    catches that."""
    original = Renderer._layout

    def blind(self: Renderer, layout: tuple[str, ...]):
        plan, _ = original(self, layout)
        self._layouts[layout] = plan, []
        return plan, []

    monkeypatch.setattr(Renderer, "_layout", blind)
    api.world.backend._renderers.clear()
    board_id = ticket["board"]["id"]
    api.get(f"service/tickets/{ticket['id']}")
    api.patch(f"service/boards/{board_id}", json=[{"op": "replace", "path": "name", "value": "Stale?"}])
    assert api.get(f"service/tickets/{ticket['id']}").json["board"]["name"] != "Stale?"


def test_mobile_guids_are_uuid5_of_the_url_namespace() -> None:
    """The hand-made UUID 5 (made on every create) equals the standard library's, whatever the name."""
    for name in ("0/service/tickets/1", "7/company/configurations/123456", "é/ü" * 40, ""):
        assert url_uuid5(name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    assert url_uuid5("a") != url_uuid5("b")


def _more_tickets_than_statuses(api: Api) -> None:
    """The planner turns `status/name=...` into status ids only when the statuses are the smaller table."""
    backend = api.world.backend
    tickets = backend.collection("service/tickets")
    statuses = len(backend.store.table("service/boards/statuses").records)
    for number in range(statuses + 1 - len(backend.store.table("service/tickets").records)):
        backend.create(tickets, {"summary": f"filler {number}", "company": {"id": 2}, "board": {"id": 1}})


def _named(api: Api, ticket: dict, name: str) -> list[int]:
    condition = f'status/name="{name}" and id={ticket["id"]}'
    answer = api.get("service/tickets", query_string={"conditions": condition})
    assert answer.status_code == 200, answer.json
    return [row["id"] for row in answer.json]


def _rename_status(api: Api, ticket: dict, name: str) -> None:
    path = f"service/boards/{ticket['board']['id']}/statuses/{ticket['status']['id']}"
    renamed = api.patch(path, json=[{"op": "replace", "path": "name", "value": name}])
    assert renamed.status_code == 200, renamed.json


def test_a_renamed_status_is_found_by_a_condition_asked_before(api: Api, ticket: dict) -> None:
    _more_tickets_than_statuses(api)
    assert _named(api, ticket, "Fresh name") == []
    assert api.world.backend.matching_ids, "the planner should have kept the statuses matching the term"
    _rename_status(api, ticket, "Fresh name")
    assert _named(api, ticket, "Fresh name") == [ticket["id"]]


def test_negative_control_matching_ids_kept_regardless_of_the_table_would_miss_the_rename(
    api: Api, ticket: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept without the statuses table's version, the renamed status would not be found: the test above
    catches that."""
    kept: dict = {}
    original = Planner._matching_ids

    def forever(self: Planner, target, inner):
        key = (target.table, inner.path, inner.op, inner.value)
        if key not in kept:
            kept[key] = original(self, target, inner)
        return kept[key]

    monkeypatch.setattr(Planner, "_matching_ids", forever)
    _more_tickets_than_statuses(api)
    assert _named(api, ticket, "Fresh name") == []
    _rename_status(api, ticket, "Fresh name")
    assert _named(api, ticket, "Fresh name") == []
