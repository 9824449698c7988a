"""Waiting for the machine to settle before a benchmark, so one benchmark's aftermath is not the next one's load.

Linux's pressure stall information (`/proc/pressure/cpu`) says what share of the last 10 s some task
waited for a CPU. After the fleet benchmark writes 600 MiB, or on a VM whose neighbours are busy, it
stays at 30-40% for minutes, and a load test run then measures a fifth less.
"""

from __future__ import annotations

import time
from pathlib import Path

PRESSURE = Path("/proc/pressure/cpu")
QUIET_PERCENT = 5.0
MAX_WAIT_SECONDS = 120.0


def cpu_pressure(path: Path = PRESSURE) -> float | None:
    """`some avg10` of the CPU pressure, in percent; None where the kernel does not report it."""
    try:
        first = path.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=", 1) for part in first.split()[1:] if "=" in part)
    try:
        return float(fields["avg10"])
    except (KeyError, ValueError):
        return None


def wait_for_quiet(max_seconds: float = MAX_WAIT_SECONDS, path: Path = PRESSURE) -> str:
    """Wait (at most `max_seconds`) until the CPU pressure is below QUIET_PERCENT; say what was found."""
    started = time.monotonic()
    pressure = cpu_pressure(path)
    if pressure is None:
        return "CPU pressure not reported by this kernel"
    while pressure is not None and pressure >= QUIET_PERCENT and time.monotonic() - started < max_seconds:
        time.sleep(1.0)  # polling the kernel's 10-second average, with a deadline
        pressure = cpu_pressure(path)
    waited = time.monotonic() - started
    shown = "unknown" if pressure is None else f"{pressure:.1f}%"
    if pressure is not None and pressure >= QUIET_PERCENT:
        return f"CPU pressure still {shown} after {waited:.0f} s: the figures below are measured on a busy machine"
    return f"CPU pressure {shown}" + (f" (waited {waited:.0f} s for it to settle)" if waited >= 1 else "")
