"""A fault must never turn into a traceback: random rule bodies and random requests under random rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwsim.simulator.server import create_app
from cwsim.simulator.world import World, WorldOptions

from .conftest import MEMBER_HEADERS

pytestmark = pytest.mark.slow  # hypothesis runs of hundreds of fault rules each

API = "/v4_6_release/apis/3.0"
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=8)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KINDS = st.sampled_from(
    [
        "status",
        "throttle",
        "latency",
        "outage",
        "commit_then_fail",
        "malformed_json",
        "rate_limit",
        "connection_reset",
        "empty_response",
        "dribble",
        "nope",
    ]
)
STATUSES = st.sampled_from([200, 404, 429, 500, 503, 599, 600]) | st.integers()
ISO_TIMES = st.datetimes().map(lambda moment: moment.isoformat())
ODD_TIMES = ["2026-03-02T09:00:00Z", "2026-03-02", "2026-13-40T99:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01", ""]
TIMES = st.sampled_from(ODD_TIMES) | ISO_TIMES


DURATIONS = st.floats(-1, 1e12, allow_nan=False) | st.sampled_from([float("inf"), 1e300, 3.2e9, 1e-9, 60])
CLOCK_NAMES = st.sampled_from(["simulated", "wall", "moon"])
WINDOWS = st.fixed_dictionaries(
    {}, optional={"start": TIMES, "end": TIMES, "duration_s": DURATIONS, "clock": CLOCK_NAMES}
)


def rule_bodies(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Rule-shaped bodies with edge values, every field typed (`junk=False`) or sometimes any JSON at all."""

    def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return strategy | ANY_JSON if junk else strategy

    effects = st.fixed_dictionaries(
        {"kind": maybe(KINDS)},
        optional={
            "status": maybe(STATUSES),
            "code": maybe(st.text(max_size=5)),
            "message": maybe(st.text(max_size=5)),
            "retry_after": maybe(st.integers(-5, 100_000)),
            "latency_ms": maybe(st.floats(-1, 2, allow_nan=False)),
            "delay_distribution": maybe(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["lognormal", "uniform", "pareto"])},
                    optional={
                        "median_ms": st.floats(-1, 3, allow_nan=False),
                        "sigma": st.sampled_from([-1.0, 0.0, 0.3, 9.0]),  # a wide valid sigma would sleep long
                        "lower_ms": st.floats(-1, 3, allow_nan=False),
                        "upper_ms": st.floats(-1, 3, allow_nan=False),
                    },
                )
            ),
            "requests": maybe(st.integers(-1, 3)),
            "per_s": maybe(st.floats(-1, 1e9, allow_nan=False)),
            "at": maybe(st.sampled_from(["request", "response", "never"])),
            "chunks": maybe(st.integers(-1, 20_000)),
            "duration_ms": maybe(st.floats(-1, 3, allow_nan=False)),
        },
    )
    triggers = st.fixed_dictionaries(
        {"on": maybe(st.sampled_from(["ticket_for_company", "closed_ticket_write", "configuration_deleted", "x"]))},
        optional={
            "company": maybe(st.integers(-1, 4)),
            "nth": maybe(st.integers(-1, 3)),
            "configuration": maybe(st.integers(-1, 3)),
        },
    )
    windows = st.fixed_dictionaries(
        {},
        optional={
            "start": maybe(TIMES),
            "end": maybe(TIMES),
            "duration_s": maybe(DURATIONS),
            "clock": maybe(CLOCK_NAMES),
        },
    )
    methods = st.sampled_from(["GET", "post", "*", "FETCH"]) | st.lists(st.sampled_from(["PUT", "PATCH"]))
    paths = st.sampled_from(["service/*", "/v1/bcdr/*", "[", "[!a-]", "**", "service/tickets/?", "\\", "/"])
    collections = st.sampled_from(["service/tickets", "/service/tickets/", "service/tickets/notes", "nope"])
    return st.fixed_dictionaries(
        {"effect": maybe(effects)},
        optional={
            "name": maybe(st.text(max_size=5)),
            "method": maybe(methods),
            "path": maybe(paths),
            "collection": maybe(collections),
            "probability": maybe(st.floats(-0.5, 1.5, allow_nan=False)),
            "seed": maybe(st.integers()),
            "count": maybe(st.integers(-2, 5)),
            "window": maybe(windows),
            "trigger": maybe(triggers),
        },
    )


RULES = rule_bodies(junk=False) | rule_bodies(junk=True)
REQUESTS = st.tuples(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    st.sampled_from(
        [
            "service/tickets",
            "service/tickets/1",
            "service/tickets/count",
            "service/tickets/search",
            "service/tickets/1/notes",
            "service/boards",
            "company/companies/1",
            "system/info",
            "no/such/thing",
        ]
    ),
)


@pytest.fixture(scope="module")
def fuzz_world() -> World:
    return World(WorldOptions(seed=5, companies=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=RULES | st.lists(RULES, max_size=3) | ANY_JSON)
def test_any_rule_body_is_201_or_a_400_naming_fields(fuzz_world: World, body: Any) -> None:
    fuzz_world.faults.clear()
    fuzz_world.errors.clear()
    response = create_app(fuzz_world).test_client().post("/_sim/faults", json=body)
    assert response.status_code in (201, 400), response.get_json()
    if response.status_code == 400:
        errors = response.get_json()["errors"]
        assert errors and all(error["field"] and error["message"] for error in errors)
    else:
        assert create_app(fuzz_world).test_client().get("/_sim/faults").status_code == 200
    assert fuzz_world.errors == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=WINDOWS, kind=st.sampled_from(["outage", "latency"]))
def test_any_window_is_201_or_a_400(fuzz_world: World, window: dict[str, Any], kind: str) -> None:
    fuzz_world.faults.clear()
    fuzz_world.errors.clear()
    effect = {"kind": kind, "latency_ms": 1} if kind == "latency" else {"kind": kind}
    client = create_app(fuzz_world).test_client()
    response = client.post("/_sim/faults", json={"effect": effect, "window": window})
    assert response.status_code in (201, 400), response.get_json()
    assert client.get("/_sim/faults").status_code == 200
    assert fuzz_world.errors == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(RULES, min_size=1, max_size=4), requests=st.lists(REQUESTS, min_size=1, max_size=6))
def test_requests_under_any_accepted_rules_never_hit_a_bug(
    fuzz_world: World, rules: list[dict[str, Any]], requests: list[tuple[str, str]]
) -> None:
    fuzz_world.reset()
    fuzz_world.errors.clear()
    client = create_app(fuzz_world).test_client()
    for rule in rules:
        if isinstance(rule.get("effect"), dict) and isinstance(rule["effect"].get("latency_ms"), float | int):
            rule["effect"]["latency_ms"] = min(abs(rule["effect"]["latency_ms"]), 2)
        client.post("/_sim/faults", json=rule)
    for method, path in requests:
        body = {"summary": "x", "company": {"id": 1}} if method in ("POST", "PUT") else []
        response = client.open(f"{API}/{path}", method=method, json=body, headers=MEMBER_HEADERS)
        assert response.status_code < 600
        fault = response.headers.get("X-Cwsim-Fault")
        spoiled = fault is not None and fuzz_world.faults.find(int(fault)).effect.kind == "malformed_json"
        if response.status_code >= 400 and not spoiled:
            assert set(response.get_json()) == {"code", "message", "errors"}
    assert client.get("/_sim/faults").status_code == 200
    assert fuzz_world.errors == [], fuzz_world.errors[:1]
