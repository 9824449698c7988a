"""Time for the fakes: the wall clock, the simulated clock behind the same `Clock`, ISO-8601 durations."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time, tz-aware UTC."""

    def now(self) -> datetime: ...


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ClockMode(StrEnum):
    WALL = "wall"  # moves at wall speed
    SCALED = "scaled"  # moves at `rate` times wall speed
    STEPPED = "stepped"  # moves only when set or advanced


@dataclass(frozen=True)
class ClockState:
    """What a `SimClock` is doing, enough to put it back exactly (see `SimClock.restore`)."""

    mode: ClockMode
    rate: float
    moment: datetime  # the simulated time when the state was taken


class SimClock:
    """The simulated clock: wall time, a multiple of it, or stepped. Thread-safe; never jumps on a mode change.

    In the running modes the time is `anchor + (monotonic() - anchor_monotonic) * rate`; `set` and
    `advance` move the anchor. Without a `start` it starts at the real time. `monotonic` can be
    replaced (tests drive a scaled clock without sleeping).
    """

    def __init__(
        self,
        mode: ClockMode | str = ClockMode.WALL,
        start: datetime | None = None,
        rate: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._mode = ClockMode(mode)
        self._rate = _checked_rate(self._mode, rate)
        self._anchor = _utc(start) if start is not None else datetime.now(UTC)
        self._anchor_monotonic = monotonic()

    @property
    def mode(self) -> ClockMode:
        return self._mode

    @property
    def rate(self) -> float:
        """How many simulated seconds pass per wall second (0 when stepped)."""
        return 0.0 if self._mode is ClockMode.STEPPED else self._rate

    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        if self._mode is ClockMode.STEPPED:
            return self._anchor
        elapsed = self._monotonic() - self._anchor_monotonic
        return self._anchor + timedelta(seconds=elapsed * self._rate)

    def set(self, moment: datetime) -> datetime:
        """Jump to `moment` (tz-aware); in a running mode the clock runs on from there."""
        moment = _utc(moment)
        with self._lock:
            self._anchor, self._anchor_monotonic = moment, self._monotonic()
            return moment

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never backward); returns the new time."""
        if delta < timedelta(0):
            raise ValueError(f"the clock only advances; {delta} is negative")
        with self._lock:
            moment = self._now() + delta
            self._anchor, self._anchor_monotonic = moment, self._monotonic()
            return moment

    def set_mode(self, mode: ClockMode | str, rate: float | None = None) -> None:
        """Change how the clock moves, carrying on from the current time (no jump)."""
        mode = ClockMode(mode)
        with self._lock:
            moment = self._now()
            if mode is ClockMode.WALL:
                new_rate = 1.0
            elif rate is not None:
                new_rate = _checked_rate(mode, rate)
            else:
                new_rate = self._rate
            self._mode, self._rate = mode, new_rate
            self._anchor, self._anchor_monotonic = moment, self._monotonic()

    def state(self) -> ClockState:
        with self._lock:
            return ClockState(self._mode, self._rate, self._now())

    def restore(self, state: ClockState) -> None:
        """Back to `state`: its mode and rate, at its moment (a wall clock goes back to real time)."""
        with self._lock:
            self._mode, self._rate = state.mode, state.rate
            self._anchor = state.moment
            self._anchor_monotonic = self._monotonic()

    def as_json(self) -> dict[str, object]:
        state = self.state()
        return {"now": format_iso(state.moment), "mode": str(state.mode), "rate": self.rate}


def _checked_rate(mode: ClockMode, rate: float) -> float:
    if mode is ClockMode.WALL:
        return 1.0
    if not rate > 0 or rate != rate or rate == float("inf"):
        raise ValueError(f"the clock's rate must be a positive number, not {rate!r}")
    return float(rate)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give an offset or Z")
    return moment.astimezone(UTC)


@lru_cache(maxsize=8192)
def format_cw_datetime(moment: datetime) -> str:
    """ConnectWise's datetime format: `YYYY-MM-DDThh:mm:ssZ`, UTC, no fractions.

    Cached: records written in the same second share their timestamps, and lists render many.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_iso(moment: datetime) -> str:
    """ISO-8601 with a `+00:00` offset, to the second: the Datto portal's format, and the admin API's."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_moment(text: str) -> datetime:
    """An ISO-8601 date-time with an offset or `Z`, as UTC; a clear ValueError otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{text!r} is not an ISO-8601 date-time such as 2026-01-31T09:00:00Z") from error
    return _utc(moment)


_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?",
    re.IGNORECASE,
)
_SECONDS_PER = (7 * 86400, 86400, 3600, 60, 1)


def parse_duration(text: str) -> timedelta:
    """An ISO-8601 duration of weeks, days, hours, minutes and seconds: `PT6H`, `P1D`, `P1DT2H30M`, `PT0.5S`."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is text such as 'PT6H', not {text!r}")
    value = text.strip()
    if value.startswith("-"):
        raise ValueError(f"{text!r} is negative; durations here only go forward")
    date_part = value.upper().split("T")[0]
    if "Y" in date_part or "M" in date_part:
        raise ValueError(f"{text!r} uses years or months, which have no fixed length; use days (P30D) instead")
    match = _DURATION.fullmatch(value)
    if match is None or not any(match.groups()) or value.upper().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO-8601 duration; use forms such as PT30M, PT6H, P1D, P1DT2H or P2W")
    seconds = sum(
        float(part.replace(",", ".")) * unit for part, unit in zip(match.groups(), _SECONDS_PER, strict=True) if part
    )
    return timedelta(seconds=seconds)
