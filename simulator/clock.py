"""Time for the fakes: the wall clock now, the simulated clock plugs in behind the same `Clock`."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time, tz-aware UTC."""

    def now(self) -> datetime: ...


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@lru_cache(maxsize=8192)
def format_cw_datetime(moment: datetime) -> str:
    """ConnectWise's datetime format: `YYYY-MM-DDThh:mm:ssZ`, UTC, no fractions.

    Cached: records written in the same second share their timestamps, and lists render many.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
