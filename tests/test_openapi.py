"""The OpenAPI document at /_sim/openapi.json, and a bounded schemathesis run against a real server."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from cwsim.simulator.connectwise.collections import ALL_COLLECTIONS, COLLECTIONS
from cwsim.simulator.connectwise.coverage import served_methods
from cwsim.simulator.connectwise.endpoints import endpoint_index
from cwsim.simulator.connectwise.routing import Router
from cwsim.simulator.pytest_plugin import Cwsim
from cwsim.simulator.server import RunningServer, ServeOptions
from cwsim.simulator.world import WorldOptions

EXAMPLES_PER_OPERATION = 4  # per hand-declared operation and generation mode (positive, negative)
FULL_SWEEP = bool(os.environ.get("CWSIM_FULL_SWEEP"))
# Inside `make test`, a fixed sample of the generated operations (every GENERATED_SAMPLE-th, a
# different share of every kind of path) gets one case of each mode, to keep the suite inside CI's
# time; `make sweep` runs every generated operation at the full count.
GENERATED_EXAMPLES = EXAMPLES_PER_OPERATION if FULL_SWEEP else 1
GENERATED_SAMPLE = 1 if FULL_SWEEP else 4
HAND_DECLARED = {collection.table for collection in COLLECTIONS}
EXISTING_IDS = 4  # path ids are folded into 1..4, so most calls reach records that exist
CW_ERROR_KEYS = {"code", "message", "errors"}
CW_PROBLEM_KEYS = {"code", "message", "resource", "field"}
PLACEHOLDER = re.compile(r"\{[^}]+\}")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = RunningServer(ServeOptions(port=0, smtp_port=0, world=WorldOptions(seed=3, companies=4))).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def document(server: RunningServer) -> dict[str, Any]:
    response = requests.get(server.url + "/_sim/openapi.json", timeout=30)
    assert response.status_code == 200
    return response.json()


def test_the_document_lists_every_served_operation_and_nothing_else(
    document: dict[str, Any], server: RunningServer
) -> None:
    router = Router(ALL_COLLECTIONS, endpoint_index())
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    served = set()
    for endpoint in endpoint_index().endpoints:
        for method in served_methods(router, endpoint.template):
            # Routing ignores case and a last slash; the real API spells a few paths both ways.
            served.add((method, PLACEHOLDER.sub("{}", endpoint.template).rstrip("/").casefold()))
    listed = {(m, PLACEHOLDER.sub("{}", p).casefold()) for m, p in documented}
    assert listed == served, "the same source as docs/coverage.md"
    assert document["servers"] == [{"url": server.url + "/v4_6_release/apis/3.0"}]


def test_the_document_says_how_to_authenticate_and_what_errors_look_like(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"] == {
        "basicAuth": {"type": "http", "scheme": "basic"},
        "clientId": {"type": "apiKey", "in": "header", "name": "clientId"},
    }
    assert document["security"] == [{"basicAuth": [], "clientId": []}]
    create = document["paths"]["/service/tickets"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "403", "404", "413", "415"}
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceTickets"
    }
    tickets = document["components"]["schemas"]["ServiceTickets"]
    assert {"summary", "company"} <= set(tickets["required"]) and tickets["properties"]["id"]["readOnly"] is True
    listing = {parameter["name"] for parameter in document["paths"]["/service/tickets"]["get"]["parameters"]}
    assert {"conditions", "orderBy", "fields", "page", "pageSize", "pageId", "pagination-type"} <= listing
    login = document["components"]["schemas"]["SystemIntegratorlogins"]["properties"]["password"]
    assert login["writeOnly"] is True
    assert document["paths"]["/service/tickets/{id}"]["delete"]["responses"]["204"] == {"description": "success"}


def cw_error_problem(response: requests.Response) -> str | None:
    """Why a 4xx is not in ConnectWise's error shape, or None when it is."""
    try:
        body = response.json()
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict) or set(body) != CW_ERROR_KEYS:
        return f"keys {sorted(body) if isinstance(body, dict) else type(body).__name__}"
    if not isinstance(body["code"], str) or not isinstance(body["message"], str):
        return "code or message not a string"
    errors = body["errors"]
    if errors is not None and not (
        isinstance(errors, list) and all(isinstance(e, dict) and set(e) == CW_PROBLEM_KEYS for e in errors)
    ):
        return f"errors entries {errors!r:.200}"
    return None


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_every_4xx_is_a_connectwise_error(server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/_sim/openapi.json")
    cwsim = Cwsim(server)
    headers = cwsim.headers()
    statuses: Counter[int] = Counter()
    failures: dict[tuple[str, str, int | str], str] = {}
    started = time.monotonic()
    router = Router(ALL_COLLECTIONS, endpoint_index())

    def hand_declared(path: str) -> bool:
        route = router.resolve(PLACEHOLDER.sub("1", path))
        return route is None or route.collection.table in HAND_DECLARED

    operations = [result.ok() for result in schema.get_all_operations()]
    generated = [operation for operation in operations if not hand_declared(operation.path)]
    sampled = {id(operation) for operation in generated[::GENERATED_SAMPLE]}
    chosen = [operation for operation in operations if hand_declared(operation.path) or id(operation) in sampled]

    def examples(path: str) -> int:
        return EXAMPLES_PER_OPERATION if hand_declared(path) else GENERATED_EXAMPLES

    with requests.Session() as session:
        for operation, mode in [
            (operation, mode)
            for operation in chosen
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
        ]:

            @settings(
                max_examples=examples(operation.path),
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def call(case: Any) -> None:
                if case.path_parameters:
                    case.path_parameters = {
                        name: value % EXISTING_IDS + 1 if isinstance(value, int) and value > 0 else value
                        for name, value in case.path_parameters.items()
                    }
                response = case.call(session=session, headers=headers, timeout=30)
                statuses[response.status_code] += 1
                key = (case.method, case.operation.path, response.status_code)
                if response.status_code >= 500:
                    failures.setdefault(key, response.text[:300])
                elif response.status_code >= 400:
                    problem = cw_error_problem(response)
                    if problem is not None:
                        failures.setdefault((case.method, case.operation.path, problem), response.text[:300])

            call()
    cases = sum(statuses.values())
    elapsed = time.monotonic() - started
    ran = f"{len(chosen)} of {len(operations)} operations"
    print(f"\nschemathesis: {cases} cases, {ran}, {elapsed:.1f} s: {dict(statuses)}")
    assert not failures, "\n".join(f"{key}: {text}" for key, text in failures.items())
    assert cases >= len(chosen) * 2 and any(200 <= status < 300 for status in statuses), "negative control: it ran"
    assert not server.world.errors
