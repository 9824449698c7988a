"""The dashboard's sections, in page order: what each shows, how to tell it changed, and its template."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..journal import JournalFilter
from ..world import World
from .capped import Capped
from .fleet import activity_model, fleet_model, fleet_version
from .records import (
    AGREEMENT_TABLES,
    CONFIGURATION_TABLES,
    TICKET_TABLES,
    TICKETS,
    agreements_model,
    configurations_model,
    connectwise_tables,
    table_versions,
    tickets_model,
)

MAIL_SHOWN = 50
JOURNAL_SHOWN = 100
HOUR = 3600
JOURNAL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "CALLBACK")  # CALLBACK: a delivery the fake sent


@dataclass
class Reading:
    """One look at the world for one page or update: the journal filter asked for, the fleet's view read once."""

    world: World
    journal: JournalFilter = field(default_factory=JournalFilter)
    status_text: str = ""  # the status filter as typed, shown back in the form
    problem: str | None = None  # a filter that could not be read, said back to the reader

    @cached_property
    def fleet(self) -> dict[str, Any]:
        return self.world.state.views["fleet"].view()


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    version: Callable[[Reading], Any]
    model: Callable[[Reading], dict[str, Any]]

    @property
    def template(self) -> str:
        return f"dashboard/_{self.name}.html"

    def version_of(self, reading: Reading) -> str:
        """A short fingerprint of what the section shows: equal fingerprints, same section."""
        return hashlib.blake2b(repr(self.version(reading)).encode(), digest_size=8).hexdigest()


# -- the plain sections -----------------------------------------------------------------------


def clock_model(reading: Reading) -> dict[str, Any]:
    return reading.world.state.views["clock"].view()


def mail_version(reading: Reading) -> tuple[Any, ...]:
    messages = reading.world.mailbox.messages()
    return (len(messages), messages[-1].seq if messages else 0)


def mail_model(reading: Reading) -> dict[str, Any]:
    messages = reading.world.mailbox.messages()
    newest = Capped.of(messages[::-1], MAIL_SHOWN)
    return {"mail": Capped([mail.as_json() for mail in newest.items], newest.total)}


def journal_version(reading: Reading) -> tuple[Any, ...]:
    entries = reading.world.journal.entries()
    return (len(entries), entries[-1].seq if entries else 0, reading.journal, reading.problem)


def journal_model(reading: Reading) -> dict[str, Any]:
    journal = reading.world.journal
    matching = journal.entries(reading.journal)
    newest = Capped.of(matching[::-1], JOURNAL_SHOWN)
    return {
        "entries": Capped([entry.as_json() for entry in newest.items], newest.total),
        "kept": len(journal.entries()),
        "size": journal.size,
        "filtered": reading.journal != JournalFilter(),
        "problem": reading.problem,
    }


def faults_model(reading: Reading) -> dict[str, Any]:
    rules = reading.world.state.views["faults"].view()
    return {"rules": rules, "live": sum(1 for rule in rules if rule.get("state") == "live")}


def activity_version(reading: Reading) -> tuple[Any, ...]:
    return (*fleet_version(reading.world), reading.world.fleet.now // HOUR, *table_versions(reading.world, [TICKETS]))


SECTIONS: tuple[Section, ...] = (
    Section("clock", "Clock", lambda r: r.world.state.views["clock"].view(), clock_model),
    Section(
        "activity",
        "Alerts and tickets per simulated hour",
        activity_version,
        lambda r: activity_model(r.fleet, connectwise_tables(r.world, [TICKETS])[TICKETS]),
    ),
    Section("fleet", "Fleet", lambda r: fleet_version(r.world), lambda r: fleet_model(r.fleet)),
    Section(
        "tickets",
        "Tickets",
        lambda r: table_versions(r.world, TICKET_TABLES),
        lambda r: tickets_model(r.world),
    ),
    Section(
        "configurations",
        "Configurations and their devices",
        lambda r: (*table_versions(r.world, CONFIGURATION_TABLES), *fleet_version(r.world)),
        lambda r: configurations_model(r.world, r.fleet["devices"]),
    ),
    Section(
        "agreements",
        "Agreements and additions",
        lambda r: table_versions(r.world, AGREEMENT_TABLES),
        lambda r: agreements_model(r.world),
    ),
    Section("journal", "Request journal", journal_version, journal_model),
    Section("mail", "Caught mail", mail_version, mail_model),
    Section("faults", "Fault rules", lambda r: r.world.state.views["faults"].view(), faults_model),
)
SECTIONS_BY_NAME = {section.name: section for section in SECTIONS}
