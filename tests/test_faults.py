"""Fault rules over HTTP (in-process): each effect, when rules fire, what they match, the admin API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cwsim.simulator.clock import ClockMode, SimClock
from cwsim.simulator.connectwise.store import StoreEvent
from cwsim.simulator.fault_hooks import FAULT_HEADER
from cwsim.simulator.fault_schema import load_fault_rules
from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

from .conftest import Api

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class ManualClock(SimClock):
    """The simulated clock in stepped mode: it moves only when told."""

    def __init__(self, now: datetime) -> None:
        super().__init__(ClockMode.STEPPED, now)

    def advance(self, seconds: float) -> None:  # type: ignore[override]
        super().advance(timedelta(seconds=seconds))


def add_fault(api: Api, rule: dict[str, Any] | list[dict[str, Any]]) -> Any:
    response = api.client.post("/_sim/faults", json=rule)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def faults(api: Api) -> list[dict[str, Any]]:
    return api.client.get("/_sim/faults").get_json()


def last_journal_entry(api: Api) -> dict[str, Any]:
    return api.client.get("/_sim/requests").get_json()[-1]


def new_ticket(api: Api, summary: str = "Backup failed") -> Any:
    return api.post("service/tickets", {"summary": summary, "company": {"id": 1}})


def ticket_count(api: Api) -> int:
    return api.get("service/tickets/count").get_json()["count"]


# -- effects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BadRequest"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "NotFound"),
        (409, "Conflict"),
        (418, "BadRequest"),
        (500, "ConnectWiseApi"),
        (502, "BadGateway"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
        (507, "ConnectWiseApi"),
    ],
)
def test_a_status_fault_answers_with_a_connectwise_error_body(api: Api, status: int, code: str) -> None:
    rule = add_fault(api, {"path": "service/boards*", "effect": {"kind": "status", "status": status}})
    response = api.get("service/boards")
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}
    assert body["code"] == code and body["message"] and body["errors"] is None
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers[FAULT_HEADER] == str(rule["id"])
    assert last_journal_entry(api)["status"] == status


def test_a_status_fault_takes_its_code_and_message(api: Api) -> None:
    add_fault(api, {"effect": {"kind": "status", "status": 500, "code": "Timeout", "message": "A timeout occurred"}})
    assert api.get("service/boards").get_json() == {"code": "Timeout", "message": "A timeout occurred", "errors": None}


def test_a_throttle_answers_429_with_retry_after(api: Api) -> None:
    add_fault(
        api, [{"method": "GET", "effect": {"kind": "throttle"}}, {"effect": {"kind": "throttle", "retry_after": 30}}]
    )
    default = api.get("service/boards")
    assert default.status_code == 429 and default.headers["Retry-After"] == "1"
    assert default.get_json()["code"] == "TooManyRequests"
    settable = new_ticket(api)
    assert settable.status_code == 429 and settable.headers["Retry-After"] == "30"
    assert "30 seconds" in settable.get_json()["message"]


def test_latency_delays_the_request_and_the_app_still_answers(api: Api) -> None:
    rule = add_fault(api, {"path": "service/boards", "effect": {"kind": "latency", "latency_ms": 40}})
    response = api.get("service/boards")
    assert response.status_code == 200 and isinstance(response.get_json(), list)
    assert response.headers[FAULT_HEADER] == str(rule["id"])
    assert last_journal_entry(api)["duration_ms"] >= 40
    assert faults(api)[0]["fired"] == 1


def test_an_error_can_come_late_too(api: Api) -> None:
    add_fault(api, {"effect": {"kind": "status", "status": 504, "latency_ms": 30}})
    assert api.get("service/boards").status_code == 504
    assert last_journal_entry(api)["duration_ms"] >= 30


def test_commit_then_fail_answers_500_but_the_ticket_exists(api: Api) -> None:
    add_fault(api, {"collection": "service/tickets", "effect": {"kind": "commit_then_fail"}, "count": 1})
    response = new_ticket(api, "Created, then the answer was lost")
    assert response.status_code == 500
    assert response.get_json()["code"] == "ConnectWiseApi"
    assert last_journal_entry(api)["status"] == 500
    tickets = api.get("service/tickets").get_json()
    assert [ticket["summary"] for ticket in tickets] == ["Created, then the answer was lost"]
    retry = new_ticket(api, "Created, then the answer was lost")
    assert retry.status_code == 201, "the rule is spent after one"
    assert ticket_count(api) == 2, "a careless client that retries makes a duplicate"


def test_a_plain_500_status_fault_does_not_create_the_ticket(api: Api) -> None:
    add_fault(api, {"collection": "service/tickets", "method": "POST", "effect": {"kind": "status", "status": 500}})
    assert new_ticket(api).status_code == 500
    assert ticket_count(api) == 0


def test_commit_then_fail_on_patch_and_delete_keeps_the_write(api: Api) -> None:
    ticket = new_ticket(api).get_json()
    add_fault(api, {"collection": "service/tickets", "effect": {"kind": "commit_then_fail", "status": 502}})
    patch = api.patch(f"service/tickets/{ticket['id']}", [{"op": "replace", "path": "summary", "value": "Changed"}])
    assert patch.status_code == 502
    assert api.get(f"service/tickets/{ticket['id']}").get_json()["summary"] == "Changed"
    assert api.delete(f"service/tickets/{ticket['id']}").status_code == 502
    assert api.get(f"service/tickets/{ticket['id']}").status_code == 404


def test_commit_then_fail_counts_only_requests_that_wrote(api: Api) -> None:
    rule = add_fault(api, {"collection": "service/tickets", "effect": {"kind": "commit_then_fail"}, "count": 1})
    assert api.post("service/tickets", {"summary": "no company"}).status_code == 400
    assert api.get("service/tickets").status_code == 200, "GET is not a write: not matched by default"
    [described] = faults(api)
    assert (described["matched"], described["fired"], described["state"]) == (1, 0, "live")
    assert sorted(described["method"]) == ["DELETE", "PATCH", "POST", "PUT"]
    assert new_ticket(api).status_code == 500
    assert faults(api)[0]["fired"] == 1 and faults(api)[0]["state"] == "spent"
    assert rule["id"] == described["id"]


def test_commit_then_fail_ignores_writes_made_outside_a_request(api: Api) -> None:
    add_fault(api, {"effect": {"kind": "commit_then_fail"}})
    collection = api.world.backend.collection("service/tickets")
    api.world.backend.create(collection, {"summary": "from the fleet", "company": {"id": 1}})
    assert faults(api)[0]["fired"] == 0
    assert ticket_count(api) == 1


def test_a_request_stops_watching_for_commits_when_it_ends(api: Api) -> None:
    add_fault(api, {"collection": "service/tickets", "effect": {"kind": "commit_then_fail"}})
    assert api.post("service/tickets", {"summary": "no company"}).status_code == 400
    collection = api.world.backend.collection("service/tickets")
    api.world.backend.create(collection, {"summary": "later, in the same thread", "company": {"id": 1}})
    assert faults(api)[0]["fired"] == 0


def test_an_outage_fails_every_matching_request_until_its_window_ends() -> None:
    clock = ManualClock(START)
    world = World(WorldOptions(seed=3, companies=3), clock=clock)
    api = Api(create_app(world).test_client(), world)
    add_fault(api, {"collection": "service/tickets", "effect": {"kind": "outage"}, "window": {"duration_s": 60}})
    for _ in range(5):
        assert new_ticket(api).status_code == 503
    assert api.get("service/boards").status_code == 200, "other collections still answer"
    clock.advance(59.9)
    assert api.get("service/tickets").status_code == 503
    assert faults(api)[0]["state"] == "live"
    clock.advance(0.1)
    assert new_ticket(api).status_code == 201
    described = faults(api)[0]
    assert (described["state"], described["matched"], described["fired"]) == ("over", 6, 6)
    assert described["window"] == {"clock": "simulated", "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:01:00Z"}
    assert world.errors == []


def test_a_window_in_the_future_waits_for_its_start() -> None:
    clock = ManualClock(START)
    world = World(WorldOptions(seed=3, companies=3), clock=clock)
    api = Api(create_app(world).test_client(), world)
    window = {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:30:00Z"}
    add_fault(api, {"effect": {"kind": "outage", "status": 502}, "window": window})
    assert api.get("service/boards").status_code == 200
    assert faults(api)[0]["state"] == "pending"
    clock.advance(3600)
    assert api.get("service/boards").status_code == 502
    clock.advance(1800)
    assert api.get("service/boards").status_code == 200


def test_a_probability_rule_repeats_exactly_for_the_same_seed(api: Api) -> None:
    def statuses(seed: int) -> list[int]:
        api.client.delete("/_sim/faults")
        add_fault(api, {"probability": 0.3, "seed": seed, "effect": {"kind": "status", "status": 503}})
        return [api.get("service/boards/count").status_code for _ in range(200)]

    first, again, other = statuses(11), statuses(11), statuses(12)
    assert first == again
    assert first != other
    assert 40 <= first.count(503) <= 80, "roughly 30 % of 200"
    assert set(first) == {200, 503}


def test_a_count_rule_is_spent_after_n(api: Api) -> None:
    add_fault(api, {"path": "service/boards", "count": 2, "effect": {"kind": "status", "status": 503}})
    assert [api.get("service/boards").status_code for _ in range(4)] == [503, 503, 200, 200]
    described = faults(api)[0]
    assert (described["matched"], described["fired"], described["state"]) == (2, 2, "spent")


# -- which rule, which requests -------------------------------------------------------------


def test_the_first_matching_rule_wins(api: Api) -> None:
    add_fault(
        api,
        [
            {"path": "service/boards", "count": 1, "effect": {"kind": "status", "status": 502}},
            {"path": "service/*", "effect": {"kind": "status", "status": 503}},
            {"path": "service/boards", "effect": {"kind": "status", "status": 504}},
        ],
    )
    assert [api.get("service/boards").status_code for _ in range(3)] == [502, 503, 503]
    assert [rule["fired"] for rule in faults(api)] == [1, 2, 0]


def test_a_rule_whose_draw_fails_steps_aside_for_the_next(api: Api) -> None:
    add_fault(
        api,
        [
            {"probability": 0.5, "seed": 1, "effect": {"kind": "status", "status": 503}},
            {"effect": {"kind": "status", "status": 404}},
        ],
    )
    statuses = [api.get("service/boards").status_code for _ in range(40)]
    assert set(statuses) == {503, 404}
    first, second = faults(api)
    assert first["matched"] == 40 and first["fired"] + second["fired"] == 40
    assert second["matched"] == second["fired"] == statuses.count(404)


@pytest.mark.parametrize(
    ("method", "hits"),
    [
        ("POST", {"POST"}),
        ("post", {"POST"}),
        (["PUT", "PATCH"], {"PUT", "PATCH"}),
        ("*", {"GET", "POST", "PUT", "PATCH", "DELETE"}),
        (None, {"GET", "POST", "PUT", "PATCH", "DELETE"}),
    ],
)
def test_rules_match_on_method(api: Api, method: Any, hits: set[str]) -> None:
    rule: dict[str, Any] = {"path": "service/tickets*", "effect": {"kind": "status", "status": 418}}
    if method is not None:
        rule["method"] = method
    add_fault(api, rule)
    answered = {verb: api.call(verb, "service/tickets/1", json={}).status_code for verb in ("GET", "PUT", "PATCH")}
    answered["DELETE"] = api.delete("service/tickets/1").status_code
    answered["POST"] = api.post("service/tickets", {}).status_code
    assert {verb for verb, status in answered.items() if status == 418} == hits


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("service/tickets*", "service/tickets", True),
        ("service/tickets*", "service/tickets/", True),
        ("service/tickets*", "service/tickets/3/notes", True),
        ("SERVICE/Tickets", "service/TICKETS", True),
        ("service/tickets", "service/tickets/count", False),
        ("service/tickets/*/notes", "service/tickets/3/notes", True),
        ("service/tickets/?", "service/tickets/3", True),
        ("service/tickets/?", "service/tickets/13", False),
        ("/service/tickets", "service/tickets", True),
        ("company/*", "service/tickets", False),
        ("/v4_6_release/apis/3.0/service/*", "service/boards", True),
        ("/*/apis/3.0/system/info", "system/info", True),
    ],
)
def test_rules_match_a_glob_over_the_api_path(api: Api, pattern: str, path: str, hit: bool) -> None:
    add_fault(api, {"path": pattern, "effect": {"kind": "status", "status": 418}})
    assert (api.get(path).status_code == 418) is hit


def test_a_pattern_with_a_leading_slash_matches_the_whole_request_path(api: Api) -> None:
    add_fault(api, {"path": "/login/companyinfo/*", "effect": {"kind": "status", "status": 503}})
    assert api.client.get("/login/companyinfo/cwsim").status_code == 503
    assert api.get("service/boards").status_code == 200


def test_any_path_outside_the_api_is_faultable_by_path(api: Api) -> None:
    add_fault(api, {"path": "/v1/bcdr/*", "effect": {"kind": "status", "status": 503}})
    assert api.client.get("/v1/bcdr/device").status_code == 503
    assert api.get("service/boards").status_code == 200


@pytest.mark.parametrize(
    ("path", "method", "hit"),
    [
        ("service/tickets", "GET", True),
        ("service/tickets/", "GET", True),
        ("service/tickets/1", "GET", True),
        ("service/tickets/count", "GET", True),
        ("service/tickets/search", "POST", True),
        ("service/tickets/1/notes", "GET", True),
        ("service/tickets/1/notes/count", "GET", True),
        ("SERVICE/TICKETS/1", "GET", True),
        ("service/boards", "GET", False),
        ("service/boards/1/statuses", "GET", False),
        ("company/companies", "GET", False),
        ("service/ticketsx", "GET", False),
    ],
)
def test_a_collection_rule_matches_its_list_item_count_search_and_children(
    api: Api, path: str, method: str, hit: bool
) -> None:
    add_fault(api, {"collection": "service/tickets", "effect": {"kind": "status", "status": 418}})
    assert (api.call(method, path, json={}).status_code == 418) is hit


def test_a_child_collection_rule_matches_only_the_child(api: Api) -> None:
    ticket = new_ticket(api).get_json()
    add_fault(api, {"collection": "service/tickets/notes", "effect": {"kind": "status", "status": 418}})
    assert api.get(f"service/tickets/{ticket['id']}/notes").status_code == 418
    assert api.get(f"service/tickets/{ticket['id']}").status_code == 200
    assert api.client.get("/v4_6_release/apis/3.0/service/tickets").status_code == 401, "unauthenticated, not faulted"


def test_the_admin_api_is_never_faulted(api: Api) -> None:
    add_fault(api, {"effect": {"kind": "status", "status": 503}})
    add_fault(api, {"path": "/_sim*", "effect": {"kind": "status", "status": 503}})
    assert api.client.get("/_sim/health").status_code == 200
    assert api.client.get("/_sim/requests").status_code == 200
    assert len(faults(api)) == 2
    assert all(rule["matched"] == 0 for rule in faults(api))
    assert api.get("service/boards").status_code == 503


# -- the admin API --------------------------------------------------------------------------


def test_rules_are_listed_in_order_with_ids_and_counters(api: Api) -> None:
    added = add_fault(
        api,
        [
            {"name": "flaky", "method": "GET", "path": "service/*", "probability": 0.25, "seed": 4,
             "effect": {"kind": "status", "status": 503}},
            {"collection": "service/tickets", "count": 2, "effect": {"kind": "commit_then_fail", "status": 504}},
        ],
    )  # fmt: skip
    assert [rule["id"] for rule in added] == [1, 2]
    assert faults(api) == added
    assert added[0] == {
        "id": 1,
        "name": "flaky",
        "method": "GET",
        "path": "service/*",
        "effect": {
            "kind": "status",
            "status": 503,
            "code": "ServiceUnavailable",
            "message": "The service is temporarily unavailable.",
        },
        "probability": 0.25,
        "seed": 4,
        "matched": 0,
        "fired": 0,
        "state": "live",
    }
    assert added[1]["effect"]["status"] == 504 and added[1]["count"] == 2
    one = api.client.get("/_sim/faults/2")
    assert one.status_code == 200 and one.get_json() == added[1]


def test_a_single_rule_is_answered_as_an_object(api: Api) -> None:
    added = add_fault(api, {"effect": {"kind": "latency", "latency_ms": 5}})
    assert added["id"] == 1 and added["effect"] == {"kind": "latency", "latency_ms": 5}
    assert added["method"] == "*"


def test_rules_are_deleted_one_by_one_or_all_at_once(api: Api) -> None:
    add_fault(api, [{"effect": {"kind": "status", "status": 503}}, {"effect": {"kind": "status", "status": 502}}])
    assert api.client.delete("/_sim/faults/1").status_code == 204
    assert api.get("service/boards").status_code == 502
    missing = api.client.delete("/_sim/faults/1")
    assert missing.status_code == 404
    assert missing.get_json() == {"code": "NotFound", "message": "Fault rule 1 not found", "errors": None}
    assert api.client.get("/_sim/faults/9").status_code == 404
    assert api.client.delete("/_sim/faults").status_code == 204
    assert faults(api) == []
    assert api.get("service/boards").status_code == 200
    assert add_fault(api, {"effect": {"kind": "status", "status": 503}})["id"] == 3, "ids are not reused"


def test_reset_clears_faults(api: Api) -> None:
    add_fault(api, {"effect": {"kind": "status", "status": 503}})
    assert api.client.post("/_sim/reset").status_code == 200
    assert faults(api) == []
    assert api.get("service/boards").status_code == 200
    assert add_fault(api, {"effect": {"kind": "status", "status": 503}})["id"] == 1


def test_reset_brings_back_the_rules_given_at_start_with_fresh_counters() -> None:
    specs = load_fault_rules({"path": "service/boards", "count": 1, "effect": {"kind": "status", "status": 503}}, [])
    world = World(WorldOptions(seed=3, companies=3, faults=tuple(specs)))
    api = Api(create_app(world).test_client(), world)
    assert api.get("service/boards").status_code == 503
    assert api.get("service/boards").status_code == 200
    add_fault(api, {"effect": {"kind": "status", "status": 502}})
    api.client.post("/_sim/reset")
    [rule] = faults(api)
    assert (rule["id"], rule["fired"], rule["state"]) == (1, 0, "live")
    assert api.get("service/boards").status_code == 503


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        ({}, {"effect"}),
        ({"effect": {}}, {"effect.kind"}),
        ({"effect": {"kind": "explode"}}, {"effect.kind"}),
        ({"effect": {"kind": "status"}}, {"effect.status"}),
        ({"effect": {"kind": "status", "status": 200}}, {"effect.status"}),
        ({"effect": {"kind": "status", "status": "503"}}, {"effect.status"}),
        ({"effect": {"kind": "status", "status": 503, "retry_after": 3}}, {"effect.retry_after"}),
        ({"effect": {"kind": "commit_then_fail", "status": 404}}, {"effect.status"}),
        ({"effect": {"kind": "commit_then_fail"}, "method": "GET"}, {"method"}),
        ({"effect": {"kind": "throttle", "retry_after": -1}}, {"effect.retry_after"}),
        ({"effect": {"kind": "latency"}}, {"effect.latency_ms"}),
        ({"effect": {"kind": "latency", "latency_ms": -5}}, {"effect.latency_ms"}),
        ({"effect": {"kind": "latency", "latency_ms": 10_000_000}}, {"effect.latency_ms"}),
        ({"effect": {"kind": "outage"}}, {"window"}),
        ({"effect": {"kind": "outage"}, "window": {"duration_s": 5}, "count": 3}, {"count"}),
        ({"effect": {"kind": "outage"}, "window": {"duration_s": 5}, "probability": 0.5}, {"probability"}),
        ({"effect": {"kind": "outage"}, "window": {"start": "2026-01-01T00:00:00Z"}}, {"window"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "method": "FETCH"}, {"method"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "method": []}, {"method"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "collection": "service/widgets"}, {"collection"}),
        (
            {"effect": {"kind": "latency", "latency_ms": 1}, "path": "a*", "collection": "service/tickets"},
            {"collection"},
        ),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "path": ""}, {"path"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "probability": 1.5}, {"probability"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "count": 0}, {"count"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "seed": 1.5}, {"seed"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "seed": 2**64}, {"seed"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "count": 2**64}, {"count"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "probablity": 0.5}, {"probablity"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "id": 4}, {"id"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "window": {}}, {"window.duration_s"}),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "window": {"duration_s": 0}}, {"window.duration_s"}),
        (
            {"effect": {"kind": "latency", "latency_ms": 1}, "window": {"duration_s": 1, "clock": "moon"}},
            {"window.clock"},
        ),
        ({"effect": {"kind": "latency", "latency_ms": 1}, "window": {"end": "tomorrow"}}, {"window.end"}),
        ({"effect": {"kind": "outage"}, "window": {"duration_s": 1e12}}, {"window.duration_s"}),
        (
            {"effect": {"kind": "outage"}, "window": {"start": "9999-12-31T23:59:59Z", "duration_s": 9}},
            {"window.start"},
        ),
        (
            {"effect": {"kind": "outage"}, "window": {"start": "0001-01-01T00:00:00+01:00", "end": "2026-01-01"}},
            {"window.start"},
        ),
        (
            {"effect": {"kind": "latency", "latency_ms": 1}, "window": {"start": "2026-01-02", "end": "2026-01-01"}},
            {"window.end"},
        ),
        (
            {"effect": {"kind": "latency", "latency_ms": 1}, "window": {"end": "2026-01-02", "duration_s": 1}},
            {"window.duration_s"},
        ),
        (
            {"effect": {"kind": "status", "status": 99}, "count": -1, "method": 3},
            {"effect.status", "count", "method"},
        ),
    ],
)
def test_a_bad_rule_is_a_400_naming_each_bad_field(api: Api, rule: dict[str, Any], fields: set[str]) -> None:
    response = api.client.post("/_sim/faults", json=rule)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["code"], body["message"]) == ("InvalidObject", "fault object is invalid")
    assert {error["field"] for error in body["errors"]} == fields
    assert all(error["message"] and error["resource"] == "fault" for error in body["errors"])
    assert faults(api) == []


def test_a_bad_rule_in_a_list_is_named_by_its_position_and_nothing_is_added(api: Api) -> None:
    good = {"effect": {"kind": "status", "status": 503}}
    response = api.client.post("/_sim/faults", json=[good, {"effect": {"kind": "status", "status": 600}}, "x"])
    assert response.status_code == 400
    assert {error["field"] for error in response.get_json()["errors"]} == {"[1].effect.status", "[2]"}
    assert faults(api) == []


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"3", b'"rule"', b"null"])
def test_a_body_that_is_not_a_rule_is_a_400(api: Api, body: bytes) -> None:
    response = api.client.post("/_sim/faults", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "body"


def test_a_new_backend_keeps_the_commit_hook() -> None:
    world = World(WorldOptions(seed=3, companies=3))
    replacement = type(world.backend)(world.backend.collections.values(), world.clock, world.backend.settings)
    world.backend = replacement
    assert world.faults.on_store_event in replacement.store.listeners
    replacement.store.listeners[-1](StoreEvent("insert", "service/tickets", {"id": 1}, None))
