"""Every ConnectWise collection the fake serves, declared. The machinery in backend.py serves them."""

from __future__ import annotations

from typing import Any

from . import rules, schemas
from .model import READ_ONLY, Collection, Parent

SERVICE_TICKET = "ServiceTicket"
COMPANY = "Company"
CONTACT = "Contact"
SYSTEM = "System"

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
        rules=(rules.company_has_an_address,),
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
        indexes=("company", "board", "status", "externalXRef"),
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
]
