"""User-defined fields: the tenant's definitions (`system/userDefinedFields`) on every record of their screen.

ConnectWise answers a record's `customFields` with every user-defined field of its screen, in the
definitions' order, each with the value the record holds for it (left out while it has none). A
client writes values by id, so the stored `customFields` keep only what was written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import Backend

DEFINITIONS = "system/userDefinedFields"
# The screen whose fields a table's records carry (the `screenId` of a definition; cwsim's names).
SCREENS = {
    "service/tickets": "Service Ticket",
    "project/tickets": "Service Ticket",
    "project/projects": "Project",
    "sales/activities": "Activity",
    "sales/opportunities": "Opportunity",
    "company/companies": "Company",
    "company/contacts": "Contact",
    "company/configurations": "Configuration",
    "finance/agreements": "Agreement",
    "time/entries": "Time Entry",
}


class CustomFields:
    """A table's screen's definitions as `CustomFieldValue`s, rebuilt when the definitions change."""

    def __init__(self, backend: Backend, screen: str) -> None:
        self.backend = backend
        self.screen = screen
        self._version = -1
        self._fields: list[dict[str, Any]] = []

    def version(self) -> int:
        """The definitions table's version: a record rendered under another version is stale."""
        table = self.backend.store.tables.get(DEFINITIONS)
        return -1 if table is None else table.version

    def definitions(self) -> list[dict[str, Any]]:
        table = self.backend.store.tables.get(DEFINITIONS)
        if table is None:
            return []
        if table.version != self._version:
            rows = [row for row in table.records.values() if row.get("screenId") == self.screen]
            rows.sort(key=lambda row: (row.get("sequenceNumber") or 0, row["id"]))
            self._fields = [_shown(row) for row in rows]
            self._version = table.version
        return self._fields

    def of(self, stored: Any) -> list[dict[str, Any]] | None:
        """The record's `customFields`: every definition, with the stored value by id where there is one."""
        fields = self.definitions()
        if not fields:
            return stored or None
        values = {item.get("id"): item.get("value") for item in stored or () if isinstance(item, dict)}
        out = []
        for field in fields:
            value = values.get(field["id"])
            out.append(field if value is None else {**field, "value": value})
        return out


def _shown(definition: dict[str, Any]) -> dict[str, Any]:
    shown = {
        "id": definition["id"],
        "caption": definition.get("caption"),
        "type": definition.get("fieldTypeIdentifier"),
        "entryMethod": definition.get("entryTypeIdentifier"),
        "numberOfDecimals": definition.get("numberDecimals") or 0,
        "connectWiseId": definition.get("connectWiseID"),
    }
    return {name: value for name, value in shown.items() if value is not None}


def custom_fields_for(backend: Backend, table: str, has_custom_fields: bool) -> CustomFields | None:
    """The user-defined fields a table's records show, if its model has `customFields` and a screen."""
    screen = SCREENS.get(table)
    return CustomFields(backend, screen) if has_custom_fields and screen else None
