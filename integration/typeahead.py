"""Choosing a ConnectWise company for a Datto client by typeahead, as the Partner Portal's company drop-down does.

The guide: "Begin typing the name of the client company ... and then select the correct name
from the resulting drop-down" - never type the whole name and carry on. `CompanyTypeahead`
types the Datto client name a character at a time (`name like "Acm%"`), and selects a company
only when the drop-down holds exactly one company with exactly that name (case and repeated
spaces aside). Anything else - no such company, an abbreviation that several or one longer name
starts with, two companies with the same name - is not a match: the device stays unmatched with
the drop-down's candidates until someone maps it explicitly. A near miss is never taken.

Once a drop-down holds every company starting with what was typed (a short page), typing on can
only narrow it: the rest of the name is applied to that list instead of asking again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .conditions import starts_with, where
from .connectwise import ConnectWiseClient
from .mapping_file import normal_name

__all__ = ["CompanyChoice", "CompanyTypeahead", "TypeaheadResult"]

MIN_CHARACTERS = 3
DROPDOWN_SIZE = 50
CANDIDATES_SHOWN = 10


@dataclass(frozen=True)
class CompanyChoice:
    """A company as the drop-down shows it."""

    id: int
    identifier: str
    name: str

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CompanyChoice:
        return cls(int(record["id"]), str(record.get("identifier") or ""), str(record.get("name") or ""))

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"


@dataclass(frozen=True)
class TypeaheadResult:
    """The company selected (or None), the drop-down's last candidates, and why nothing was selected."""

    client_name: str
    company: CompanyChoice | None
    candidates: list[CompanyChoice] = field(default_factory=list)
    reason: str = ""
    queries: int = 0


class CompanyTypeahead:
    """The company drop-down, asked as a user types."""

    def __init__(
        self, client: ConnectWiseClient, *, min_characters: int = MIN_CHARACTERS, dropdown_size: int = DROPDOWN_SIZE
    ) -> None:
        self.client = client
        self.min_characters = min_characters
        self.dropdown_size = dropdown_size

    def suggest(self, typed: str) -> list[CompanyChoice]:
        """The drop-down for what has been typed: companies whose name starts with it, by name."""
        records = self.client.get(
            "company/companies",
            {
                "conditions": str(where("name", "like", starts_with(typed))),
                "orderBy": "name asc",
                "pageSize": self.dropdown_size,
                "fields": "id,identifier,name",
            },
        )
        return [CompanyChoice.from_record(record) for record in records or []]

    def match(self, client_name: str | None) -> TypeaheadResult:
        """Type `client_name` into the drop-down; select a company only if exactly one has exactly that name."""
        name = " ".join((client_name or "").split())
        if not name:
            return TypeaheadResult("", None, reason="the Datto portal gives this device no client name")
        length, queries = min(self.min_characters, len(name)), 0
        while True:
            shown = self.suggest(name[:length])
            queries += 1
            complete = len(shown) < self.dropdown_size
            if not shown or complete or length == len(name):
                break
            length += 1
        wanted = normal_name(name)
        narrowed, typed = shown, name[:length]
        for end in range(length + 1, len(name) + 1):
            # Typing on: each longer prefix keeps the names that start with it.
            keep = [c for c in narrowed if normal_name(c.name).startswith(normal_name(name[:end]))]
            if not keep:
                break
            narrowed, typed = keep, name[:end]
        exact = [c for c in narrowed if normal_name(c.name) == wanted]
        if len(exact) == 1:
            return TypeaheadResult(name, exact[0], queries=queries)
        if exact:
            reason = f'{len(exact)} companies are named "{name}"'
            return TypeaheadResult(name, None, exact[:CANDIDATES_SHOWN], reason, queries)
        if not narrowed:
            reason = f'no company name starts with "{name[:length]}"'
        elif typed == name:
            starts = "1 starts" if len(narrowed) == 1 else f"{len(narrowed)} start"
            reason = f'no company is named exactly "{name}"; {starts} with it'
        else:
            reason = f'no company name starts with "{name[: len(typed) + 1]}"'
        if not complete and narrowed:
            reason += f" (the drop-down shows only the first {self.dropdown_size})"
        return TypeaheadResult(name, None, narrowed[:CANDIDATES_SHOWN], reason, queries)
