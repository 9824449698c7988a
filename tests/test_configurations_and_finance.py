"""Configurations (types, questions, statuses, links), agreements with additions, catalog, managed devices."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cwsim.simulator.connectwise.coverage import coverage_markdown

from .conftest import Api

ROOT = Path(__file__).resolve().parent.parent


def datto_type_id(api: Api) -> int:
    (config_type,) = api.get(
        "company/configurations/types", query_string={"conditions": 'name="Datto Appliance"'}
    ).get_json()
    return config_type["id"]


def new_configuration(api: Api, **fields) -> dict:
    body = {
        "name": "acme-siris",
        "type": {"name": "Datto Appliance"},
        "company": {"id": 1},
        "serialNumber": "00012E94105B",
        "deviceIdentifier": "00012E94105B",
        **fields,
    }
    response = api.post("company/configurations", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_configuration_has_its_type_status_company_and_a_uuid(api: Api) -> None:
    config = new_configuration(api, modelNumber="S4X1", macAddress="00:01:2E:94:10:5B", ipAddress="10.0.0.5")
    assert config["type"]["name"] == "Datto Appliance" and config["status"]["name"] == "Active"
    assert config["activeFlag"] is True and config["billFlag"] is False
    assert uuid.UUID(config["mobileGuid"])
    found = api.get("company/configurations", query_string={"conditions": 'serialNumber="00012e94105b"'}).get_json()
    assert [row["id"] for row in found] == [config["id"]]


def test_a_configuration_needs_name_type_and_company(api: Api) -> None:
    response = api.post("company/configurations", {"serialNumber": "X"})
    fields = sorted(error["field"] for error in response.get_json()["errors"])
    assert response.status_code == 400 and fields == ["company", "name", "type"]


def test_configuration_types_have_questions_that_configurations_answer(api: Api) -> None:
    type_id = datto_type_id(api)
    question = api.post(
        f"company/configurations/types/{type_id}/questions",
        {"question": "Plan", "fieldType": "Text", "entryType": "EntryField", "sequenceNumber": 1, "requiredFlag": True},
    )
    assert question.status_code == 201
    question_id = question.get_json()["id"]
    assert (
        api.get(f"company/configurations/types/{type_id}")
        .get_json()["_info"]["questions_href"]
        .endswith(f"/company/configurations/types/{type_id}/questions")
    )
    missing = api.post("company/configurations", {"name": "a", "type": {"id": type_id}, "company": {"id": 1}})
    assert missing.status_code == 400 and missing.get_json()["errors"][0]["field"] == "questions"
    config = new_configuration(api, questions=[{"questionId": question_id, "answer": "TBR 1 year"}])
    assert config["questions"] == [
        {
            "questionId": question_id,
            "question": "Plan",
            "answer": "TBR 1 year",
            "sequenceNumber": 1.0,
            "numberOfDecimals": 0,
            "fieldType": "Text",
            "requiredFlag": True,
        }
    ]


def test_configurations_attach_to_tickets_by_id_or_device_identifier(api: Api) -> None:
    config = new_configuration(api)
    ticket = api.post("service/tickets", {"summary": "Backup failed", "company": {"id": 1}}).get_json()
    path = f"service/tickets/{ticket['id']}/configurations"
    attached = api.post(path, {"deviceIdentifier": "00012E94105B"})
    assert attached.status_code == 201
    assert attached.get_json()["id"] == config["id"] and attached.get_json()["deviceIdentifier"] == "00012E94105B"
    assert attached.get_json()["_info"]["configuration_href"].endswith(f"/company/configurations/{config['id']}")
    again = api.post(path, {"id": config["id"]})
    assert again.status_code == 400 and again.get_json()["errors"][0]["code"] == "ObjectExists"
    assert [row["id"] for row in api.get(path).get_json()] == [config["id"]]
    assert api.get(f"{path}/count").get_json() == {"count": 1}
    assert api.get(f"{path}/{config['id']}").get_json()["id"] == config["id"]
    assert api.delete(f"{path}/{config['id']}").status_code == 204
    assert api.get(path).get_json() == []


def test_attaching_needs_an_id_or_device_identifier_that_exists(api: Api) -> None:
    ticket = api.post("service/tickets", {"summary": "x", "company": {"id": 1}}).get_json()
    path = f"service/tickets/{ticket['id']}/configurations"
    empty = api.post(path, {})
    assert empty.status_code == 400
    assert empty.get_json()["errors"][0] == {
        "code": "MissingRequiredField",
        "message": "id or deviceIdentifier is required.",
        "resource": "configuration",
        "field": "id",
    }
    assert api.post(path, {"id": 999}).status_code == 400
    assert api.post("service/tickets/999/configurations", {"id": 1}).status_code == 404


def test_deleting_a_configuration_detaches_it(api: Api) -> None:
    config = new_configuration(api)
    ticket = api.post("service/tickets", {"summary": "x", "company": {"id": 1}}).get_json()
    api.post(f"service/tickets/{ticket['id']}/configurations", {"id": config["id"]})
    api.delete(f"company/configurations/{config['id']}")
    assert api.get(f"service/tickets/{ticket['id']}/configurations").get_json() == []


def first_agreement(api: Api, company_id: int | None = None) -> dict:
    condition = f"company/id = {company_id}" if company_id else 'type/name = "Managed Services"'
    return api.get("finance/agreements", query_string={"conditions": condition}).get_json()[0]


def test_agreements_take_a_type_company_and_a_contact_of_that_company(api: Api) -> None:
    agreement = first_agreement(api)
    assert agreement["type"]["name"] == "Managed Services" and agreement["agreementStatus"] == "Active"
    contacts = api.get("company/contacts", query_string={"conditions": "company/id != 1"}).get_json()
    wrong = api.post(
        "finance/agreements",
        {
            "name": "x",
            "type": {"name": "Datto Offsite Overage"},
            "company": {"id": 1},
            "contact": {"id": contacts[0]["id"]},
        },
    )
    assert wrong.status_code == 400 and wrong.get_json()["errors"][0]["field"] == "contact"


def overage_addition(api: Api, agreement_id: int, **fields) -> dict:
    body = {
        "product": {"identifier": "DATTO-SIRIS-OVG-TB"},
        "quantity": 3,
        "unitPrice": 120.0,
        "unitCost": 70.0,
        "billCustomer": "Billable",
        "effectiveDate": "2026-10-01T00:00:00Z",
        "description": "Offsite overage 2026-10: 2.4 TB over",
        "serialNumber": "00012E94105B",
        **fields,
    }
    response = api.post(f"finance/agreements/{agreement_id}/additions", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_additions_keep_what_billing_writes_and_compute_their_amounts(api: Api) -> None:
    agreement = first_agreement(api)
    addition = overage_addition(api, agreement["id"])
    assert addition["agreementId"] == agreement["id"]
    assert addition["product"]["identifier"] == "DATTO-SIRIS-OVG-TB"
    assert (addition["quantity"], addition["extPrice"], addition["extCost"]) == (3.0, 360.0, 210.0)
    assert addition["effectiveDate"] == "2026-10-01T00:00:00Z" and addition["serialNumber"] == "00012E94105B"
    assert addition["agreementStatus"] == "Active"
    found = api.get(
        f"finance/agreements/{agreement['id']}/additions", query_string={"conditions": 'serialNumber="00012E94105B"'}
    ).get_json()
    assert [row["id"] for row in found] == [addition["id"]]


def test_an_invoiced_addition_cannot_be_changed_or_deleted(api: Api) -> None:
    agreement = first_agreement(api)
    addition = overage_addition(api, agreement["id"])
    path = f"finance/agreements/{agreement['id']}/additions/{addition['id']}"
    assert api.patch(path, [{"op": "replace", "path": "quantity", "value": 4}]).status_code == 200
    assert api.client.post(f"/_sim/additions/{addition['id']}/invoice").status_code == 200
    refused = api.patch(path, [{"op": "replace", "path": "quantity", "value": 5}])
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["code"] == "Invoiced"
    assert api.delete(path).status_code == 400
    assert api.get(path).get_json()["quantity"] == 4 and api.get(path).get_json()["billedQuantity"] == 4
    assert api.client.post("/_sim/additions/999/invoice").status_code == 404


def test_configurations_attach_to_agreements(api: Api) -> None:
    config = new_configuration(api)
    agreement = first_agreement(api)
    path = f"finance/agreements/{agreement['id']}/configurations"
    assert api.post(path, {"id": config["id"]}).status_code == 201
    assert [row["id"] for row in api.get(path).get_json()] == [config["id"]]


def test_the_catalog_has_the_two_overage_products(api: Api) -> None:
    products = {p["identifier"]: p for p in api.get("procurement/catalog").get_json()}
    assert set(products) == {"DATTO-SIRIS-OVG-TB", "DATTO-ALTO-OVG-500GB"}
    assert all(p["price"] > 0 and p["productClass"] == "Service" for p in products.values())


def test_the_managed_device_integration_is_set_up_as_the_guide_says(api: Api) -> None:
    (integration,) = api.get("company/managedDevicesIntegrations").get_json()
    assert integration["integratorLogin"]["name"] == "dattoCW"
    assert integration["configBillCustomerFlag"] and integration["matchOnSerialNumberFlag"]
    assert integration["disableNewCrossReferencesFlag"] is False
    assert "globalLoginPassword" not in integration
    references = api.get(f"company/managedDevicesIntegrations/{integration['id']}/crossReferences").get_json()
    assert {r["vendorType"] for r in references} == {"SIRIS", "ALTO"}


@pytest.mark.parametrize("child", ["crossReferences", "logins", "notifications"])
def test_managed_device_children_answer_post_and_delete_with_200_as_the_spec_says(api: Api, child: str) -> None:
    bodies = {
        "crossReferences": {"vendorType": "CLOUD", "vendorLevel": "Device"},
        "logins": {"username": "tech", "password": "p", "member": {"identifier": "cwsim-api"}},
        "notifications": {"notifyWho": {"id": 1, "name": "Member"}, "logType": "Error"},
    }
    created = api.post(f"company/managedDevicesIntegrations/1/{child}", bodies[child])
    assert created.status_code == 200, created.get_json()
    assert api.delete(f"company/managedDevicesIntegrations/1/{child}/{created.get_json()['id']}").status_code == 200
    assert api.get(f"company/managedDevicesIntegrations/1/{child}/count").status_code == 200


def test_the_coverage_file_is_current() -> None:
    assert (ROOT / "docs" / "coverage.md").read_text() == coverage_markdown(), (
        "regenerate it: python -m cwsim.simulator.connectwise.coverage > docs/coverage.md"
    )


def test_not_implemented_answers_come_from_the_endpoint_index(api: Api) -> None:
    unserved = [
        ("POST", "finance/agreements/1/invoice"),
        ("POST", "procurement/purchaseorders/1/rebatch"),
        ("POST", "system/members/1/tokens"),
        ("POST", "system/ldapConfigurations/testLink"),
    ]
    for method, path in unserved:
        response = api.call(method, path, json={})
        assert response.status_code == 404 and response.get_json()["code"] == "NotImplementedByFake", path
    wrong_method = api.call("GET", "company/configurations/1/changeType")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "PATCH"
