"""`python -m benchmarks [name ...]`: run cwsim's benchmarks (all of them by default)."""

from __future__ import annotations

import sys

from . import bench_alerts, bench_api, bench_fleet, bench_load, bench_query, bench_servers, bench_startup
from .quiet import wait_for_quiet

BENCHMARKS = {
    "api": bench_api.main,
    "servers": bench_servers.main,
    "query": bench_query.main,
    "startup": bench_startup.main,
    "fleet": bench_fleet.main,
    "intake": bench_alerts.intake_main,
    "delivery": bench_alerts.delivery_main,
    "load": bench_load.main,
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    status = 0
    for name in names or list(BENCHMARKS):
        print(f"[{name}] {wait_for_quiet()}", flush=True)
        status |= BENCHMARKS[name]()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
