"""Every operation served beside the collections: the actions and the binary answers, in one table."""

from __future__ import annotations

from functools import cache

from .actions import ACTIONS, ActionTable
from .binary import BINARY_ACTIONS
from .bundles import BUNDLE_ACTIONS


@cache
def action_table() -> ActionTable:
    return ActionTable([*ACTIONS, *BINARY_ACTIONS, *BUNDLE_ACTIONS])
