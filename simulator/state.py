"""The World's state as one JSON document: one serializer per part, registered, shared by every view.

`GET/PUT /_sim/state`, `cwsim serve --state FILE`, `GET /_sim/data.json` and the dashboard all go
through `WorldState`. A restorable part (the ConnectWise fake, the mail, the fleet, the clock)
registers once with a name, a `dump()`, a `prepare(data)` and a `view()`; a view part (the
journal, the faults: simulator/views.py) only with a name and a `view()`. `/_sim/state` holds the
restorable parts' dumps; `/_sim/data.json` every part's view. Restoring is two-phase: every
part validates and builds its new state first (raising StateProblems naming what is wrong),
and only when all are good does each swap it in, so a bad snapshot changes nothing.

Versions: a document says which `version` wrote it. A part added in a later version (its
`since`) is absent from older documents: restoring one leaves that part as it is and says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .atomic_files import write_json_atomically
from .connectwise.snapshot import RecordViews, backend_from_state, connectwise_state, connectwise_view
from .state_problems import StateProblems

if TYPE_CHECKING:
    from .world import World

STATE_VERSION = 2  # 2: the fleet and the clock joined the ConnectWise fake and the mail
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


def part_since(part: StatePart) -> int:
    """The state version that first held `part` (1 unless it says otherwise)."""
    return int(getattr(part, "since", 1))


class WorldState:
    """The registered parts: the restorable ones dumped and restored together, every one viewed.

    `still()` is held while the parts are dumped or their new states swapped in, so nothing moves
    between two of them (the world passes the locks its clock and fleet move under).
    """

    def __init__(self, still: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.parts: dict[str, StatePart] = {}
        self.views: dict[str, ViewPart] = {}
        self.still = still or nullcontext

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
        with self.still():
            return {VERSION_KEY: STATE_VERSION, **{name: part.dump() for name, part in self.parts.items()}}

    def view(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Every part's view (or the parts `names`), in registration order; KeyError for an unknown name."""
        chosen = self.views if names is None else {name: self.views[name] for name in names}
        return {VERSION_KEY: VIEW_VERSION, **{name: part.view() for name, part in chosen.items()}}

    def restore(self, data: Any) -> list[str]:
        """Put every part back as `data` says, or raise StateProblems and change nothing.

        Returns notes on what an older document could not restore (the parts it does not hold).
        """
        if not isinstance(data, dict):
            raise StateProblems(["the state must be a JSON object, as GET /_sim/state returns it."])
        problems, notes = [], []
        version = data.get(VERSION_KEY)
        if type(version) is not int or not 1 <= version <= STATE_VERSION:
            versions = " or ".join(str(number) for number in range(1, STATE_VERSION + 1))
            problems.append(f"{VERSION_KEY}: must be {versions} (this server writes {STATE_VERSION}), not {version!r}.")
            version = STATE_VERSION
        for name in data:
            if name != VERSION_KEY and name not in self.parts:
                problems.append(f"{name}: no such part (parts: {', '.join(self.parts)}).")
        swaps = []
        for name, part in self.parts.items():
            if name not in data and part_since(part) > version:
                notes.append(
                    f"{name}: not in a version-{version} state (version {part_since(part)} added it); "
                    "it is left as it was."
                )
                continue
            if name not in data:
                problems.append(f"{name}: missing.")
                continue
            try:
                swaps.append(part.prepare(data[name]))
            except StateProblems as error:
                problems += error.problems
        if problems:
            raise StateProblems(problems)
        with self.still():
            for swap in swaps:
                swap()
        return notes


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
