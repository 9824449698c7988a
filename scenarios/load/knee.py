"""Steps of offered alert rate and what got through at each: accepted, delivered, the backlog's slope; the knee.

The poller samples the integration's counters about once a second. For each step (a constant
offered rate) the figures come from the samples after the step has settled: rates from the
first and last, the backlog's slope by least squares. A step keeps up when the intake took
about what was offered and the backlog did not grow; the knee is between the last step that
kept up and the first that did not.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

SETTLE_SECONDS = 2.0  # a step's first seconds (users starting, the backlog of the last step) are left out
GROWTH_SHARE = 0.05  # the backlog may grow by 5% of the offered rate ...
MIN_GROWTH = 3.0  # ... or 3 alerts/s, whichever is more, and still count as draining (sampling noise)
INTAKE_SHARE = 0.9  # the intake must take 90% of what was offered (locust is a closed model: a slow
# intake lowers the rate locust manages to offer, so a short intake is a knee too)


@dataclass(frozen=True)
class Sample:
    """The counters at one moment, `at` seconds after the test started."""

    at: float
    accepted: int  # alert events the intake acknowledged
    depth: int  # the backlog: events still to deliver
    delivered: int
    failed: int
    tickets: int | None = None  # tickets the fake ConnectWise created (None: not polled)


@dataclass(frozen=True)
class Step:
    """A constant offered rate from `start` to `end` (seconds after the test started)."""

    offered: float  # alerts/s
    start: float
    end: float


@dataclass(frozen=True)
class StepFigures:
    offered: float
    accepted_per_second: float
    delivered_per_second: float
    tickets_per_second: float | None
    backlog_slope: float  # alerts/s the backlog grew (negative: it drained)
    backlog_end: int
    samples: int
    keeping_up: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {key: round(value, 3) if isinstance(value, float) else value for key, value in asdict(self).items()}


def parse_steps(text: str) -> list[float]:
    """`"100,200,300"` as offered rates; ValueError naming what is wrong (not numbers, not rising, not positive)."""
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ValueError(f"steps are alert rates separated by commas, such as 100,200,300; not {text!r}") from error
    if not rates:
        raise ValueError("give at least one step, such as 100,200,300")
    if any(rate <= 0 for rate in rates):
        raise ValueError(f"every step must be above 0 alerts/s: {text!r}")
    if any(later <= earlier for earlier, later in itertools.pairwise(rates)):
        raise ValueError(f"steps must rise: {text!r}")
    return rates


def plan(offered: Sequence[float], seconds: float) -> list[Step]:
    """Consecutive steps of `seconds` each."""
    return [Step(rate, index * seconds, (index + 1) * seconds) for index, rate in enumerate(offered)]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 for fewer than two distinct x."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def figures(samples: Sequence[Sample], step: Step) -> StepFigures | None:
    """What got through during `step`, from its settled samples; None with fewer than two of them."""
    settle = min(SETTLE_SECONDS, (step.end - step.start) / 4)
    inside = [sample for sample in samples if step.start + settle <= sample.at <= step.end]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    elapsed = last.at - first.at
    if elapsed <= 0:
        return None
    accepted = (last.accepted - first.accepted) / elapsed
    delivered = (last.delivered - first.delivered) / elapsed
    tickets = None
    if first.tickets is not None and last.tickets is not None:
        tickets = (last.tickets - first.tickets) / elapsed
    growth = slope([(sample.at, sample.depth) for sample in inside])
    allowed = max(MIN_GROWTH, GROWTH_SHARE * step.offered)
    if accepted < INTAKE_SHARE * step.offered:
        keeping_up, reason = False, f"the intake took {accepted:.0f} of {step.offered:.0f} alerts/s offered"
    elif growth > allowed:
        keeping_up, reason = False, f"the backlog grew {growth:.1f} alerts/s"
    else:
        keeping_up, reason = True, f"the backlog stayed level ({growth:+.1f} alerts/s)"
    return StepFigures(step.offered, accepted, delivered, tickets, growth, last.depth, len(inside), keeping_up, reason)


def knee(steps: Sequence[StepFigures]) -> dict[str, Any]:
    """The highest offered rate kept up with before the first that was not, and that one (None when none)."""
    sustained: float | None = None
    for step in steps:
        if not step.keeping_up:
            return {"sustained": sustained, "breaks_at": step.offered, "reason": step.reason}
        sustained = step.offered
    return {"sustained": sustained, "breaks_at": None, "reason": "every step kept up"}
