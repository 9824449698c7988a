"""The load benchmark's CPU split: each process's share of the machine over the window and its CPU per alert."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from benchmarks import cpu_split


def test_shares_per_alert_and_the_capacity_they_imply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    window = {"fake": 30.0, "integration: delivery": 24.0, "integration: intake": 6.0, "locust": 12.0}
    whole = {**window, "integration: delivery": 30.0}  # the drain after the window: the workers only
    lines = cpu_split.split_lines(window, 60, whole, alerts=12_000)
    assert lines[0].startswith("CPU per process (2 cores")
    fake, delivery, intake, locust, total = lines[1:]
    assert "30.0 s" in fake and " 25.0 %" in fake and "2.50 ms" in fake  # 30 s of 120 core-seconds; 30 s / 12,000
    assert " 20.0 %" in delivery and "2.50 ms" in delivery
    assert "0.50 ms" in intake and "1.00 ms" in locust
    assert "72.0 s" in total and " 60.0 %" in total and "6.50 ms" in total and "~308 alerts/s" in total  # 2 / 6.5 ms


BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
# A process that starts a child which burns 0.3 s of CPU, then says so and waits (as run and its intake process).
WITH_CHILD = f"""import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {BURN + "print('burnt', flush=True); input()"!r}],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
child.stdout.readline()
print("ready", flush=True)
input()
child.communicate(b"\\n")
"""


def test_the_integrations_children_are_its_intake_and_locust_is_what_this_process_waited_for() -> None:
    integration = subprocess.Popen([sys.executable, "-c", WITH_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    fake = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    try:
        assert integration.stdout is not None and integration.stdout.readline() == b"ready\n"
        running = SimpleNamespace(process=SimpleNamespace(process=integration))
        stack = SimpleNamespace(fake=SimpleNamespace(process=fake), integration=running)
        before = cpu_split.sample(stack)  # type: ignore[arg-type]
        subprocess.run([sys.executable, "-c", BURN], check=True)  # as locust: a child this process waits for
        after = cpu_split.sample(stack)  # type: ignore[arg-type]
        assert before["integration: intake"] >= 0.25 > before["integration: delivery"]
        assert after["locust"] - before["locust"] >= 0.25
        assert cpu_split.grown(before, after)["integration: intake"] < 0.1  # the burn was before the window
    finally:
        for process in (integration, fake):
            process.communicate(b"\n", timeout=30)
