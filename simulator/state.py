"""The World's state as one JSON document: one serializer per part, registered, shared by every view.

`GET/PUT /_sim/state`, `cwsim serve --state FILE`, `GET /_sim/data.json` and the dashboard all go
through `WorldState`. A restorable part (the ConnectWise fake, the mail) registers once with a
name, a `dump()`, a `prepare(data)` and a `view()`; a view part (the clock, the fleet, the
journal, the faults: simulator/views.py) only with a name and a `view()`. `/_sim/state` holds the
restorable parts' dumps; `/_sim/data.json` every part's view. Restoring is two-phase: every
part validates and builds its new state first (raising StateProblems naming what is wrong),
and only when all are good does each swap it in, so a bad snapshot changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .atomic_files import write_json_atomically
from .connectwise.snapshot import RecordViews, backend_from_state, connectwise_state, connectwise_view
from .state_problems import StateProblems

if TYPE_CHECKING:
    from .world import World

STATE_VERSION = 1
VIEW_VERSION = 1
VERSION_KEY = "version"


class ViewPart(Protocol):
    """One part of the World as `/_sim/data.json` and the dashboard show it, under its `name`."""

    name: str

    def view(self) -> Any:
        """The part as JSON-ready data for people and tools: nothing secret, not for restoring."""
        ...


class StatePart(ViewPart, Protocol):
    """One part of the World in the snapshot, under its `name`."""

    def dump(self) -> Any:
        """The part's state as JSON-ready data."""
        ...

    def prepare(self, data: Any) -> Callable[[], None]:
        """Validate `data` and build the part's new state; return the (cheap, safe) step that swaps it in."""
        ...


class WorldState:
    """The registered parts: the restorable ones dumped and restored together, every one viewed."""

    def __init__(self) -> None:
        self.parts: dict[str, StatePart] = {}
        self.views: dict[str, ViewPart] = {}

    def register(self, part: StatePart) -> None:
        """A part that `/_sim/state` dumps and restores (and data.json views)."""
        self.register_view(part)
        self.parts[part.name] = part

    def register_view(self, part: ViewPart) -> None:
        """A part that only data.json and the dashboard show."""
        if part.name in self.views or part.name == VERSION_KEY:
            raise ValueError(f'a state part named "{part.name}" is already registered')
        self.views[part.name] = part

    def dump(self) -> dict[str, Any]:
        return {VERSION_KEY: STATE_VERSION, **{name: part.dump() for name, part in self.parts.items()}}

    def view(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Every part's view (or the parts `names`), in registration order; KeyError for an unknown name."""
        chosen = self.views if names is None else {name: self.views[name] for name in names}
        return {VERSION_KEY: VIEW_VERSION, **{name: part.view() for name, part in chosen.items()}}

    def restore(self, data: Any) -> None:
        """Put every part back as `data` says, or raise StateProblems and change nothing."""
        if not isinstance(data, dict):
            raise StateProblems(["the state must be a JSON object, as GET /_sim/state returns it."])
        problems = []
        if data.get(VERSION_KEY) != STATE_VERSION:
            problems.append(f"{VERSION_KEY}: must be {STATE_VERSION}, not {data.get(VERSION_KEY)!r}.")
        for name in data:
            if name != VERSION_KEY and name not in self.parts:
                problems.append(f"{name}: no such part (parts: {', '.join(self.parts)}).")
        swaps = []
        for name, part in self.parts.items():
            if name not in data:
                problems.append(f"{name}: missing.")
                continue
            try:
                swaps.append(part.prepare(data[name]))
            except StateProblems as error:
                problems += error.problems
        if problems:
            raise StateProblems(problems)
        for swap in swaps:
            swap()


class ConnectWiseState:
    """The ConnectWise fake's part: tenant settings (with credentials) and every table."""

    name = "connectwise"

    def __init__(self, world: World) -> None:
        self.world = world
        self.record_views = RecordViews()

    def dump(self) -> dict[str, Any]:
        return connectwise_state(self.world.backend)

    def view(self, tables: Iterable[str] | None = None) -> dict[str, Any]:
        """The settings and every table (or the `tables` named), secrets masked."""
        return connectwise_view(self.world.backend, tables, self.record_views)

    def prepare(self, data: Any) -> Callable[[], None]:
        backend = backend_from_state(data, self.world.backend.collections.values(), self.world.clock, self.name)
        return lambda: self.world.use_backend(backend)


def read_state_file(path: Path) -> Any:
    """A saved state's JSON; StateProblems naming the file when it cannot be read."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise StateProblems([f"{path}: cannot read it: {error}"]) from error
    except ValueError as error:
        raise StateProblems([f"{path}: not valid JSON: {error}"]) from error


def save_state_file(path: Path, state: WorldState) -> None:
    write_json_atomically(path, state.dump())
