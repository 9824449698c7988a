"""`cwsim serve` starting: the time until its health check answers, the CPU that took, and the idle server's memory.

Each round starts `cwsim serve` on each server; the clock runs from the start until `/_sim/health` answers us.
The CPU seconds (user + system of every process of the server: with granian, its main process and its worker)
are read at that moment: on a machine shared with other work they say what the start costs where the wall
time says how long the neighbours made it wait. The memory is read two seconds later, the server idle: the
resident set of each process, and their proportional set (shared pages split between them) summed, since
granian's worker shares its parent's pages. Target (issue 16): start to health <= 3 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from cwsim.scenarios.processes import cwsim_command
from cwsim.simulator.server import DEFAULT_SERVER, SERVERS

from .rounds import ROUNDS, load_average, machine, median_worst

TARGET_SECONDS = 3.0
STARTUP_TIMEOUT = 120.0
IDLE_SECONDS = 2.0  # how long the server is left idle before its memory is read (a measurement, not a wait)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Startup:
    seconds: float  # start to health answering
    cpu_seconds: float  # user + system of the server's processes by then
    rss_mib: float  # resident set, summed over its processes, idle
    pss_mib: float | None  # proportional set, summed (None where the kernel does not report it)


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def _kib(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def memory_mib(pids: list[int]) -> tuple[float, float | None]:
    """(summed resident set, summed proportional set or None) in MiB."""
    rss = sum(_kib(Path(f"/proc/{pid}/status"), "VmRSS") or 0 for pid in pids)
    pss_values = [_kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids]
    pss = None if any(value is None for value in pss_values) else sum(pss_values)  # type: ignore[arg-type]
    return rss / 1024, None if pss is None else pss / 1024


def start_once(server: str) -> Startup:
    with tempfile.TemporaryDirectory(prefix="cwsim-startup-") as folder:
        ready = Path(folder) / "ready.json"
        command = cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--server", server)
        started = time.monotonic()
        process = subprocess.Popen(
            [*command, "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while not ready.exists():
                if process.poll() is not None or time.monotonic() - started > STARTUP_TIMEOUT:
                    raise RuntimeError(f"cwsim serve --server {server} did not start")
                time.sleep(0.005)  # polling for the ready file, with a deadline
            url = json.loads(ready.read_text())["url"]
            while True:
                try:
                    requests.get(f"{url}/_sim/health", timeout=2).raise_for_status()
                    break
                except requests.RequestException:
                    if time.monotonic() - started > STARTUP_TIMEOUT:
                        raise
                    time.sleep(0.005)  # polling the health check, with a deadline
            seconds = time.monotonic() - started
            pids = process_tree(process.pid)
            cpu = cpu_seconds(pids)
            time.sleep(IDLE_SECONDS)  # let it sit idle: the memory of a server nobody calls
            rss, pss = memory_mib(process_tree(process.pid))
            return Startup(seconds, cpu, rss, pss)
        finally:
            process.terminate()
            process.wait(30)


def main() -> int:
    servers = [DEFAULT_SERVER, *(server for server in SERVERS if server != DEFAULT_SERVER)]
    print(
        f"Start-up: `cwsim serve` to /_sim/health answering, {ROUNDS} rounds on each server;\n"
        f"  on {machine()}, {load_average()}",
        flush=True,
    )
    results: dict[str, list[Startup]] = {server: [] for server in servers}
    for _ in range(ROUNDS):
        for server in servers:
            results[server].append(start_once(server))
    for server in servers:
        runs = results[server]
        print(f"    {server + (' (default)' if server == DEFAULT_SERVER else '')}")
        print(f"      {'start to health, s':40}{median_worst([r.seconds for r in runs], max)}")
        print(f"      {'CPU by then (all its processes), s':40}{median_worst([r.cpu_seconds for r in runs], max)}")
        print(f"      {'idle memory, RSS summed, MiB':40}{median_worst([r.rss_mib for r in runs], max, 0)}")
        pss = [r.pss_mib for r in runs if r.pss_mib is not None]
        if pss:
            print(f"      {'idle memory, PSS summed, MiB':40}{median_worst(pss, max, 0)}")
    seconds = sorted(r.seconds for r in results[DEFAULT_SERVER])[len(results[DEFAULT_SERVER]) // 2]
    verdict = "ok" if seconds <= TARGET_SECONDS else "ABOVE TARGET"
    print(
        f"  target: start to health on {DEFAULT_SERVER} <= {TARGET_SECONDS:.0f} s: {seconds:.2f} s {verdict};"
        f" {load_average()}",
        flush=True,
    )
    return 0 if seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
