"""Integrator logins as ConnectWise enforces them: API flags, inactive logins, All Records or own records."""

from __future__ import annotations

import pytest

from cwsim.simulator.connectwise.collections import ALL_COLLECTIONS
from cwsim.simulator.connectwise.permissions import API_FLAGS, API_LABELS
from cwsim.simulator.pytest_plugin import basic_auth

from .conftest import INTEGRATOR_HEADERS, Api

PROBES = {
    "ServiceTicket": "service/tickets",
    "ManagedServices": "company/managedDevicesIntegrations",
    "Contact": "company/contacts",
    "Company": "company/companies",
    "Activity": "sales/activities",
    "Invoice": "finance/invoices",
    "Product": "procurement/catalog",
    "Marketing": "marketing/groups",
    "Purchasing": "procurement/purchaseorders",
    "Reporting": "system/reports",
    "System": "system/info",
    "Configuration": "company/configurations",
    "Agreement": "finance/agreements",
    "TimeEntry": "time/entries",
    "Opportunity": "sales/opportunities",
    "Member": "system/members/types",
    "Project": "project/projects",
    "Schedule": "schedule/entries",
    "Document": "system/documents",
}


def login_id(api: Api) -> int:
    (login,) = api.get("system/integratorlogins", query_string={"conditions": 'username="dattoCW"'}).get_json()
    return login["id"]


def set_login(api: Api, **flags) -> None:
    operations = [{"op": "replace", "path": name, "value": value} for name, value in flags.items()]
    assert api.patch(f"system/integratorlogins/{login_id(api)}", operations).status_code == 200


def test_every_served_collection_maps_to_one_of_the_login_api_flags() -> None:
    assert set(API_FLAGS) == set(PROBES)
    assert {collection.api for collection in ALL_COLLECTIONS} <= set(API_FLAGS)


@pytest.mark.parametrize("api_name", sorted(API_FLAGS))
def test_each_api_flag_off_gives_403_naming_the_api(api: Api, api_name: str) -> None:
    path = PROBES[api_name]
    assert api.get(path, headers=INTEGRATOR_HEADERS).status_code == 200
    set_login(api, **{API_FLAGS[api_name]: False})
    response = api.get(path, headers=INTEGRATOR_HEADERS)
    assert response.status_code == 403
    body = response.get_json()
    assert API_LABELS[api_name] in body["message"] and body["errors"][0]["field"] == API_FLAGS[api_name]
    others = [p for name, p in PROBES.items() if name != api_name and name != "System"]
    assert all(api.get(p, headers=INTEGRATOR_HEADERS).status_code == 200 for p in others)


def test_can_access_all_apis_overrides_the_flags(api: Api) -> None:
    set_login(api, managedServicesApiFlag=False, canAccessAllApisFlag=True)
    assert api.get("company/managedDevicesIntegrations", headers=INTEGRATOR_HEADERS).status_code == 200


def test_api_member_keys_are_not_limited_by_integrator_flags(api: Api) -> None:
    set_login(api, companyApiFlag=False)
    assert api.get("company/companies").status_code == 200


def test_a_login_without_all_records_sees_and_changes_only_what_it_entered(api: Api) -> None:
    set_login(api, canAccessAllRecordsFlag=False)
    mine = api.post(
        "company/companies", {"identifier": "Mine", "name": "Mine Inc", "city": "Here"}, headers=INTEGRATOR_HEADERS
    )
    assert mine.status_code == 201
    listed = api.get("company/companies", headers=INTEGRATOR_HEADERS, query_string={"pageSize": 1000}).get_json()
    assert [company["identifier"] for company in listed] == ["Mine"]
    assert api.get("company/companies/count", headers=INTEGRATOR_HEADERS).get_json() == {"count": 1}
    assert api.get("company/companies/1", headers=INTEGRATOR_HEADERS).status_code == 404
    patch = [{"op": "replace", "path": "name", "value": "Taken over"}]
    assert api.patch("company/companies/1", patch, headers=INTEGRATOR_HEADERS).status_code == 404
    assert api.patch(f"company/companies/{mine.get_json()['id']}", patch, headers=INTEGRATOR_HEADERS).status_code == 200
    # a company it did not enter cannot be referenced either: the typeahead would find nothing
    ticket = api.post("service/tickets", {"summary": "x", "company": {"id": 1}}, headers=INTEGRATOR_HEADERS)
    assert ticket.status_code == 400 and ticket.get_json()["errors"][0]["field"] == "company"
    # the API member still sees everything
    assert len(api.get("company/companies", query_string={"pageSize": 1000}).get_json()) == 13


def test_all_records_sees_everything(api: Api) -> None:
    listed = api.get("company/companies", headers=INTEGRATOR_HEADERS, query_string={"pageSize": 1000}).get_json()
    assert len(listed) == 12


def test_integrator_login_passwords_are_write_only(api: Api) -> None:
    created = api.post("system/integratorlogins", {"username": "other", "password": "s3cret", "companyApiFlag": True})
    assert created.status_code == 201 and "password" not in created.get_json()
    assert "s3cret" not in api.get("system/integratorlogins").get_data(as_text=True)
    headers = {**INTEGRATOR_HEADERS, "Authorization": basic_auth("cwsim", "OTHER", "s3cret")}
    assert api.get("company/companies", headers=headers).status_code == 200
    assert api.get("service/tickets", headers=headers).status_code == 403


def test_integrator_usernames_are_unique_case_insensitively_and_keep_their_case(api: Api) -> None:
    duplicate = api.post("system/integratorlogins", {"username": "DATTOCW", "password": "x"})
    assert duplicate.status_code == 400 and duplicate.get_json()["errors"][0]["code"] == "ObjectExists"
    assert api.get(f"system/integratorlogins/{login_id(api)}").get_json()["username"] == "dattoCW"
