"""Conversions: an opportunity becomes a service ticket, project, agreement or sales order; a sales
order becomes a service ticket. Each makes a new record for the source's company and contact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..clock import format_cw_datetime
from .action_steps import body_object
from .actions import Action, ActionCall, Answer
from .model import Record

if TYPE_CHECKING:
    from .backend import Backend

TICKETS = "service/tickets"


def _opportunity(call: ActionCall) -> Record:
    return call.backend.get(call.backend.collection("sales/opportunities"), call.id(), None, call.principal)


def _ref(value: Any) -> dict[str, Any] | None:
    return {"id": value} if value is not None else None


def _first(backend: Backend, table: str, where: Callable[[Record], bool] = lambda record: True) -> int | None:
    """The default row of a table (else its lowest id) among those `where` accepts; None when there is none."""
    records = backend.store.table(table).records
    defaults = [i for i, r in sorted(records.items()) if r.get("defaultFlag") and where(r)]
    others = [i for i, r in sorted(records.items()) if where(r)]
    return (defaults or others or [None])[0]


def _first_target(backend: Backend, table: str, field: str) -> dict[str, Any] | None:
    """A reference to the default (else first) record a field of `table` may name."""
    return _ref(_first(backend, backend.collection(table).refs[field].target))


def _create(call: ActionCall, table: str, body: dict[str, Any]) -> Record:
    body = {name: value for name, value in body.items() if value is not None}
    return call.backend.create(call.backend.collection(table), body, call.principal)


def opportunity_to_ticket(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToServiceTicket`: a service ticket for the opportunity's company."""
    body = body_object(call, "OpportunityToServiceTicketConversion")
    opportunity = _opportunity(call)
    ticket = _create(
        call,
        TICKETS,
        {
            "summary": (body.get("summary") or opportunity.get("name") or "Opportunity")[:100],
            "company": _ref(opportunity.get("company")),
            "contact": _ref(opportunity.get("contact")),
        },
    )
    return call.render(TICKETS, ticket), None


def opportunity_to_project(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToProject`: a project for the opportunity's company."""
    backend = call.backend
    body = body_object(call, "OpportunityToProjectConversion")
    opportunity = _opportunity(call)
    start = backend.now()
    project = _create(
        call,
        "project/projects",
        {
            "name": (body.get("name") or opportunity.get("name") or "Project")[:100],
            "company": _ref(opportunity.get("company")),
            "contact": _ref(opportunity.get("contact")),
            "board": body.get("board") or _first_target(backend, "project/projects", "board"),
            "status": body.get("status"),
            "manager": body.get("manager"),
            "billingMethod": "ActualRates",
            "estimatedStart": body.get("estimatedStart") or format_cw_datetime(start),
            "estimatedEnd": body.get("estimatedEnd") or format_cw_datetime(start + timedelta(days=30)),
            "opportunity": {"id": opportunity["id"]},
        },
    )
    return call.render("project/projects", project), None


def opportunity_to_agreement(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToAgreement`: an agreement for the opportunity's company."""
    backend = call.backend
    body = body_object(call, "OpportunityToAgreementConversion")
    opportunity = _opportunity(call)
    company_id = opportunity.get("company")
    contact_id = opportunity.get("contact") or _first(
        backend, "company/contacts", lambda c: c.get("company") == company_id
    )
    agreement = _create(
        call,
        "finance/agreements",
        {
            "name": (body.get("name") or opportunity.get("name") or "Agreement")[:100],
            "type": body.get("type") or _first_target(backend, "finance/agreements", "type"),
            "company": _ref(company_id),
            "contact": _ref(contact_id),
            "startDate": body.get("startDate"),
            "endDate": body.get("endDate"),
            "noEndingDateFlag": body.get("noEndingDateFlag"),
            "opportunity": {"id": opportunity["id"]},
        },
    )
    return call.render("finance/agreements", agreement), None


def opportunity_to_order(call: ActionCall) -> Answer:
    """`POST /sales/opportunities/{id}/convertToSalesOrder`: a sales order for the opportunity."""
    backend = call.backend
    opportunity = _opportunity(call)
    order = _create(
        call,
        "sales/orders",
        {
            "company": _ref(opportunity.get("company")),
            "contact": _ref(opportunity.get("contact")),
            "status": _first_target(backend, "sales/orders", "status"),
            "salesRep": _ref(opportunity.get("primarySalesRep")) or _first_target(backend, "sales/orders", "salesRep"),
            "opportunity": {"id": opportunity["id"]},
        },
    )
    return call.render("sales/orders", order), None


def order_to_ticket(call: ActionCall) -> Answer:
    """`POST /sales/orders/{id}/convertToServiceTicket`: a service ticket for the order's company."""
    backend = call.backend
    order = backend.get(backend.collection("sales/orders"), call.id(), None, call.principal)
    ticket = _create(
        call,
        TICKETS,
        {
            "summary": f"Sales order {order['id']}",
            "company": _ref(order.get("company")),
            "contact": _ref(order.get("contact")),
        },
    )
    return call.render(TICKETS, ticket), None


CONVERSION_ACTIONS: list[Action] = [
    Action("POST", "/sales/opportunities/{id}/convertToServiceTicket", opportunity_to_ticket, "sales/opportunities"),
    Action("POST", "/sales/opportunities/{id}/convertToProject", opportunity_to_project, "sales/opportunities"),
    Action("POST", "/sales/opportunities/{id}/convertToAgreement", opportunity_to_agreement, "sales/opportunities"),
    Action("POST", "/sales/opportunities/{id}/convertToSalesOrder", opportunity_to_order, "sales/opportunities"),
    Action("POST", "/sales/orders/{id}/convertToServiceTicket", order_to_ticket, "sales/orders"),
]
