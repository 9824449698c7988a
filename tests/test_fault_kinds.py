"""The fault kinds the app answers: malformed JSON, drawn latency, a per-client rate limit, domain triggers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cwsim.simulator.fault_schema import load_fault_rules
from cwsim.simulator.faults import FaultBook, FaultRequest, client_of
from cwsim.simulator.pytest_plugin import basic_auth

from .conftest import INTEGRATOR_HEADERS, Api

TICKET = {"summary": "Backup failed", "company": {"id": 1}}
COLLECTIONS = ["service/tickets", "service/tickets/notes", "service/boards"]


def add(api: Api, *rules: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.client.post("/_sim/faults", json=list(rules))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def problems(api: Api, rule: dict[str, Any]) -> dict[str, str]:
    response = api.client.post("/_sim/faults", json=rule)
    assert response.status_code == 400
    return {problem["field"]: problem["message"] for problem in response.get_json()["errors"]}


# -- malformed JSON --------------------------------------------------------------------------


def test_malformed_json_cuts_the_real_answer_and_the_write_still_happens(api: Api) -> None:
    assert json.loads(api.post("service/tickets", json=TICKET).data)["id"] == 1, "negative control: valid JSON"
    add(api, {"method": "POST", "collection": "service/tickets", "count": 1, "effect": {"kind": "malformed_json"}})
    spoiled = api.post("service/tickets", json=TICKET)
    assert spoiled.status_code == 201 and spoiled.headers["X-Cwsim-Fault"] == "1"
    with pytest.raises(json.JSONDecodeError):
        json.loads(spoiled.data)
    assert spoiled.data.startswith(b'{"id":2')
    assert api.get("service/tickets/count").get_json() == {"count": 2}
    assert json.loads(api.post("service/tickets", json=TICKET).data)["id"] == 3, "spent after its count"


def test_malformed_json_on_an_empty_answer_is_a_lone_brace(api: Api) -> None:
    ticket = api.post("service/tickets", json=TICKET).get_json()
    add(api, {"method": "DELETE", "path": "service/tickets/*", "effect": {"kind": "malformed_json"}})
    response = api.delete(f"service/tickets/{ticket['id']}")
    assert response.status_code == 200 and response.data == b"{"


# -- latency from a distribution ---------------------------------------------------------------


def delays(document: dict[str, Any], draws: int = 200) -> list[float]:
    book = FaultBook(simulated=lambda: None)  # type: ignore[arg-type,return-value]
    book.add(load_fault_rules(document, COLLECTIONS))
    found = []
    for _ in range(draws):
        decision = book.decide(FaultRequest("GET", "/v4_6_release/apis/3.0/service/boards"))
        assert decision is not None
        found.append(decision.delay_s)
    return found


def test_lognormal_latency_is_seeded_and_centred_on_its_median() -> None:
    rule = {
        "seed": 11,
        "effect": {"kind": "latency", "delay_distribution": {"type": "lognormal", "median_ms": 80, "sigma": 0.4}},
    }
    drawn = delays(rule)
    assert drawn == delays(rule), "the same seed draws the same delays"
    assert drawn != delays({**rule, "seed": 12}), "negative control: another seed draws others"
    middle = sorted(drawn)[len(drawn) // 2]
    assert 0.06 < middle < 0.1 and max(drawn) > 0.1 > min(drawn)


def test_uniform_latency_stays_inside_its_bounds() -> None:
    drawn = delays(
        {"effect": {"kind": "latency", "delay_distribution": {"type": "uniform", "lower_ms": 5, "upper_ms": 15}}}
    )
    assert all(0.005 <= delay <= 0.015 for delay in drawn) and len(set(drawn)) > 100


def test_an_error_can_come_after_a_drawn_delay(api: Api) -> None:
    distribution = {"type": "uniform", "lower_ms": 1, "upper_ms": 2}
    add(
        api, {"path": "service/boards", "effect": {"kind": "status", "status": 504, "delay_distribution": distribution}}
    )
    started = api.world.journal.entries()
    response = api.get("service/boards")
    assert response.status_code == 504 and not started
    assert api.world.journal.entries()[-1].duration_ms >= 1


@pytest.mark.parametrize(
    ("effect", "field", "message"),
    [
        ({"kind": "latency"}, "effect.latency_ms", "needs latency_ms or delay_distribution"),
        (
            {
                "kind": "latency",
                "latency_ms": 5,
                "delay_distribution": {"type": "uniform", "lower_ms": 1, "upper_ms": 2},
            },
            "effect.delay_distribution",
            "not both",
        ),
        (
            {"kind": "latency", "delay_distribution": {"type": "lognormal", "median_ms": 5}},
            "effect.delay_distribution.sigma",
            "needs sigma",
        ),
        (
            {"kind": "latency", "delay_distribution": {"type": "uniform", "lower_ms": 9, "upper_ms": 2}},
            "effect.delay_distribution.upper_ms",
            "at least lower_ms",
        ),
        (
            {"kind": "latency", "delay_distribution": {"type": "pareto"}},
            "effect.delay_distribution.type",
            "Must be one of",
        ),
        ({"kind": "rate_limit"}, "effect.requests", "needs requests"),
        ({"kind": "dribble"}, "effect.duration_ms", "needs duration_ms"),
        ({"kind": "connection_reset", "at": "sometime"}, "effect.at", "Must be one of"),
        ({"kind": "malformed_json", "status": 500}, "effect.status", "does not apply to kind malformed_json"),
    ],
)
def test_bad_effects_are_refused_naming_the_field(api: Api, effect: dict[str, Any], field: str, message: str) -> None:
    found = problems(api, {"effect": effect})
    assert message in found[field], found


# -- the rate limiter --------------------------------------------------------------------------


def test_a_rate_limit_answers_429_past_n_requests_per_client_and_spares_other_clients(api: Api) -> None:
    # per_s is long so the test never depends on how fast the machine is
    add(api, {"path": "service/*", "effect": {"kind": "rate_limit", "requests": 3, "per_s": 3600}})
    assert [api.get("service/boards").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("service/boards")
    assert refused.status_code == 429 and refused.get_json()["code"] == "TooManyRequests"
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600
    assert api.get("service/boards", headers=INTEGRATOR_HEADERS).status_code == 200, "another user is not limited"
    assert api.get("company/companies").status_code == 200, "a path the rule does not match is not limited"


def test_under_its_limit_a_rate_limit_steps_aside_for_the_next_rule(api: Api) -> None:
    add(
        api,
        {"path": "service/boards", "effect": {"kind": "rate_limit", "requests": 1, "per_s": 3600}},
        {"path": "service/boards", "effect": {"kind": "status", "status": 418}},
    )
    assert api.get("service/boards").status_code == 418, "counted, then the next rule applied"
    assert api.get("service/boards").status_code == 429


def test_the_client_is_the_basic_auth_user_or_else_the_address() -> None:
    assert client_of(basic_auth("cwsim", "cwsim-public", "secret"), "127.0.0.1") == "user:cwsim+cwsim-public"
    assert client_of(None, "127.0.0.9") == "address:127.0.0.9"
    assert client_of("Basic !!!", "127.0.0.9") == "address:127.0.0.9"
    assert "secret" not in client_of(basic_auth("cwsim", "cwsim-public", "secret"), None)


def test_a_rate_limit_takes_no_probability_or_count(api: Api) -> None:
    found = problems(api, {"count": 3, "probability": 0.5, "effect": {"kind": "rate_limit", "requests": 5}})
    assert set(found) == {"count", "probability"}


# -- domain-event triggers ---------------------------------------------------------------------


def test_the_nth_ticket_for_a_company_fails_and_no_other(api: Api) -> None:
    add(
        api,
        {"trigger": {"on": "ticket_for_company", "company": 2, "nth": 3}, "effect": {"kind": "status", "status": 500}},
    )
    other = {**TICKET, "company": {"id": 1}}
    mine = {**TICKET, "company": {"id": 2}}
    assert [api.post("service/tickets", json=other).status_code for _ in range(3)] == [201] * 3, "negative control"
    assert [api.post("service/tickets", json=mine).status_code for _ in range(2)] == [201, 201]
    assert api.post("service/tickets", json=mine).status_code == 500
    assert api.post("service/tickets", json=mine).status_code == 201, "one Nth ticket, then spent"
    assert api.get("service/tickets/count", query_string={"conditions": "company/id=2"}).get_json() == {"count": 3}


def test_the_nth_ticket_trigger_knows_the_company_by_identifier_and_can_let_it_commit(api: Api) -> None:
    company = api.get("company/companies/2").get_json()
    add(
        api,
        {"trigger": {"on": "ticket_for_company", "company": 2, "nth": 1}, "effect": {"kind": "commit_then_fail"}},
    )
    response = api.post("service/tickets", json={**TICKET, "company": {"identifier": company["identifier"]}})
    assert response.status_code == 500
    assert api.get("service/tickets/count", query_string={"conditions": "company/id=2"}).get_json() == {"count": 1}
    described = api.client.get("/_sim/faults/1").get_json()
    assert described["state"] == "spent" and described["trigger"]["created"] == 1


def test_a_write_to_a_closed_ticket_fails_and_a_read_or_an_open_ticket_does_not(api: Api) -> None:
    ticket = api.post("service/tickets", json=TICKET).get_json()
    add(
        api,
        {"trigger": {"on": "closed_ticket_write"}, "effect": {"kind": "status", "status": 400, "code": "TicketClosed"}},
    )
    rename = [{"op": "replace", "path": "summary", "value": "Still open"}]
    assert api.patch(f"service/tickets/{ticket['id']}", json=rename).status_code == 200, "negative control: open"
    closed = api.get(
        f"service/boards/{ticket['board']['id']}/statuses", query_string={"conditions": "closedStatus=true"}
    )
    close = [{"op": "replace", "path": "status/id", "value": closed.get_json()[0]["id"]}]
    assert api.patch(f"service/tickets/{ticket['id']}", json=close).get_json()["closedFlag"] is True
    refused = api.patch(f"service/tickets/{ticket['id']}", json=rename)
    assert refused.status_code == 400 and refused.get_json()["code"] == "TicketClosed"
    note = api.post(f"service/tickets/{ticket['id']}/notes", json={"text": "more", "detailDescriptionFlag": True})
    assert note.status_code == 400
    assert api.get(f"service/tickets/{ticket['id']}").status_code == 200, "reads are not writes"


def test_the_first_request_after_a_configuration_is_deleted_fails_once_per_deletion(api: Api) -> None:
    add(
        api,
        {
            "path": "company/configurations*",
            "trigger": {"on": "configuration_deleted"},
            "effect": {"kind": "status", "status": 503},
        },
    )
    kind = api.get("company/configurations/types").get_json()[0]
    configurations = [
        api.post(
            "company/configurations", json={"name": f"SIRIS {n}", "type": {"id": kind["id"]}, "company": {"id": 1}}
        )
        for n in range(2)
    ]
    configurations = [response.get_json() for response in configurations]
    assert api.get("company/configurations").status_code == 200, "negative control: nothing deleted yet"
    assert api.delete(f"company/configurations/{configurations[0]['id']}").status_code == 204
    assert api.get("company/configurations").status_code == 503
    assert api.get("company/configurations").status_code == 200
    assert api.delete(f"company/configurations/{configurations[1]['id']}").status_code == 204
    assert api.get("company/configurations/count").status_code == 503, "armed again by the next deletion"


def test_a_trigger_resets_with_the_book(api: Api) -> None:
    api.world.faults.set_initial(
        load_fault_rules(
            {
                "trigger": {"on": "ticket_for_company", "company": 1, "nth": 1},
                "effect": {"kind": "status", "status": 500},
            },
            api.world.backend.collections,
        )
    )
    try:
        assert api.post("service/tickets", json=TICKET).status_code == 500
        api.world.reset()
        assert api.post("service/tickets", json=TICKET).status_code == 500, "counts start afresh after a reset"
    finally:
        api.world.faults.set_initial(())


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        ({"trigger": {"on": "ticket_for_company", "company": 1}}, "trigger.nth", "needs nth"),
        (
            {"trigger": {"on": "ticket_for_company", "company": 1, "nth": 1}, "path": "x"},
            "path",
            "is about POST service/tickets",
        ),
        ({"trigger": {"on": "closed_ticket_write"}, "method": "GET"}, "method", "about writes"),
        ({"trigger": {"on": "closed_ticket_write", "company": 1}}, "trigger.company", "does not apply"),
        ({"trigger": {"on": "the_moon"}}, "trigger.on", "Must be one of"),
    ],
)
def test_bad_triggers_are_refused_naming_the_field(api: Api, rule: dict[str, Any], field: str, message: str) -> None:
    found = problems(api, {**rule, "effect": {"kind": "status", "status": 500}})
    assert message in found[field], found


def test_a_gate_takes_no_trigger(api: Api) -> None:
    found = problems(api, {"trigger": {"on": "closed_ticket_write"}, "effect": {"kind": "rate_limit", "requests": 1}})
    assert "takes no trigger" in found["trigger"]


NEW_EFFECTS = [
    {"kind": "malformed_json"},
    {"kind": "latency", "delay_distribution": {"type": "uniform", "lower_ms": 1, "upper_ms": 2}},
    {"kind": "rate_limit", "requests": 1, "per_s": 3600},
    {"kind": "connection_reset", "at": "request"},
    {"kind": "empty_response"},
    {"kind": "dribble", "duration_ms": 10},
]


@pytest.mark.parametrize("clock", ["simulated", "wall"])
@pytest.mark.parametrize("effect", NEW_EFFECTS, ids=lambda effect: effect["kind"])
def test_every_new_kind_keeps_to_its_window_on_its_own_clock(effect: dict[str, Any], clock: str) -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    now = {"simulated": start, "wall": start + timedelta(days=400)}
    book = FaultBook(simulated=lambda: now["simulated"], wall=lambda: now["wall"])
    book.add(load_fault_rules({"effect": effect, "window": {"duration_s": 30, "clock": clock}}, COLLECTIONS))
    connection = effect["kind"] in ("connection_reset", "empty_response", "dribble")

    def fires() -> bool:
        request = FaultRequest("GET", "/v4_6_release/apis/3.0/service/boards", client=lambda: "user:x")
        decision = book.decide(request, connection=connection)
        return decision is not None and (effect["kind"] != "rate_limit" or decision.answer_now is not None)

    if effect["kind"] == "rate_limit":
        assert not fires(), "the first request is under the limit"
    assert fires()
    other = "wall" if clock == "simulated" else "simulated"
    now[other] += timedelta(hours=5)
    assert fires(), "the other clock does not end the window"
    now[clock] += timedelta(seconds=30)
    assert not fires(), "its own clock does"
    assert book.decide(FaultRequest("GET", "/x"), connection=not connection) is None, "the other side never decides it"
