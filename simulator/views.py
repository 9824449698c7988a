"""The World's parts that /_sim/data.json and the dashboard show but /_sim/state does not restore."""

from __future__ import annotations

from typing import Any

from .datto.simulation import FleetSimulation
from .faults import FaultBook
from .journal import Journal
from .timekeeping import TimeKeeper

ACTIVITY_HOURS = 24


class ClockView:
    """The simulated clock and how far the fleet has followed it (as `GET /_sim/clock`)."""

    name = "clock"

    def __init__(self, time: TimeKeeper) -> None:
        self.time = time

    def view(self) -> dict[str, Any]:
        return self.time.state()


class FleetView:
    """The fleet: its summary (as `GET /_sim/fleet`), a row per device, and alerts raised per hour."""

    name = "fleet"

    def __init__(self, fleet: FleetSimulation, hours: int = ACTIVITY_HOURS) -> None:
        self.fleet = fleet
        self.hours = hours

    def view(self) -> dict[str, Any]:
        fleet = self.fleet
        with fleet.lock:  # one consistent moment for the three
            return {
                "summary": fleet.summary(),
                "devices": fleet.device_rows(),
                "alertsPerHour": fleet.alerts_per_hour(fleet.now, self.hours),
            }


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
