"""The ConnectWise records onboarding chooses from, read once a run: companies, contacts, agreements, boards, products.

Every lookup by name is exact (case and repeated spaces aside) and must find exactly one record;
otherwise a `ChoiceError` says what was asked, where it was written and what there is instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .conditions import where
from .connectwise import ConnectWiseClient, NotFound
from .mapping_file import DEFAULT_CONTACT, normal_name
from .typeahead import CompanyChoice

__all__ = ["BoardChoice", "ChoiceError", "Named", "OnboardingRecords"]

SHOWN = 8


class ChoiceError(ValueError):
    """A choice that names nothing (or several things) in ConnectWise."""


@dataclass(frozen=True)
class Named:
    """A record chosen by name: its id and the name it goes by."""

    id: int
    name: str


@dataclass(frozen=True)
class BoardChoice:
    board: Named
    status: Named
    device_type: Named | None
    agent_type: Named | None
    subtype: Named | None


def contact_name(record: dict[str, Any]) -> str:
    return " ".join(part for part in (record.get("firstName"), record.get("lastName")) if part)


def _listing(names: list[str]) -> str:
    shown = ", ".join(f'"{name}"' for name in names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return (shown + more) or "none"


class OnboardingRecords:
    """Reads and caches what a run of onboarding needs; `client` is the integrator login's."""

    def __init__(self, client: ConnectWiseClient) -> None:
        self.client = client
        self._companies: dict[int, dict[str, Any] | None] = {}
        self._contacts: dict[int, list[dict[str, Any]]] = {}
        self._agreements: dict[int, list[dict[str, Any]]] = {}
        self._boards: dict[str, dict[str, Any]] = {}
        self._board_children: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._products: dict[str, dict[str, Any]] = {}

    # -- companies -----------------------------------------------------------------------

    def company_by_id(self, company_id: int) -> CompanyChoice | None:
        if company_id not in self._companies:
            try:
                self._companies[company_id] = self.client.get(f"company/companies/{company_id}")
            except NotFound:
                self._companies[company_id] = None
        record = self._companies[company_id]
        return CompanyChoice.from_record(record) if record else None

    def company(self, text: str) -> CompanyChoice:
        """The company whose identifier is `text`, else the one company named `text`."""
        for field_name in ("identifier", "name"):
            found = self.client.get(
                "company/companies",
                {"conditions": str(where(field_name, "=", text)), "pageSize": 25, "fields": "id,identifier,name"},
            )
            exact = [r for r in found if normal_name(str(r.get(field_name) or "")) == normal_name(text)]
            if len(exact) == 1:
                return CompanyChoice.from_record(exact[0])
            if len(exact) > 1:
                names = [str(CompanyChoice.from_record(r)) for r in exact]
                raise ChoiceError(
                    f'company "{text}": {len(exact)} companies are named so ({_listing(names)}); give the identifier'
                )
        raise ChoiceError(f'company "{text}": no company has that identifier or name')

    # -- contacts and agreements of a company ------------------------------------------

    def contacts(self, company_id: int) -> list[dict[str, Any]]:
        if company_id not in self._contacts:
            self._contacts[company_id] = list(
                self.client.iterate("company/contacts", conditions=where("company/id", "=", company_id))
            )
        return self._contacts[company_id]

    def contact(self, company: CompanyChoice, text: str) -> Named | None:
        """`default`: the company's default contact (None if it has none); else the contact of that name."""
        contacts = [c for c in self.contacts(company.id) if not c.get("inactiveFlag")]
        if text == DEFAULT_CONTACT:
            self.company_by_id(company.id)
            record = self._companies.get(company.id) or {}
            default_id = (record.get("defaultContact") or {}).get("id")
            chosen = [c for c in contacts if c["id"] == default_id] or [c for c in contacts if c.get("defaultFlag")]
            return Named(chosen[0]["id"], contact_name(chosen[0])) if chosen else None
        matches = [c for c in contacts if normal_name(contact_name(c)) == normal_name(text)]
        if len(matches) == 1:
            return Named(matches[0]["id"], contact_name(matches[0]))
        there = _listing([contact_name(c) for c in contacts])
        if matches:
            raise ChoiceError(f'contact "{text}": {company.name} has {len(matches)} contacts of that name')
        raise ChoiceError(f'contact "{text}": {company.name} has no contact of that name (there: {there})')

    def agreements(self, company_id: int) -> list[dict[str, Any]]:
        if company_id not in self._agreements:
            self._agreements[company_id] = [
                a
                for a in self.client.iterate("finance/agreements", conditions=where("company/id", "=", company_id))
                if not a.get("cancelledFlag") and a.get("agreementStatus") in (None, "Active")
            ]
        return self._agreements[company_id]

    def forget_agreements(self, company_id: int) -> None:
        self._agreements.pop(company_id, None)

    def agreement(self, company: CompanyChoice, text: str) -> Named | None:
        """The company's active agreement named `text`, else its one active agreement of the type named `text`.

        None when the company has no agreement of that type (a default that does not apply to it).
        """
        agreements = self.agreements(company.id)
        named = [a for a in agreements if normal_name(str(a.get("name") or "")) == normal_name(text)]
        of_type = [
            a for a in agreements if normal_name(str((a.get("type") or {}).get("name") or "")) == normal_name(text)
        ]
        for found in (named, of_type):
            if len(found) == 1:
                return Named(found[0]["id"], str(found[0].get("name")))
            if found:
                names = _listing([str(a.get("name")) for a in found])
                raise ChoiceError(f'agreement "{text}": {company.name} has {len(found)} ({names}); name one')
        return None

    def agreements_listing(self, company: CompanyChoice) -> str:
        return _listing([str(a.get("name")) for a in self.agreements(company.id)])

    # -- setup tables ------------------------------------------------------------------

    def _one(self, path: str, field_name: str, text: str, what: str) -> dict[str, Any]:
        found = self.client.get(path, {"conditions": str(where(field_name, "=", text)), "pageSize": 25})
        exact = [r for r in found if normal_name(str(r.get(field_name) or "")) == normal_name(text)]
        if len(exact) != 1:
            there = _listing([str(r.get(field_name)) for r in self.client.get(path, {"pageSize": 25})])
            problem = "is not unique" if exact else "does not exist"
            raise ChoiceError(f'{what} "{text}" {problem} (there: {there})')
        return exact[0]

    def configuration_type(self, name: str) -> Named:
        record = self._one("company/configurations/types", "name", name, "configuration type")
        return Named(record["id"], str(record["name"]))

    def product(self, identifier: str) -> dict[str, Any]:
        if identifier not in self._products:
            self._products[identifier] = self._one("procurement/catalog", "identifier", identifier, "product")
        return self._products[identifier]

    def board(self, name: str) -> Named:
        key = normal_name(name)
        if key not in self._boards:
            self._boards[key] = self._one("service/boards", "name", name, "service board")
        board = self._boards[key]
        return Named(board["id"], str(board["name"]))

    def on_board(self, board: Named, kind: str, text: str) -> Named | None:
        """The board's status, type or subtype (`kind`: statuses, types, subtypes) named `text`; None for ""."""
        if not text:
            if kind == "statuses":
                raise ChoiceError(f'board "{board.name}": a status for the new tickets is required')
            return None
        cache_key = (board.id, kind)
        if cache_key not in self._board_children:
            self._board_children[cache_key] = list(self.client.iterate(f"service/boards/{board.id}/{kind}"))
        records = self._board_children[cache_key]
        found = [r for r in records if normal_name(str(r.get("name") or "")) == normal_name(text)]
        if len(found) != 1:
            there = _listing([str(r.get("name")) for r in records])
            what = "status" if kind == "statuses" else kind[:-1]
            raise ChoiceError(f'{what} "{text}" is not on board "{board.name}" (there: {there})')
        return Named(found[0]["id"], str(found[0]["name"]))
