"""The World's parts that /_sim/data.json and the dashboard show but /_sim/state does not restore.

The clock and the fleet are restorable parts: see clock_state.py and datto/fleet_state.py."""

from __future__ import annotations

from typing import Any

from .faults import FaultBook
from .journal import Journal
from .stubs import StubBook


class JournalView:
    """The request journal, oldest first (as `GET /_sim/requests`)."""

    name = "journal"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def view(self) -> list[dict[str, Any]]:
        return [entry.as_json() for entry in self.journal.entries()]


class FaultsView:
    """Every fault rule with its counters and state (as `GET /_sim/faults`)."""

    name = "faults"

    def __init__(self, faults: FaultBook) -> None:
        self.faults = faults

    def view(self) -> list[dict[str, Any]]:
        return self.faults.describe()


class StubsView:
    """Every stub with its hits, in the order they are tried (as `GET /_sim/stubs`)."""

    name = "stubs"

    def __init__(self, stubs: StubBook) -> None:
        self.stubs = stubs

    def view(self) -> list[dict[str, Any]]:
        return self.stubs.describe()
