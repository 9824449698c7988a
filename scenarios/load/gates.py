"""The thresholds a CI run is held to (failure ratio, p95 latency or lag, final backlog), checked when locust quits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GATE_FAILED_EXIT_CODE = 3  # locust itself exits 1 on request failures and 2 on its own errors


@dataclass(frozen=True)
class Gate:
    """One threshold: passed when the measured value is at most the limit (a value never measured fails)."""

    name: str
    limit: float
    value: float | None
    unit: str = ""  # "%" shows a ratio as a percentage; "s" seconds

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
        return f"{number:g}"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "limit": self.limit, "value": self.value, "unit": self.unit, "passed": self.passed}


def exit_code(gates: Sequence[Gate]) -> int | None:
    """The process's exit code: 0 when every gate passed, GATE_FAILED_EXIT_CODE when one failed, None with no gates
    (locust's own rule applies then: 1 if any request failed)."""
    if not gates:
        return None
    return 0 if all(gate.passed for gate in gates) else GATE_FAILED_EXIT_CODE
