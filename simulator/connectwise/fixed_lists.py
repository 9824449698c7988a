"""Lists ConnectWise answers from its own code (locales, currency codes, document types): `data/fixed-lists.json`."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import Backend

Record = dict[str, Any]


@cache
def fixed_lists() -> dict[str, list[Record]]:
    """List path (as the index spells it) -> its records."""
    text = resources.files(__package__).joinpath("data/fixed-lists.json").read_text()
    return {path: records for path, records in json.loads(text).items() if not path.startswith("_")}


def fixed_view(path: str):
    """A collection's `view`: the same records for every tenant (copies, so no caller can change the list)."""

    def compute(backend: Backend, parent_id: int | None) -> list[Record]:
        return copy.deepcopy(fixed_lists()[path])

    return compute
