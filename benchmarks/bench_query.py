"""The conditions query over 10,000 tickets: this checkout's `cwsim serve` against the commit before issue 16's
performance work, both measured in the same run.

The older commit is checked out with `git worktree add` in a temporary folder and run by this interpreter
(its `cwsim` package put first on the path), so both use the same dependencies; each runs on its own default
server (granian now, waitress then). Both get the same 10,000 tickets, then every round runs wrk against each
in turn (the order alternating) and takes the ratio within the round. Target (issue 16): >= 2x.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start
from cwsim.simulator.server import DEFAULT_SERVER

from .bench_api import QUERY, TICKETS, cw_headers, seed_tickets
from .rounds import ROUNDS, load_average, machine, median_worst
from .wrk import WRK_ARGS, get_script, run_wrk

# The last commit of main before issue 16's work (the gates and granian came after it).
BASELINE = "0341982"
TARGET = 2.0
PARTS = ("simulator", "integration", "scenarios")
COMPANIES = 36


@contextmanager
def baseline_checkout(commit: str = BASELINE) -> Iterator[Path]:
    """A folder to put first on PYTHONPATH so that `cwsim.*` is `commit`'s code: `cwsim/<part>` links into a
    temporary worktree of that commit, removed afterwards."""
    repository = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="cwsim-baseline-") as folder:
        worktree = Path(folder) / "worktree"
        git = ["git", "-C", str(repository)]
        subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(worktree), commit], check=True)
        try:
            package = Path(folder) / "path" / "cwsim"
            package.mkdir(parents=True)
            for part in PARTS:
                (package / part).symlink_to(worktree / part, target_is_directory=True)
            yield package.parent
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(worktree)], check=False)


def start_serve(name: str, python_path: Path | None = None) -> ManagedProcess:
    env = None
    if python_path is not None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(python_path), os.environ.get("PYTHONPATH", "")])}
    return start(name, cwsim_command("serve", "--port", "0", "--smtp-port", "0"), env=env)


def seeded(process: ManagedProcess, tickets: int) -> str:
    """Seed `tickets` tickets; the query's URL, checked to fill its page."""
    headers = cw_headers(process.facts)
    seed_tickets(process.facts["api_url"], headers, companies=COMPANIES, tickets=tickets)
    url = f"{process.facts['api_url']}/service/tickets?{QUERY}"
    page = requests.get(url, headers=headers, timeout=60)
    page.raise_for_status()
    if tickets >= TICKETS and len(page.json()) != 25:
        raise RuntimeError(f"{process.name}: the benchmark query should fill a page of 25, got {len(page.json())}")
    return url


def measure(tickets: int = TICKETS, rounds: int = ROUNDS, wrk_args: list[str] = WRK_ARGS) -> dict[str, list[float]]:
    """req/s of the query on this checkout ("now") and on the baseline commit ("before"), per round."""
    rates: dict[str, list[float]] = {"now": [], "before": []}
    with baseline_checkout() as baseline_path:
        now = start_serve("cwsim-now")
        before = start_serve("cwsim-before", baseline_path)
        try:
            urls = {"now": seeded(now, tickets), "before": seeded(before, tickets)}
            script = get_script(cw_headers(now.facts))
            for number in range(rounds):
                order = ("now", "before") if number % 2 == 0 else ("before", "now")
                for which in order:
                    result = run_wrk(urls[which], script, wrk_args)
                    if result.non_2xx or result.errors:
                        print(f"  warning: {which}: {result.non_2xx} non-2xx {result.errors}", flush=True)
                    rates[which].append(result.requests_per_second)
        finally:
            now.stop()
            before.stop()
    return rates


def main() -> int:
    print(
        f"Conditions query over {TICKETS:,} tickets (wrk {' '.join(WRK_ARGS)}, {ROUNDS} rounds): this checkout on"
        f" {DEFAULT_SERVER} against commit {BASELINE} (before issue 16) on its default server, waitress;\n"
        f"  on {machine()}, {load_average()}",
        flush=True,
    )
    rates = measure()
    ratios = [now / before if before else 0.0 for now, before in zip(rates["now"], rates["before"], strict=True)]
    print(f"    {'now, req/s':44}{median_worst(rates['now'], digits=0)}")
    print(f"    {'before (' + BASELINE + '), req/s':44}{median_worst(rates['before'], digits=0)}")
    print(f"    {'now / before, within each round':44}{median_worst(ratios)}")
    median = sorted(ratios)[len(ratios) // 2]
    verdict = "ok" if median >= TARGET else "BELOW TARGET"
    print(f"  target: now / before >= {TARGET}: {median:.2f} {verdict}; {load_average()}", flush=True)
    return 0 if median >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
