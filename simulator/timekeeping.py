"""Moving the simulated clock and the fleet together, so the fleet is never ahead of the clock.

Stepped: an advance moves the clock slice by slice as the fleet produces each slice's events, and
returns once the sink has taken them. Wall or scaled: the clock runs by itself and a follower
thread catches the fleet up with it every `interval` seconds, in the same bounded slices.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .clock import ClockMode, SimClock, format_iso
from .datto.simulation import AdvanceReport, FleetSimulation

log = logging.getLogger("cwsim.time")
FOLLOW_INTERVAL = 0.25


class ClockConflict(ValueError):
    """The clock was asked to go back past the fleet's time; the fleet cannot undo what happened."""


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class TimeKeeper:
    """The one simulated clock of a server, and the fleet that follows it."""

    def __init__(
        self,
        clock: SimClock,
        fleet: FleetSimulation,
        interval: float = FOLLOW_INTERVAL,
        on_error: Callable[[str], Any] | None = None,
    ) -> None:
        self.clock = clock
        self.fleet = fleet
        self.interval = interval
        self.on_error = on_error
        self.moving = threading.RLock()  # one clock move at a time (advance, set, mode, reset)
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    def state(self) -> dict[str, Any]:
        clock = self.clock.state()
        fleet_time = self.fleet.now
        return {
            "now": format_iso(clock.moment),
            "mode": str(clock.mode),
            "rate": self.clock.rate,
            "fleetTime": format_iso(datetime.fromtimestamp(fleet_time, UTC)),
            "fleetBehindSeconds": max(0, epoch(clock.moment) - fleet_time),
        }

    def advance(self, delta: timedelta, flush_timeout: float | None = 60.0) -> AdvanceReport:
        """Move forward by `delta`; returns once the fleet has produced every event up to then."""
        with self.moving:
            if self.clock.mode is ClockMode.STEPPED:
                target = self.clock.now() + delta
                return self._step_to(target, flush_timeout)
            moment = self.clock.advance(delta)
            return self.fleet.advance_to(epoch(moment), flush_timeout=flush_timeout)

    def set(self, moment: datetime, flush_timeout: float | None = 60.0) -> AdvanceReport:
        """Jump to `moment`, which may not be before the fleet's time."""
        with self.moving:
            if epoch(moment) < self.fleet.now:
                fleet_time = format_iso(datetime.fromtimestamp(self.fleet.now, UTC))
                raise ClockConflict(
                    f"{format_iso(moment)} is before the fleet's time {fleet_time}: the clock only goes back by "
                    "resetting the world (POST /_sim/reset)"
                )
            if self.clock.mode is ClockMode.STEPPED:
                return self._step_to(moment, flush_timeout)
            self.clock.set(moment)
            return self.fleet.advance_to(epoch(moment), flush_timeout=flush_timeout)

    def set_mode(self, mode: ClockMode | str, rate: float | None = None) -> AdvanceReport:
        """Change how the clock moves, then bring the fleet up to the clock's time."""
        with self.moving:
            self.clock.set_mode(mode, rate)
            return self.fleet.advance_to(epoch(self.clock.now()))

    def _step_to(self, target: datetime, flush_timeout: float | None) -> AdvanceReport:
        def move_clock(moment: int) -> None:
            if moment > epoch(self.clock.now()):
                self.clock.set(datetime.fromtimestamp(moment, UTC))

        report = self.fleet.advance_to(epoch(target), on_slice=move_clock, flush_timeout=flush_timeout)
        if target > self.clock.now():
            self.clock.set(target)
        return report

    # -- the follower -----------------------------------------------------------------------------

    def start(self) -> None:
        """Follow a running clock in a background thread (idle while the clock is stepped)."""
        if self._follower is None:
            self._stop.clear()
            self._follower = threading.Thread(target=self._follow, name="cwsim-fleet-follower", daemon=True)
            self._follower.start()

    def stop(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=10)
            self._follower = None

    def _follow(self) -> None:
        while not self._stop.wait(self.interval):
            if self.clock.mode is ClockMode.STEPPED:
                continue
            try:
                with self.moving:
                    target = epoch(self.clock.now())
                    if target > self.fleet.now:
                        self.fleet.advance_to(target, flush=False)
            except Exception:  # keep following; the error surfaces where tests look for server errors
                log.exception("the fleet could not follow the clock")
                if self.on_error is not None:
                    self.on_error(f"fleet follower\n{traceback.format_exc()}")
