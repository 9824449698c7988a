"""The fake's HTTP server: ticket POSTs per second for cwsim and the bare Flask app, each on waitress and on
granian (the time from `cwsim serve` starting to its health check answering is `bench_startup`).

Every round measures all four in turn (so a passing load on a shared machine falls on each alike) and its
ratios are taken within the round; the figures printed are the median and the worst of the rounds. Targets
(issue 16): cwsim on its default server / bare Flask on waitress >= 1.0, aim 1.2.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import requests

from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start
from cwsim.simulator.server import DEFAULT_SERVER, SERVERS

from .bench_api import TICKET_BODY, cw_headers
from .rounds import ROUNDS
from .wrk import WRK_ARGS, post_script, run_wrk

TARGET, AIM = 1.0, 1.2
STARTUP_TIMEOUT = 120.0
TICKETS = "/v4_6_release/apis/3.0/service/tickets"


def start_fake(server: str) -> ManagedProcess:
    return start(f"cwsim-{server}", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--server", server))


def start_bare(server: str) -> ManagedProcess:
    bare = start(f"bare-{server}", [sys.executable, "-m", "benchmarks.bare_flask", "--port", "0", "--server", server])
    _wait_answering(f"{bare.facts['url']}{TICKETS}")
    return bare


def _wait_answering(url: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # polling a port with a deadline


def _spread(values: list[float], worst: Callable[[list[float]], float]) -> str:
    return f"{statistics.median(values):9.2f} {worst(values):9.2f}"


def _rates(values: list[float]) -> str:
    return f"{statistics.median(values):9.0f} {min(values):9.0f}"


def main() -> int:
    before = os.getloadavg()
    print(
        f"Server benchmark: ticket POST with wrk {' '.join(WRK_ARGS)}, {ROUNDS} rounds, each measuring every server in"
        f" turn;\n  on {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}); cwsim's default server: {DEFAULT_SERVER}",
        flush=True,
    )
    rates: dict[tuple[str, str], list[float]] = {(app, server): [] for app in ("cwsim", "bare") for server in SERVERS}
    loads = [before[0]]
    processes = {}
    try:
        for server in SERVERS:
            processes["cwsim", server] = start_fake(server)
            processes["bare", server] = start_bare(server)
        facts = processes["cwsim", SERVERS[0]].facts
        script = post_script(json.dumps(TICKET_BODY), cw_headers(facts))
        for _ in range(ROUNDS):
            for (app, server), process in processes.items():
                result = run_wrk(f"{process.facts['url']}{TICKETS}", script)
                if result.non_2xx or result.errors:
                    print(f"  warning: {app} on {server}: {result.non_2xx} non-2xx {result.errors}", flush=True)
                rates[app, server].append(result.requests_per_second)
            loads.append(os.getloadavg()[0])
    finally:
        for process in processes.values():
            process.stop()

    def ratios(top: tuple[str, str], bottom: tuple[str, str]) -> list[float]:
        return [ours / theirs if theirs else 0.0 for ours, theirs in zip(rates[top], rates[bottom], strict=True)]

    print(f"  {'ticket POST, req/s':44}{'median':>9} {'worst':>9}")
    for (app, server), values in rates.items():
        print(f"    {('cwsim' if app == 'cwsim' else 'bare Flask') + ' on ' + server:42}{_rates(values)}")
    headline = ratios(("cwsim", DEFAULT_SERVER), ("bare", "waitress"))
    print(f"  {'ratios, each within its round':44}{'median':>9} {'worst':>9}")
    for label, values in (
        (f"cwsim on {DEFAULT_SERVER} / bare Flask on waitress", headline),
        (f"cwsim / bare Flask, both on {DEFAULT_SERVER}", ratios(("cwsim", DEFAULT_SERVER), ("bare", DEFAULT_SERVER))),
        ("cwsim on granian / cwsim on waitress", ratios(("cwsim", "granian"), ("cwsim", "waitress"))),
        ("bare Flask on granian / on waitress", ratios(("bare", "granian"), ("bare", "waitress"))),
    ):
        print(f"    {label:42}{_spread(values, min)}")
    print(
        f"  load average (1 min) through the runs: {', '.join(f'{load:.1f}' for load in loads)}"
        f" (on {os.cpu_count()} CPUs; above that count, the figures are measured on a busy machine)"
    )
    median = statistics.median(headline)
    verdict = "ok" if median >= TARGET else "BELOW TARGET"
    target = f"cwsim on its default server / bare Flask on waitress >= {TARGET} (aim {AIM})"
    print(f"  target: {target}: {median:.2f} {verdict}")
    return 0 if median >= TARGET else 1
