"""Every operation served beside the collections: the actions and the binary answers, in one table."""

from __future__ import annotations

from functools import cache

from .actions import ActionTable
from .binary import BINARY_ACTIONS
from .bundles import BUNDLE_ACTIONS
from .conversions import CONVERSION_ACTIONS
from .record_actions import ACTIONS


@cache
def action_table() -> ActionTable:
    return ActionTable([*ACTIONS, *CONVERSION_ACTIONS, *BINARY_ACTIONS, *BUNDLE_ACTIONS])
