"""The fleet as a saved state: every device, asset, active alert and incident, the truth, the engine's
pending events and each RNG's exact state, as JSON that brings the fleet back to go on exactly as it would have.

The engine's objects are written as an object graph (`simulator/object_graph.py`) limited to the
fleet's own classes, so a state file can hold nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..object_graph import Codec, GraphError
from ..state_problems import StateProblems
from .alerts import Alert
from .catalog import ALERT_TYPES, AlertType, Category, Family, Plan, PlanKind, Severity
from .engine import Engine
from .fleet import Asset, Device, Fleet, Organization
from .offline import gc_paused
from .schedule import Schedule, schedule_of
from .settings import FleetRates, FleetSpec
from .simulation import RECENT_EVENTS, FleetSimulation
from .truth import Incident, TruthLog

FORMAT = "cwsim-fleet-state/1"

CODEC = Codec(
    identity=(Engine, Fleet, Organization, Device, Asset, Alert, Incident, TruthLog),
    values=(Plan, FleetSpec, FleetRates),
    enums=(Family, PlanKind, Category, Severity),
    constants={
        "schedule": (Schedule, lambda schedule: list(schedule.hours), lambda hours: schedule_of(tuple(hours))),
        "alertType": (AlertType, lambda alert_type: alert_type.kind, lambda kind: ALERT_TYPES[kind]),
    },
)


def dump_fleet(simulation: FleetSimulation) -> dict[str, Any]:
    """The fleet and its engine as JSON-ready data, at one consistent moment."""
    with simulation.lock, gc_paused():
        root = {"engine": simulation.engine, "sequence": simulation.sequence, "revision": simulation.revision}
        # the events' tail, for GET /_sim/fleet/events: plain JSON already, so kept out of the graph
        recent = [[sequence, event] for sequence, event in simulation.recent]
        return {"format": FORMAT, **CODEC.encode(root), "recent": recent}


def load_fleet(data: Any, where: str = "fleet") -> dict[str, Any]:
    """What `dump_fleet` wrote, built again; StateProblems naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise StateProblems([f'{where}: must be a saved fleet ("format": "{FORMAT}"), not {found!r}.'])
    try:
        with gc_paused():
            root = CODEC.decode({key: value for key, value in data.items() if key != "recent"})
    except GraphError as error:
        raise StateProblems([f"{where}: {error}."]) from error
    problems = []
    if not isinstance(root, dict) or not isinstance(root.get("engine"), Engine):
        problems.append(f"{where}.root: must hold the engine.")
    elif not isinstance(root["engine"].fleet, Fleet):
        problems.append(f"{where}.root: the engine has no fleet.")
    for name in ("sequence", "revision"):
        if isinstance(root, dict) and type(root.get(name)) is not int:
            problems.append(f"{where}.root.{name}: must be an integer.")
    recent = data.get("recent", [])
    if not isinstance(recent, list) or not all(
        isinstance(item, list) and len(item) == 2 and type(item[0]) is int and isinstance(item[1], dict)
        for item in recent
    ):
        problems.append(f"{where}.recent: must be a list of [sequence number, event] pairs.")
    if problems:
        raise StateProblems(problems)
    return {**root, "recent": [(sequence, event) for sequence, event in recent[-RECENT_EVENTS:]]}


class FleetState:
    """The fleet's part of the World's state: restorable, and shown by data.json and the dashboard."""

    name = "fleet"
    since = 2  # state files of version 1 do not hold it

    def __init__(self, simulation: FleetSimulation, hours: int = 24) -> None:
        self.simulation = simulation
        self.hours = hours

    def dump(self) -> dict[str, Any]:
        return dump_fleet(self.simulation)

    def prepare(self, data: Any) -> Callable[[], None]:
        root = load_fleet(data, self.name)
        return lambda: self.simulation.resume(root["engine"], root["recent"], root["sequence"], root["revision"])

    def view(self) -> dict[str, Any]:
        """Its summary (as `GET /_sim/fleet`), a row per device, and alerts raised per hour."""
        fleet = self.simulation
        with fleet.lock:  # one consistent moment for the three
            return {
                "summary": fleet.summary(),
                "devices": fleet.device_rows(),
                "alertsPerHour": fleet.alerts_per_hour(fleet.now, self.hours),
            }
