"""Every ConnectWise collection the fake serves, declared. The machinery in backend.py serves them."""

from __future__ import annotations

from typing import Any

from . import rules, schemas
from .callback_entries import CALLBACKS, callback_url_on_loopback
from .generated import with_generated
from .model import READ_ONLY, Collection, Parent

SERVICE_TICKET = "ServiceTicket"
MANAGED_SERVICES = "ManagedServices"
COMPANY = "Company"
CONTACT = "Contact"
ACTIVITY = "Activity"
INVOICE = "Invoice"
PRODUCT = "Product"
MARKETING = "Marketing"
PURCHASING = "Purchasing"
REPORTING = "Reporting"
SYSTEM = "System"
CONFIGURATION = "Configuration"
AGREEMENT = "Agreement"

BOARD_CHILD_INDEXES = ("board",)


def company_reference(record: dict[str, Any]) -> dict[str, Any]:
    return {"identifier": record.get("identifier"), "name": record.get("name")}


def contact_reference(record: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(part for part in (record.get("firstName"), record.get("lastName")) if part)
    return {"name": name}


def member_reference(record: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(part for part in (record.get("firstName"), record.get("lastName")) if part)
    return {"identifier": record.get("identifier"), "name": name}


def integrator_login_reference(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record.get("username")}


def agreement_reference(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record.get("name")}


def configuration_status_reference(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record.get("description")}


def catalog_item_reference(record: dict[str, Any]) -> dict[str, Any]:
    return {"identifier": record.get("identifier")}


def configuration_link_reference(record: dict[str, Any]) -> dict[str, Any]:
    return {"deviceIdentifier": record.get("deviceIdentifier")}


def configuration_links(parent_path: str, parent_field: str, api: str) -> Collection:
    """Configurations attached to a ticket or an agreement: `/{parent}/{id}/configurations[/{configId}]`."""
    return Collection(
        f"{parent_path}/{{parentId}}/configurations",
        "configuration",
        schemas.ConfigurationLinkSchema,
        api,
        parent=Parent(parent_field, parent_path),
        display=configuration_link_reference,
        indexes=("configuration",),
        rules=(rules.link_configuration,),
        methods=frozenset({"GET", "POST", "DELETE"}),
        link_field="configuration",
    )


def managed_devices_child(path: str, resource: str, schema: type) -> Collection:
    return Collection(
        f"company/managedDevicesIntegrations/{{parentId}}/{path}",
        resource,
        schema,
        MANAGED_SERVICES,
        parent=Parent("managedDevicesIntegration", "company/managedDevicesIntegrations"),
    )


def read_only(path: str, resource: str, schema: type, api: str, **extra: Any) -> Collection:
    """A small read-only collection, served so every integrator API flag can be probed."""
    return Collection(path, resource, schema, api, methods=READ_ONLY, **extra)


def board_child(path: str, resource: str, schema: type, **extra: Any) -> Collection:
    """A collection that lives under a service board (statuses, types, subtypes, items)."""
    return Collection(
        f"service/boards/{{parentId}}/{path}",
        resource,
        schema,
        SERVICE_TICKET,
        parent=Parent("board", "service/boards"),
        indexes=BOARD_CHILD_INDEXES,
        **extra,
    )


COLLECTIONS: list[Collection] = [
    Collection(
        "company/companies",
        "company",
        schemas.CompanySchema,
        COMPANY,
        lookup=("identifier", "name"),
        display=company_reference,
        indexes=("name",),
        unique=("identifier",),
        rules=(rules.company_has_an_address, rules.company_default_types),
        forward_only=True,
        links={
            "contacts_href": "company/contacts?conditions=company/id={id}",
            "tickets_href": "service/tickets?conditions=company/id={id}",
        },
    ),
    Collection(
        "company/contacts",
        "contact",
        schemas.ContactSchema,
        CONTACT,
        lookup=("name",),
        display=contact_reference,
        indexes=("company",),
        forward_only=True,
    ),
    Collection(
        "service/boards",
        "board",
        schemas.BoardSchema,
        SERVICE_TICKET,
        indexes=("name",),
        links={"statuses_href": "service/boards/{id}/statuses", "types_href": "service/boards/{id}/types"},
    ),
    board_child("statuses", "status", schemas.BoardStatusSchema, rules=(rules.one_default_per_board,)),
    board_child("types", "type", schemas.BoardTypeSchema, rules=(rules.one_default_per_board,)),
    board_child("subtypes", "subType", schemas.BoardSubTypeSchema),
    board_child("items", "item", schemas.BoardItemSchema),
    Collection(
        "service/tickets",
        "ticket",
        schemas.TicketSchema,
        SERVICE_TICKET,
        lookup=("summary",),
        display=lambda record: {"summary": record.get("summary")},
        indexes=("company", "board", "status", "externalXRef", "agreement"),
        rules=(rules.closed_status_closes, rules.initial_description_becomes_note),
        forward_only=True,
        links={
            "notes_href": "service/tickets/{id}/notes",
            "configurations_href": "service/tickets/{id}/configurations",
        },
    ),
    Collection(
        "service/tickets/{parentId}/notes",
        "note",
        schemas.ServiceNoteSchema,
        SERVICE_TICKET,
        parent=Parent("ticketId", "service/tickets"),
        rules=(rules.note_has_text_and_kind,),
        forward_only=True,
    ),
    Collection(
        "system/members",
        "member",
        schemas.MemberSchema,
        SYSTEM,
        lookup=("identifier",),
        display=member_reference,
        unique=("identifier",),
        methods=READ_ONLY,
    ),
    Collection(
        "system/integratorlogins",
        "integratorLogin",
        schemas.IntegratorLoginSchema,
        SYSTEM,
        lookup=("username",),
        display=integrator_login_reference,
        unique=("username",),
    ),
    configuration_links("service/tickets", "ticketId", SERVICE_TICKET),
    Collection(
        "company/configurations/types",
        "type",
        schemas.ConfigurationTypeSchema,
        CONFIGURATION,
        indexes=("name",),
        links={"questions_href": "company/configurations/types/{id}/questions"},
    ),
    Collection(
        "company/configurations/types/{parentId}/questions",
        "question",
        schemas.ConfigurationTypeQuestionSchema,
        CONFIGURATION,
        parent=Parent("configurationType", "company/configurations/types"),
        lookup=("question",),
        display=lambda record: {"name": record.get("question")},
    ),
    Collection(
        "company/configurations/statuses",
        "status",
        schemas.ConfigurationStatusSchema,
        CONFIGURATION,
        lookup=("description", "name"),
        display=configuration_status_reference,
        rules=(rules.one_default(),),
    ),
    Collection(
        "company/configurations",
        "configuration",
        schemas.ConfigurationSchema,
        CONFIGURATION,
        indexes=("company", "type", "serialNumber", "deviceIdentifier", "name"),
        rules=(rules.configuration_answers_its_type_questions,),
        forward_only=True,
    ),
    Collection(
        "company/managedDevicesIntegrations",
        "managedDevicesIntegration",
        schemas.ManagedDevicesIntegrationSchema,
        MANAGED_SERVICES,
        indexes=("name",),
        links={
            "crossReferences_href": "company/managedDevicesIntegrations/{id}/crossReferences",
            "logins_href": "company/managedDevicesIntegrations/{id}/logins",
            "notifications_href": "company/managedDevicesIntegrations/{id}/notifications",
        },
    ),
    managed_devices_child("crossReferences", "crossReference", schemas.CrossReferenceSchema),
    managed_devices_child("logins", "login", schemas.ManagedDevicesLoginSchema),
    managed_devices_child("notifications", "notification", schemas.ManagedDevicesNotificationSchema),
    Collection(
        "finance/agreements/types",
        "agreementType",
        schemas.AgreementTypeSchema,
        AGREEMENT,
        indexes=("name",),
        unique=("name",),
    ),
    Collection(
        "finance/agreements",
        "agreement",
        schemas.AgreementSchema,
        AGREEMENT,
        display=agreement_reference,
        indexes=("company", "type"),
        links={
            "additions_href": "finance/agreements/{id}/additions",
            "configurations_href": "finance/agreements/{id}/configurations",
        },
    ),
    Collection(
        "finance/agreements/{parentId}/additions",
        "addition",
        schemas.AdditionSchema,
        AGREEMENT,
        parent=Parent("agreementId", "finance/agreements"),
        lookup=("description",),
        display=lambda record: {"name": record.get("description")},
        indexes=("product", "serialNumber"),
        rules=(rules.invoiced_additions_are_frozen, rules.addition_amounts),
        delete_rules=(rules.invoiced_additions_are_frozen,),
    ),
    configuration_links("finance/agreements", "agreementId", AGREEMENT),
    Collection(
        "procurement/catalog",
        "catalogItem",
        schemas.CatalogItemSchema,
        PRODUCT,
        lookup=("identifier",),
        display=catalog_item_reference,
        unique=("identifier",),
    ),
    Collection("sales/activities", "activity", schemas.ActivitySchema, ACTIVITY),
    Collection("finance/invoices", "invoice", schemas.InvoiceSchema, INVOICE, lookup=("invoiceNumber",)),
    Collection("marketing/groups", "group", schemas.MarketingGroupSchema, MARKETING),
    Collection("procurement/purchaseorders", "purchaseOrder", schemas.PurchaseOrderSchema, PURCHASING),
    read_only("system/reports", "report", schemas.ReportSchema, REPORTING),
]


# The whole API: the declarations above refined by their models, then every other item model.
ALL_COLLECTIONS: list[Collection] = [
    *with_generated(COLLECTIONS, schemas.CwSchema),
    # Project tickets take configurations as service tickets do: the same link rows, under a generated parent.
    configuration_links("project/tickets", "ticketId", "Project"),
]
for _collection in ALL_COLLECTIONS:
    if _collection.table == CALLBACKS:  # the fake calls back only to loopback, and only types it reports
        _collection.rules += (callback_url_on_loopback,)
