"""Long lists cut short for the page: the first items, and how many there were ("showing N of M")."""

from __future__ import annotations

from typing import Any, NamedTuple


class Capped(NamedTuple):
    """The first items of a longer list, and how long it was."""

    items: list[Any]
    total: int

    @classmethod
    def of(cls, items: list[Any], limit: int) -> Capped:
        return cls(items[:limit], len(items))
