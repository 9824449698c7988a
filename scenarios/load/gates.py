"""The thresholds a CI run is held to (failure ratio, p95 latency or lag, the backlog's growth and size, alerts lost
or ticketed twice), and the defaults `cwsim load alerts` holds every run to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .knee import GROWTH_SHARE, MIN_GROWTH

GATE_FAILED_EXIT_CODE = 3  # locust itself exits 1 on request failures and 2 on its own errors

# `cwsim load alerts` holds every constant-rate run to these unless told otherwise (docs/load-testing.md).
DEFAULT_FAIL_RATIO = 0.01
DEFAULT_P95_LAG_SECONDS = 1.0
DEFAULT_MAX_LOST = 0
DEFAULT_MAX_EXTRA = 0


def default_max_backlog_growth(offered: float) -> float:
    """The backlog may grow by 5% of the offered rate or 3 alerts/s, whichever is more: the knee's own allowance
    for sampling noise, so a run passes this gate exactly when its one step keeps up."""
    return max(MIN_GROWTH, GROWTH_SHARE * offered)


@dataclass(frozen=True)
class Gate:
    """One threshold: passed when the measured value is at most the limit (a value never measured fails)."""

    name: str
    limit: float
    value: float | None
    unit: str = ""  # "%" shows a ratio as a percentage; "s" seconds; "/s" a rate

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value <= self.limit

    def describe(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        measured = "not measured" if self.value is None else self._show(self.value)
        return f"{self.name} {measured} (limit {self._show(self.limit)}): {verdict}"

    def _show(self, number: float) -> str:
        if self.unit == "%":
            return f"{number:.2%}"
        if self.unit == "s":
            return f"{number:.3f} s"
        if self.unit == "/s":
            return f"{number:+.1f}/s"
        return f"{number:g}"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "value": self.value, "unit": self.unit, "passed": self.passed}


def exit_code(gates: Sequence[Gate]) -> int | None:
    """The process's exit code: 0 when every gate passed, GATE_FAILED_EXIT_CODE when one failed, None with no gates
    (locust's own rule applies then: 1 if any request failed)."""
    if not gates:
        return None
    return 0 if all(gate.passed for gate in gates) else GATE_FAILED_EXIT_CODE


@dataclass(frozen=True)
class AlertLimits:
    """The alert load test's limits while it runs; None leaves a gate out."""

    fail_ratio: float | None = None
    p95_lag: float | None = None  # seconds
    max_backlog_growth: float | None = None  # alerts/s, the backlog's least-squares slope over the settled run
    max_backlog: float | None = None  # alerts still to deliver when the load stops


def alert_gates(
    limits: AlertLimits,
    *,
    failure_ratio: float | None,
    p95_lag: float | None,
    backlog_growth: float | None,
    backlog_at_end: float | None,
) -> list[Gate]:
    """The gates locust's alerts run is held to, from what it measured (None: not measured, which fails)."""
    measured = (
        ("failure ratio", limits.fail_ratio, failure_ratio, "%"),
        ("p95 alert→ticket lag", limits.p95_lag, p95_lag, "s"),
        ("backlog growth", limits.max_backlog_growth, backlog_growth, "/s"),
        ("backlog at the end", limits.max_backlog, backlog_at_end, ""),
    )
    return [Gate(name, limit, value, unit) for name, limit, value, unit in measured if limit is not None]


def drain_gates(after_drain: Mapping[str, Any], max_lost: int, max_extra: int) -> list[Gate]:
    """The gates of `cwsim load`'s accounting after the drain: nothing left behind, lost, or ticketed twice.

    Lost counts alerts acknowledged but neither finished nor waiting, and alerts that should have made a ticket
    but made none. Tickets can only be compared once the backlog drained and no delivery failed; until then the
    duplicate gate is left out (failed deliveries are the failure ratio's business).
    """
    gates = [
        Gate("left after the drain", 0, after_drain["depth"]),
        Gate("alerts lost", max_lost, after_drain["lost"] + (after_drain.get("missing_tickets") or 0)),
    ]
    if after_drain.get("extra_tickets") is not None:
        gates.append(Gate("extra tickets", max_extra, after_drain["extra_tickets"]))
    return gates
