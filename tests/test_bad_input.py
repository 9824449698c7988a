"""Bad input never gets a traceback: the bad-input table against the fake's API and the Datto portal API,
and odd strings stored verbatim."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cwsim.simulator.pytest_plugin import Cwsim
from cwsim.simulator.server import DEFAULT_MAX_BODY_BYTES, create_app

from .bad_input import JSON, VERBATIM_STRINGS, BadInput, connectwise_list_cases, json_body_cases, portal_cases
from .conftest import API, MEMBER_HEADERS, Api

CW_ERROR_KEYS = {"code", "message", "errors"}
CW_PROBLEM_KEYS = {"code", "message", "resource", "field"}


def send(url: str, case: BadInput, headers: dict[str, str]) -> requests.Response:
    return requests.request(
        case.method, url + case.suffix, data=case.body, headers={**headers, **case.headers}, timeout=30
    )


def assert_connectwise_error(response: requests.Response) -> None:
    body = response.json()
    assert set(body) == CW_ERROR_KEYS and isinstance(body["code"], str) and body["message"], body
    assert body["errors"] is None or all(set(problem) == CW_PROBLEM_KEYS for problem in body["errors"]), body


@pytest.mark.parametrize("case", json_body_cases(DEFAULT_MAX_BODY_BYTES), ids=str)
def test_bad_bodies_on_the_connectwise_api(cwsim: Cwsim, case: BadInput) -> None:
    response = send(cwsim.api_url + "/service/tickets", case, cwsim.headers())
    assert response.status_code == case.expected, response.text[:300]
    assert_connectwise_error(response)
    assert cwsim.session().get("service/tickets/count").json() == {"count": 0}


@pytest.mark.parametrize("case", json_body_cases(DEFAULT_MAX_BODY_BYTES, "PUT"), ids=str)
def test_bad_bodies_on_a_connectwise_replace(cwsim: Cwsim, case: BadInput) -> None:
    ticket = cwsim.session().post("service/tickets", json={"summary": "Before", "company": {"id": 1}}).json()
    response = send(f"{cwsim.api_url}/service/tickets/{ticket['id']}", case, cwsim.headers())
    assert response.status_code == case.expected, response.text[:300]
    assert_connectwise_error(response)
    assert cwsim.session().get(f"service/tickets/{ticket['id']}").json()["summary"] == "Before"


@pytest.mark.parametrize("case", connectwise_list_cases(), ids=str)
def test_bad_queries_on_the_connectwise_api(cwsim: Cwsim, case: BadInput) -> None:
    response = send(cwsim.api_url + "/service/tickets", case, cwsim.headers())
    assert response.status_code == case.expected, response.text[:300]
    if response.status_code >= 400:
        assert_connectwise_error(response)


@pytest.mark.parametrize("case", portal_cases(), ids=str)
def test_bad_requests_on_the_datto_portal_api(cwsim: Cwsim, case: BadInput) -> None:
    portal = cwsim.facts["portal"]
    if case.expected != 413:  # an oversized body is refused before anything else
        response = send(portal["url"] + "/device", case, {})
        assert response.status_code == 401, "negative control: without its Basic auth the portal refuses first"
    token = base64.b64encode(f"{portal['publicKey']}:{portal['secretKey']}".encode()).decode()
    response = send(portal["url"] + "/device", case, {"Authorization": f"Basic {token}"})
    assert response.status_code == case.expected, response.text[:300]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message"} and body["code"] == case.expected, body


def test_a_body_limit_is_settable_and_the_admin_api_takes_bigger_documents(api: Api) -> None:
    small = create_app(api.world, max_body_bytes=2048).test_client()
    big = b'{"summary": "' + b"x" * 3000 + b'"}'
    refused = small.post(f"{API}/service/tickets", data=big, headers={**MEMBER_HEADERS, **JSON})
    assert refused.status_code == 413 and refused.get_json()["code"] == "RequestTooLarge"
    rule = b'{"effect": {"kind": "latency", "latency_ms": 1}}' + b" " * 3000
    assert small.post("/_sim/faults", data=rule, headers=JSON).status_code == 201, "a larger limit on /_sim"


@pytest.mark.parametrize("text", VERBATIM_STRINGS)
def test_script_and_sql_looking_strings_are_stored_verbatim_and_returned_unchanged(api: Api, text: str) -> None:
    created = api.post("service/tickets", json={"summary": text, "company": {"id": 1}, "externalXRef": text})
    assert created.status_code == 201
    ticket = created.get_json()
    assert (ticket["summary"], ticket["externalXRef"]) == (text, text)
    assert api.get(f"service/tickets/{ticket['id']}").get_json()["summary"] == text
    found = api.get("service/tickets", query_string={"conditions": f"id={ticket['id']}", "fields": "id,summary"})
    assert found.get_json() == [{"id": ticket["id"], "summary": text}]
    note = api.post(f"service/tickets/{ticket['id']}/notes", json={"text": text, "detailDescriptionFlag": True})
    assert note.get_json()["text"] == text
    company = api.post(
        "company/companies", json={"identifier": "X" + str(len(text)), "name": text[:50], "city": text[:50]}
    )
    assert company.status_code == 201 and company.get_json()["name"] == company.get_json()["city"] == text[:50]
    assert api.get("company/companies/count").status_code == 200, "the other rows are all still there"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True)
@given(
    name=st.sampled_from(
        ["orderBy", "fields", "childConditions", "customFieldConditions", "page", "pageSize", "pageId"]
    ),
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
)
def test_random_query_parameters_never_make_a_server_error(api: Api, name: str, text: str) -> None:
    response = api.get("service/tickets", query_string={name: text})
    assert response.status_code in (200, 400), (name, text, response.get_data(as_text=True))
    if response.status_code == 400:
        assert set(response.get_json()) == CW_ERROR_KEYS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True)
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["summary", "company", "board", "status", "id", "x"]), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_random_json_bodies_never_make_a_server_error(api: Api, body: Any) -> None:
    response = api.post("service/tickets", json=body)
    assert response.status_code in (201, 400), (body, response.get_data(as_text=True))
