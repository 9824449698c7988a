"""What every benchmark prints alike: the machine, and a figure as the median and the worst of its rounds."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable

ROUNDS = max(1, int(os.environ.get("CWSIM_BENCH_ROUNDS", "3")))


def machine() -> str:
    return (
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()})"
    )


def load_average() -> str:
    """The 1-minute load average against the CPU count: above it, the figures are measured on a busy machine."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def median_worst(values: list[float], worst: Callable[[list[float]], float] = min, digits: int = 2) -> str:
    """`median (worst w of n)`; `worst` is min for rates and ratios, max for times and sizes."""
    return f"{statistics.median(values):,.{digits}f} (worst {worst(values):,.{digits}f} of {len(values)})"
