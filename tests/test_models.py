"""Every record of every collection, as served, validated by pyconnectwise's own pydantic models.

pydantic rejects missing required fields, enum values outside the spec and non-string `_info`
values, so this is the check that the fake's responses have the shape real clients require.
"""

from __future__ import annotations

import pyconnectwise.models.manage as models
import pydantic
import pytest

from cwsim.simulator.connectwise.collections import COLLECTIONS

from .conftest import Api

MODEL_OF = {
    "company/companies": models.Company,
    "company/contacts": models.Contact,
    "service/boards": models.Board,
    "service/boards/statuses": models.BoardStatus,
    "service/boards/types": models.BoardType,
    "service/boards/subtypes": models.BoardSubType,
    "service/boards/items": models.BoardItem,
    "service/tickets": models.Ticket,
    "service/tickets/notes": models.ServiceNote,
    "service/tickets/configurations": models.ConfigurationReference,
    "system/members": models.Member,
    "system/integratorlogins": models.IntegratorLogin,
    "company/configurations/types": models.ConfigurationType,
    "company/configurations/types/questions": models.ConfigurationTypeQuestion,
    "company/configurations/statuses": models.ConfigurationStatus,
    "company/configurations": models.CompanyConfiguration,
    "company/managedDevicesIntegrations": models.ManagedDevicesIntegration,
    "company/managedDevicesIntegrations/crossReferences": models.ManagedDevicesIntegrationCrossReference,
    "company/managedDevicesIntegrations/logins": models.ManagedDevicesIntegrationLogin,
    "company/managedDevicesIntegrations/notifications": models.ManagedDevicesIntegrationNotification,
    "finance/agreements/types": models.AgreementType,
    "finance/agreements": models.Agreement,
    "finance/agreements/additions": models.Addition,
    "finance/agreements/configurations": models.ConfigurationReference,
    "procurement/catalog": models.CatalogItem,
    "sales/activities": models.Activity,
    "finance/invoices": models.Invoice,
    "marketing/groups": models.Group,
    "procurement/purchaseorders": models.PurchaseOrder,
    "system/reports": models.Report,
}


def fill_every_collection(api: Api) -> None:
    """At least one record in the collections the default tenant leaves empty."""
    api.post("service/boards/2/subtypes", {"name": "Backup"})
    api.post("service/boards/2/items", {"name": "SIRIS"})
    api.post(
        "company/configurations/types/1/questions",
        {"question": "Plan", "fieldType": "Text", "entryType": "EntryField", "sequenceNumber": 1},
    )
    config = api.post(
        "company/configurations",
        {"name": "acme-siris", "type": {"id": 1}, "company": {"id": 1}, "deviceIdentifier": "00012E94105B"},
    ).get_json()
    ticket = api.post(
        "service/tickets", {"summary": "Backup failed", "company": {"id": 1}, "initialDescription": "details"}
    ).get_json()
    api.post(f"service/tickets/{ticket['id']}/configurations", {"id": config["id"]})
    agreement = api.get("finance/agreements", query_string={"pageSize": 1}).get_json()[0]
    api.post(
        f"finance/agreements/{agreement['id']}/additions",
        {"product": {"id": 1}, "billCustomer": "Billable", "quantity": 2, "unitPrice": 120},
    )
    api.post(f"finance/agreements/{agreement['id']}/configurations", {"id": config["id"]})
    api.post("company/managedDevicesIntegrations/1/logins", {"username": "t", "member": {"id": 1}})
    api.post("company/managedDevicesIntegrations/1/notifications", {"notifyWho": {"id": 1}, "logType": "All"})


def served_paths(api: Api):
    """Every declared collection's list path, with each parent that has children filled in."""
    backend = api.world.backend
    for collection in COLLECTIONS:
        if collection.parent is None:
            yield collection, collection.path
            continue
        parents = backend.store.table(backend.collection(collection.parent.collection).table).records
        for parent_id in parents:
            yield collection, collection.path.replace("{parentId}", str(parent_id))


def test_every_collection_of_the_default_tenant_validates_against_pyconnectwise_models(api: Api) -> None:
    fill_every_collection(api)
    assert set(MODEL_OF) == {collection.table for collection in COLLECTIONS}
    seen: dict[str, int] = {}
    for collection, path in served_paths(api):
        response = api.get(path, query_string={"pageSize": 1000})
        assert response.status_code == 200, (path, response.get_json())
        for record in response.get_json():
            MODEL_OF[collection.table].model_validate(record)
            seen[collection.table] = seen.get(collection.table, 0) + 1
    assert set(seen) == set(MODEL_OF), f"collections with no record to check: {set(MODEL_OF) - set(seen)}"
    models.Info.model_validate(api.get("system/info").get_json())


def test_the_model_check_catches_a_bad_record() -> None:
    """Negative control: the models really reject what the fake must never send."""
    with pytest.raises(pydantic.ValidationError):
        models.Ticket.model_validate({"summary": "x", "severity": "Catastrophic"})
    with pytest.raises(pydantic.ValidationError):
        models.Board.model_validate({"name": "x", "_info": {"lastUpdated": 5}})
    with pytest.raises(pydantic.ValidationError):
        models.Member.model_validate({"identifier": "x", "firstName": "y"})
