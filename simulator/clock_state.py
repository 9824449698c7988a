"""The simulated clock's part of the World's state: its time, mode and rate, restored exactly."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .clock import ClockMode, ClockState
from .state_problems import StateProblems
from .timekeeping import TimeKeeper


class ClockPart:
    """Dumped as `{"now", "mode", "rate"}` (`now` to the microsecond); viewed as `GET /_sim/clock` shows it.

    Restored, the clock goes on from the saved moment in the saved mode: a wall or scaled clock runs
    on from there, it does not jump to the real time while the server was stopped.
    """

    name = "clock"
    since = 2  # state files of version 1 do not hold it

    def __init__(self, time: TimeKeeper) -> None:
        self.time = time

    def dump(self) -> dict[str, Any]:
        state = self.time.clock.state()
        return {"now": state.moment.isoformat(), "mode": str(state.mode), "rate": state.rate}

    def view(self) -> dict[str, Any]:
        return self.time.state()

    def prepare(self, data: Any) -> Callable[[], None]:
        state = clock_state_from(data, self.name)
        return lambda: self.time.clock.restore(state)


def clock_state_from(data: Any, where: str) -> ClockState:
    """The clock's saved state, checked; StateProblems naming each bad field."""
    if not isinstance(data, dict):
        raise StateProblems([f'{where}: must be an object such as {{"now": ..., "mode": "stepped", "rate": 1.0}}.'])
    problems = []
    unknown = sorted(set(data) - {"now", "mode", "rate"})
    if unknown:
        problems.append(f"{where}: unknown fields {', '.join(unknown)}.")
    moment = None
    try:
        moment = datetime.fromisoformat(data["now"])
        if moment.utcoffset() is None:
            raise ValueError("it has no time zone")
    except KeyError:
        problems.append(f"{where}.now: missing.")
    except (TypeError, ValueError) as error:
        problems.append(f"{where}.now: {data['now']!r} is not an ISO-8601 date-time with an offset ({error}).")
    modes = ", ".join(mode.value for mode in ClockMode)
    if data.get("mode") not in {mode.value for mode in ClockMode}:
        problems.append(f"{where}.mode: must be one of {modes}, not {data.get('mode')!r}.")
    rate = data.get("rate")
    if type(rate) not in (int, float) or not math.isfinite(rate) or rate <= 0:
        problems.append(f"{where}.rate: must be a positive number, not {rate!r}.")
    if problems or moment is None:
        raise StateProblems(problems)
    return ClockState(ClockMode(data["mode"]), float(rate), moment.astimezone(UTC))
