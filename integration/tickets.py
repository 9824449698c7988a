"""The ConnectWise calls behind an alert's ticket: find the open one, create, add a note, link, close.

Each finder is what makes re-trying safe: a ticket is found by its `externalXRef` (the alert's
key) among open tickets, a note by the event marker its text ends with, a link by listing the
ticket's configurations. Creates are plain POSTs, never re-sent by the transport.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .conditions import like_escape, where
from .connectwise import ConnectWiseClient, ObjectExists

__all__ = ["TicketWriter"]


class TicketWriter:
    """Tickets, notes and configuration links in ConnectWise, for the alert deliveries."""

    def __init__(self, cw: ConnectWiseClient) -> None:
        self.cw = cw

    def open_ticket(self, xref: str) -> int | None:
        """The newest ticket with this `externalXRef` that nobody has closed, if any."""
        found = self.cw.get(
            "service/tickets",
            {
                "conditions": str(where("externalXRef", "=", xref) & where("closedFlag", "=", False)),
                "orderBy": "id desc",
                "fields": "id",
                "pageSize": 1,
            },
        )
        return int(found[0]["id"]) if found else None

    def create(self, body: dict[str, Any]) -> int:
        """POST the ticket; returns its id. Raises ResponseLost/ServerError when it may or may not exist."""
        return int(self.cw.post("service/tickets", body)["id"])

    def find_note(self, ticket_id: int, marker: str) -> int | None:
        """The note on the ticket whose text carries `marker` (an event's line), if any."""
        found = self.cw.get(
            f"service/tickets/{ticket_id}/notes",
            {
                "conditions": str(where("text", "like", f"%{like_escape(marker)}%")),
                "orderBy": "id asc",
                "fields": "id",
                "pageSize": 1,
            },
        )
        return int(found[0]["id"]) if found else None

    def add_note(self, ticket_id: int, text: str) -> int:
        """A discussion note on the ticket; returns its id."""
        body = {"text": text, "detailDescriptionFlag": True, "internalAnalysisFlag": False, "resolutionFlag": False}
        return int(self.cw.post(f"service/tickets/{ticket_id}/notes", body)["id"])

    def is_linked(self, ticket_id: int, configuration_id: int) -> bool:
        links = self.cw.iterate(f"service/tickets/{ticket_id}/configurations")
        return any(int(link.get("id") or 0) == configuration_id for link in links)

    def link(self, ticket_id: int, configuration_id: int) -> None:
        """Attach the device's configuration; one that is already attached is fine."""
        with contextlib.suppress(ObjectExists):
            self.cw.post(f"service/tickets/{ticket_id}/configurations", {"id": configuration_id})

    def close(self, ticket_id: int, status_id: int) -> None:
        """Move the ticket to a closed status (a `replace` patch: safe to repeat)."""
        self.cw.patch(f"service/tickets/{ticket_id}", {"status": {"id": status_id}})
