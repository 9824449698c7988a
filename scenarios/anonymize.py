"""`cwsim capture --anonymize`: people's and companies' names, emails and phones replaced by Faker's.

Every such value of a captured tenant is given a stand-in from a Faker seeded with `--seed`, in
file order, so the same capture and seed give the same file. The stand-ins then replace each
whole-word occurrence of the value in every text of the file (case-insensitively), so an
agreement named after its company, a reference `{name: Anne Dodsworth}` and the contact it
names all change alike, and references still resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from faker import Faker

# Where people and companies live in a tenant file, and which of their fields name them.
PEOPLE_SECTIONS = ("members", "contacts")
COMPANY_SECTIONS = ("companies",)
PERSON_FIELDS = ("firstName", "lastName")
COMPANY_FIELDS = ("name", "identifier")
MEMBER_FIELDS = ("identifier",)
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_WORDS = ("phone", "fax", "mobile", "pager")
PHONE = re.compile(r"\+?[\d\s().-]{7,}(?:\s*(?:x|ext\.?)\s*\d+)?", re.IGNORECASE)
SHORTEST_REPLACED = 2  # one-letter names (an initial) are left: they would change every "a"


def anonymize(document: dict[str, Any], seed: int) -> dict[str, Any]:
    """A copy of a tenant document with names, emails and phones replaced, consistently."""
    faker = Faker()
    faker.seed_instance(seed)
    stand_ins = _StandIns(faker)
    for kind, value in _sensitive_values(document):
        stand_ins.add(kind, value)
    return stand_ins.apply(document)


def _sensitive_values(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, value) for each name, email and phone, in file order (the tenant's own company name first)."""
    settings = document.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("companyName"), str):
        yield "company", settings["companyName"]
    for section, entries in document.items():
        if section == "settings" or not isinstance(entries, list):
            continue
        yield from _in_entries(section, entries)
    for text in _texts(document):
        for email in EMAIL.findall(text):
            yield "email", email


def _in_entries(section: str, entries: list[Any]) -> Iterator[tuple[str, str]]:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if section in PEOPLE_SECTIONS:
            for name in PERSON_FIELDS:
                if isinstance(entry.get(name), str):
                    yield name, entry[name]
            if section == "members" and isinstance(entry.get("identifier"), str):
                yield "username", entry["identifier"]
        if section in COMPANY_SECTIONS:
            for name in COMPANY_FIELDS:
                if isinstance(entry.get(name), str):
                    yield "company" if name == "name" else "identifier", entry[name]
        for key, value in entry.items():
            if any(word in key.casefold() for word in PHONE_WORDS) and _is_phone(value):
                yield "phone", value
            if key == "communicationItems" and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and _is_phone(item.get("value")):
                        yield "phone", item["value"]
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                yield from _in_entries(key, value)


def _is_phone(value: Any) -> bool:
    """A phone number, not an enum like `defaultPhone: Office`: mostly digits, seven or more."""
    return isinstance(value, str) and PHONE.fullmatch(value.strip()) is not None


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


class _StandIns:
    """Each sensitive value's Faker stand-in, and the replacement of them all in a document."""

    def __init__(self, faker: Faker) -> None:
        self.faker = faker
        self.by_value: dict[str, str] = {}  # casefolded original -> stand-in
        self.used: set[str] = set()
        # ConnectWise's limits: a member identifier holds 15 characters, a company identifier 25.
        self.makers = {
            "firstName": faker.first_name,
            "lastName": faker.last_name,
            "username": lambda: faker.user_name()[:15],
            "company": faker.company,
            "identifier": lambda: re.sub(r"[^A-Za-z0-9]", "", faker.company())[:25],
            "email": faker.email,
            "phone": lambda: faker.numerify("###-555-####"),
        }

    def _new(self, kind: str) -> str:
        """A stand-in of this kind no other value has (Faker repeats itself, and cut names may clash)."""
        for _ in range(1000):
            candidate = self.makers[kind]()
            if candidate.casefold() not in self.used:
                self.used.add(candidate.casefold())
                return candidate
        raise RuntimeError(f"Faker ran out of distinct {kind} stand-ins")

    def add(self, kind: str, value: str) -> None:
        folded = value.strip().casefold()
        if len(folded) < SHORTEST_REPLACED or folded in self.by_value:
            return
        self.by_value[folded] = self._new(kind)

    def apply(self, document: Any) -> Any:
        if not self.by_value:
            return document
        # Longest first, so "Anne Dodsworth" is not half-replaced through "Anne".
        originals = sorted(self.by_value, key=len, reverse=True)
        pattern = re.compile("|".join(rf"(?<!\w){re.escape(original)}(?!\w)" for original in originals), re.IGNORECASE)
        return self._replace(document, pattern)

    def _replace(self, value: Any, pattern: re.Pattern[str]) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda match: self.by_value[match.group(0).casefold()], value)
        if isinstance(value, dict):
            return {key: self._replace(item, pattern) for key, item in value.items()}
        if isinstance(value, list):
            return [self._replace(item, pattern) for item in value]
        return value
