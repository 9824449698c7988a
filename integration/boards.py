"""Service boards by name, with their statuses, types and subtypes by name: read once, kept a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .conditions import where
from .connectwise import ConnectWiseClient

__all__ = ["Board", "BoardCatalog", "SetupProblem"]

REFRESH_SECONDS = 300.0  # a board's statuses and types are re-read this often ...
MISS_REFRESH_SECONDS = 15.0  # ... or this soon after a name was not found (someone may just have added it)


class SetupProblem(LookupError):
    """ConnectWise lacks something the settings or the mapping name (a board, a status, a type)."""


@dataclass(frozen=True)
class Board:
    id: int
    name: str
    statuses: dict[str, int]  # casefolded name -> id
    closed_statuses: frozenset[int]
    types: dict[str, int]
    subtypes: dict[str, int]

    def status_id(self, name: str) -> int:
        return self._find(self.statuses, name, "status")

    def type_id(self, name: str) -> int:
        return self._find(self.types, name, "type")

    def subtype_id(self, name: str) -> int:
        return self._find(self.subtypes, name, "subtype")

    def _find(self, names: dict[str, int], name: str, kind: str) -> int:
        found = names.get(name.casefold())
        if found is None:
            known = ", ".join(sorted(names)) or "none"
            raise SetupProblem(f'board "{self.name}" has no {kind} "{name}" (it has: {known})')
        return found


class BoardCatalog:
    """Boards read from ConnectWise on first use and refreshed now and then; safe to share between threads."""

    def __init__(self, cw: ConnectWiseClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cw = cw
        self._clock = clock
        self._lock = threading.Lock()
        self._boards: dict[str, tuple[float, Board]] = {}

    def board(self, name: str) -> Board:
        """The board called `name`; raises SetupProblem if ConnectWise has none."""
        key = name.casefold()
        with self._lock:
            cached = self._boards.get(key)
        if cached is not None and self._clock() - cached[0] < REFRESH_SECONDS:
            return cached[1]
        board = self._read(name)
        with self._lock:
            self._boards[key] = (self._clock(), board)
        return board

    def resolve(self, board_name: str, use: Callable[[Board], int]) -> int:
        """`use(board)` (e.g. `lambda b: b.status_id("New")`), re-reading the board once if a name is missing."""
        board = self.board(board_name)
        try:
            return use(board)
        except SetupProblem:
            with self._lock:
                cached = self._boards.get(board_name.casefold())
            if cached is None or self._clock() - cached[0] < MISS_REFRESH_SECONDS:
                raise
            with self._lock:
                self._boards.pop(board_name.casefold(), None)
            return use(self.board(board_name))

    def _read(self, name: str) -> Board:
        boards = list(self.cw.iterate("service/boards", conditions=where("name", "=", name), fields=["id", "name"]))
        if not boards:
            raise SetupProblem(f'ConnectWise has no service board "{name}"')
        board_id = int(boards[0]["id"])
        statuses = list(self.cw.iterate(f"service/boards/{board_id}/statuses", fields=["id", "name", "closedStatus"]))
        types = list(self.cw.iterate(f"service/boards/{board_id}/types", fields=["id", "name"]))
        subtypes = list(self.cw.iterate(f"service/boards/{board_id}/subtypes", fields=["id", "name"]))
        return Board(
            board_id,
            str(boards[0].get("name") or name),
            {str(s["name"]).casefold(): int(s["id"]) for s in statuses},
            frozenset(int(s["id"]) for s in statuses if s.get("closedStatus")),
            {str(t["name"]).casefold(): int(t["id"]) for t in types},
            {str(t["name"]).casefold(): int(t["id"]) for t in subtypes},
        )
