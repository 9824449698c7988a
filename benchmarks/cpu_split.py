"""CPU seconds spent by each process of an alert load run: the fake, the integration (delivery and intake), locust.

psutil comes with locust (the `load` extra), which every load benchmark needs anyway. locust is the
only child this process waits for during a run, so its CPU is the growth of this process's
children's resource usage.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping

import psutil

from cwsim.scenarios.load_runner import AlertStack

PARTS = ("fake", "integration: delivery", "integration: intake", "locust")


def _seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:  # gone since it was listed
        return 0.0
    return times.user + times.system


def _tree_seconds(pid: int) -> tuple[float, float]:
    """(the process's own CPU seconds, its descendants')."""
    top = psutil.Process(pid)
    return _seconds(top), sum(_seconds(child) for child in top.children(recursive=True))


def sample(stack: AlertStack) -> dict[str, float]:
    """CPU seconds so far of each part (the intake's process is the integration's child when it has its own)."""
    fake_own, fake_children = _tree_seconds(stack.fake.process.pid)
    delivery, intake = _tree_seconds(stack.integration.process.process.pid)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "fake": fake_own + fake_children,
        "integration: delivery": delivery,
        "integration: intake": intake,
        "locust": waited.ru_utime + waited.ru_stime,
    }


def grown(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {part: after[part] - before[part] for part in PARTS}


def split_lines(window: Mapping[str, float], seconds: float, whole: Mapping[str, float], alerts: int) -> list[str]:
    """Each part's share of the machine over the window, and its CPU per alert from the start to the drain."""
    cores = os.cpu_count() or 1
    lines = [f"CPU per process ({cores} cores; % of the machine over the {seconds:g} s, ms per alert to the drain):"]
    for part in PARTS:
        per_alert = 1000 * whole[part] / alerts if alerts else 0.0
        lines.append(
            f"  {part:24}{window[part]:7.1f} s  {100 * window[part] / (seconds * cores):5.1f} %  {per_alert:6.2f} ms"
        )
    total = sum(whole.values())
    lines.append(
        f"  {'all':24}{sum(window.values()):7.1f} s  {100 * sum(window.values()) / (seconds * cores):5.1f} %"
        f"  {1000 * total / alerts if alerts else 0.0:6.2f} ms"
        f"  (so {cores} cores hold at most ~{alerts * cores / total if total else 0.0:,.0f} alerts/s)"
    )
    return lines
