"""Domain-event triggers of fault rules: the Nth ticket for a company, a write to a closed ticket,
the first request after a configuration is deleted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .connectwise.store import StoreEvent
from .faults import WRITE_METHODS, Domain, FaultRequest

if TYPE_CHECKING:
    from .connectwise.backend import Backend

TICKETS = "service/tickets"
COMPANIES = "company/companies"
CONFIGURATIONS = "company/configurations"
TRIGGER_EVENTS = ("ticket_for_company", "closed_ticket_write", "configuration_deleted")


@dataclass
class TicketForCompany:
    """The request creating the `nth` ticket for `company` (counted from when the rule was added).

    Decided before the write, from the body's company (by id, identifier or name): a status fault
    refuses that ticket, a commit-then-fail lets it be created and loses the answer.
    """

    company: int
    nth: int
    created: int = 0
    on = "ticket_for_company"

    def applies(self, request: FaultRequest, domain: Domain | None) -> bool:
        if request.method != "POST" or request.collections[:1] != (TICKETS,) or self.created != self.nth - 1:
            return False
        if domain is None or request.api_path is None or request.api_path.strip("/").count("/") != 1:
            return False
        return domain.company_id(_json_field(request.body, "company")) == self.company

    def observe(self, event: StoreEvent) -> None:
        if event.kind == "insert" and event.table == TICKETS and (event.record or {}).get("company") == self.company:
            self.created += 1

    def fired(self) -> None:
        pass

    def as_json(self) -> dict[str, Any]:
        return {"on": self.on, "company": self.company, "nth": self.nth, "created": self.created}


@dataclass
class ClosedTicketWrite:
    """Any write (PUT, PATCH, DELETE, or a POST of a note or link) to a ticket that is closed."""

    on = "closed_ticket_write"

    def applies(self, request: FaultRequest, domain: Domain | None) -> bool:
        if request.method not in WRITE_METHODS or domain is None or request.api_path is None:
            return False
        parts = request.api_path.strip("/").split("/")
        if len(parts) < 3 or parts[0].casefold() != "service" or parts[1].casefold() != "tickets":
            return False
        return parts[2].isdigit() and domain.ticket_closed(int(parts[2]))

    def observe(self, event: StoreEvent) -> None:
        pass

    def fired(self) -> None:
        pass

    def as_json(self) -> dict[str, Any]:
        return {"on": self.on}


@dataclass
class ConfigurationDeleted:
    """The first matching request after a configuration (any, or the one given) is deleted; each
    deletion arms the rule again."""

    configuration: int | None = None
    armed_by: list[int] = field(default_factory=list)
    on = "configuration_deleted"

    def applies(self, request: FaultRequest, domain: Domain | None) -> bool:
        return bool(self.armed_by)

    def observe(self, event: StoreEvent) -> None:
        if event.kind != "delete" or event.table != CONFIGURATIONS or event.previous is None:
            return
        if self.configuration is None or event.previous.get("id") == self.configuration:
            self.armed_by.append(event.previous["id"])

    def fired(self) -> None:
        self.armed_by.clear()

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"on": self.on, "armed": bool(self.armed_by)}
        if self.configuration is not None:
            found["configuration"] = self.configuration
        return found


def _json_field(body: bytes, name: str) -> Any:
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    return next((value for key, value in document.items() if key.casefold() == name.casefold()), None)


class StoreDomain:
    """The fake's current state as triggers see it."""

    def __init__(self, backend_of: Callable[[], Backend]) -> None:
        self.backend_of = backend_of

    def ticket_closed(self, ticket_id: int) -> bool:
        ticket = self.backend_of().store.get(TICKETS, ticket_id)
        return bool(ticket and ticket.get("closedFlag"))

    def company_id(self, reference: Any) -> int | None:
        """The id of the company a body names: 5, "5", {"id": 5}, {"identifier": ...} or {"name": ...}."""
        if isinstance(reference, bool):
            return None
        if isinstance(reference, int):
            return reference
        if isinstance(reference, str):
            return int(reference) if reference.strip().isdigit() else None
        if not isinstance(reference, dict):
            return None
        given_id = reference.get("id")
        if isinstance(given_id, int) and not isinstance(given_id, bool):
            return given_id
        if isinstance(given_id, str) and given_id.strip().isdigit():
            return int(given_id)
        table = self.backend_of().store.table(COMPANIES)
        for name in ("identifier", "name"):
            value = reference.get(name)
            if isinstance(value, str) and value:
                found = set(table.lookup(name, value))  # a copy: writers change the index meanwhile
                if len(found) == 1:
                    return next(iter(found))
        return None
