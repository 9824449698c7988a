"""The ConnectWise protocol as real clients use it: URLs, codebase lookup, auth, headers, errors."""

from __future__ import annotations

import base64

import pytest

from cwsim.simulator.pytest_plugin import basic_auth

from .conftest import API, INTEGRATOR_HEADERS, MEMBER_HEADERS, Api


def test_companyinfo_is_anonymous_pascal_case_and_names_the_codebase(api: Api) -> None:
    response = api.client.get("/login/companyinfo/cwsim")
    assert response.status_code == 200
    body = response.get_json()
    assert body["Codebase"].endswith("/")
    assert body["CompanyID"] == "cwsim"
    assert set(body) >= {"CompanyName", "Codebase", "VersionCode", "VersionNumber", "CompanyID", "IsCloud"}


def test_companyinfo_accepts_auth_headers_and_answers_null_for_an_unknown_company(api: Api) -> None:
    assert api.client.get("/login/companyinfo/CWSIM", headers=MEMBER_HEADERS).get_json()["CompanyID"] == "cwsim"
    unknown = api.client.get("/login/companyinfo/nobody")
    assert unknown.status_code == 200
    assert unknown.get_data(as_text=True) == "null"


def test_the_api_answers_under_v4_6_release_and_the_advertised_codebase(api: Api) -> None:
    codebase = api.client.get("/login/companyinfo/cwsim").get_json()["Codebase"].strip("/")
    for prefix in ("v4_6_release", codebase):
        assert api.client.get(f"/{prefix}/apis/3.0/service/boards", headers=MEMBER_HEADERS).status_code == 200
    assert api.client.get("/v1999_9/apis/3.0/service/boards", headers=MEMBER_HEADERS).status_code == 404


@pytest.mark.parametrize("path", ["service/boards", "Service/Boards", "SERVICE/BOARDS/", "service/boards/"])
def test_paths_match_case_insensitively_with_or_without_a_trailing_slash(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert {board["name"] for board in response.get_json()} == {"Help Desk", "Datto Alerts", "Professional Services"}


def test_child_paths_match_case_insensitively_too(api: Api) -> None:
    assert api.get("service/boards/2/Statuses/").status_code == 200
    assert api.get("SYSTEM/INTEGRATORLOGINS").status_code == 200


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}, body
    return body


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Authorization": MEMBER_HEADERS["Authorization"]}, "clientId"),
        ({"clientId": "x"}, "No Authorization header"),
        ({"Authorization": "Bearer abc", "clientId": "x"}, "HTTP Basic"),
        ({"Authorization": "Basic !!!notbase64", "clientId": "x"}, "base64"),
        (
            {"Authorization": "Basic " + base64.b64encode(b"no-plus-sign:secret").decode(), "clientId": "x"},
            "companyId+",
        ),
        ({"Authorization": basic_auth("other", "cwsim-public", "cwsim-private"), "clientId": "x"}, "Unknown company"),
        ({"Authorization": basic_auth("cwsim", "cwsim-public", "wrong"), "clientId": "x"}, "Unknown API key"),
        ({**INTEGRATOR_HEADERS, "Authorization": basic_auth("cwsim", "dattoCW", "wrong")}, "wrong password"),
    ],
)
def test_bad_credentials_get_401_with_a_connectwise_body_that_says_why(api: Api, headers: dict, reason: str) -> None:
    response = api.get("service/boards", headers=headers)
    assert response.status_code == 401
    body = error_of(response)
    assert body["message"] == "UserNotAuthenticated"
    assert reason in body["errors"][0]["message"]


def test_header_names_are_case_insensitive(api: Api) -> None:
    headers = {"AUTHORIZATION": MEMBER_HEADERS["Authorization"], "clientid": "x"}
    assert api.get("service/boards", headers=headers).status_code == 200
    integrator = {"authorization": INTEGRATOR_HEADERS["Authorization"], "ClientID": "x", "X-CW-UserType": "Integrator"}
    assert api.get("service/boards", headers=integrator).status_code == 200


def test_integrator_usernames_authenticate_case_insensitively(api: Api) -> None:
    headers = {**INTEGRATOR_HEADERS, "Authorization": basic_auth("cwsim", "DATTOcw", "cwsim-integrator")}
    assert api.get("service/boards", headers=headers).status_code == 200


def test_records_entered_by_an_integrator_say_so(api: Api) -> None:
    ticket = api.post("service/tickets", {"summary": "x", "company": {"id": 1}}, headers=INTEGRATOR_HEADERS)
    assert ticket.get_json()["_info"]["enteredBy"] == "dattoCW"
    member_ticket = api.post("service/tickets", {"summary": "y", "company": {"id": 1}})
    assert member_ticket.get_json()["_info"]["enteredBy"] == "cwsim-api"


def test_an_inactive_integrator_login_gets_401(api: Api) -> None:
    (login,) = api.get("system/integratorlogins", query_string={"conditions": 'username="dattoCW"'}).get_json()
    api.patch(f"system/integratorlogins/{login['id']}", [{"op": "replace", "path": "inactiveFlag", "value": True}])
    response = api.get("service/boards", headers=INTEGRATOR_HEADERS)
    assert response.status_code == 401
    assert "inactive" in error_of(response)["errors"][0]["message"]


def test_a_real_endpoint_the_fake_does_not_serve_is_loudly_not_implemented(api: Api) -> None:
    response = api.get("system/quoteLinkSetup/testConnection")  # it would talk to a system outside ConnectWise
    assert response.status_code == 404
    body = error_of(response)
    assert body["code"] == "NotImplementedByFake"
    assert "/system/quoteLinkSetup/testConnection" in body["message"]


def test_a_path_that_is_not_connectwise_is_a_plain_404(api: Api) -> None:
    response = api.get("nothing/here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "NotFound"


def test_a_method_a_collection_does_not_take_is_a_405(api: Api) -> None:
    response = api.call("DELETE", "service/tickets/count")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_members_are_read_only_and_writing_them_is_not_implemented(api: Api) -> None:
    assert api.get("system/members").status_code == 200
    response = api.post("system/members", {"identifier": "x"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "NotImplementedByFake"


def test_system_info_reports_a_version_clients_can_parse(api: Api) -> None:
    info = api.get("system/info").get_json()
    assert info["version"].startswith("v20")
    major, minor, build = info["version"].lstrip("v").split(".")
    assert int(major) >= 2012 and minor.isdigit() and build.isdigit()
    assert isinstance(info["isCloud"], bool)


def test_responses_are_json_with_charset(api: Api) -> None:
    assert api.get("service/boards").headers["Content-Type"] == "application/json; charset=utf-8"


def test_the_request_path_prefix_is_exactly_apis_3_0(api: Api) -> None:
    assert API == "/v4_6_release/apis/3.0"
