"""The fleet benchmark: 10,000 appliances over 30 simulated days into JSON Lines, as fast as possible.

Target (fleet issue): at most 15 s and 1 GiB peak memory on a 2-core machine. The work runs in a
fresh child process so its peak RSS (`resource.getrusage`) is its own; the shards' worker
processes are counted too.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

APPLIANCES = {"siris": 7_000, "alto": 3_000}
DAYS = 30
SEED = 2026
START = datetime(2026, 1, 1, tzinfo=UTC)
TARGET_SECONDS = 15.0
TARGET_BYTES = 1 << 30


def measure() -> dict:
    """Generate the fleet and run it into a temporary file; the figures as a dict."""
    from cwsim.simulator.connectwise.tenant import default_tenant
    from cwsim.simulator.datto.fleet import generate_fleet
    from cwsim.simulator.datto.offline import gc_paused, run_fleet
    from cwsim.simulator.datto.settings import FleetSpec
    from cwsim.simulator.datto.sinks import JsonLinesSink
    from cwsim.simulator.world import company_names

    started = time.perf_counter()
    names = company_names(default_tenant(SEED))
    with gc_paused():
        fleet = generate_fleet(FleetSpec(seed=SEED, **APPLIANCES), names, START)
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cwsim-bench-fleet-") as folder:
        path = Path(folder) / "events.jsonl"
        sink = JsonLinesSink(path)
        report = run_fleet(fleet, DAYS, sink)
        sink.close()
        finished = time.perf_counter()
        size = path.stat().st_size
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "appliances": len(fleet.devices),
        "assets": sum(len(device.assets) for device in fleet.devices),
        "generate_seconds": generated - started,
        "run_seconds": finished - generated,
        "total_seconds": finished - started,
        "peak_rss_bytes": own,
        "largest_worker_rss_bytes": workers,
        "workers": min(2, os.cpu_count() or 1),
        "output_bytes": size,
        "events": report["events"],
        "total_events": report["total"],
    }


def main() -> int:
    command = [sys.executable, "-m", "benchmarks.bench_fleet", "--measure"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"fleet benchmark failed:\n{result.stderr[-3000:]}", file=sys.stderr)
        return 1
    figures = json.loads(result.stdout.splitlines()[-1])
    # the parent's peak plus every worker at the largest worker's peak: an upper bound of the whole run
    peak = figures["peak_rss_bytes"] + figures["workers"] * figures["largest_worker_rss_bytes"]
    fast = figures["total_seconds"] <= TARGET_SECONDS
    small = peak <= TARGET_BYTES
    print(
        f"Fleet benchmark: {figures['appliances']:,} appliances ({figures['assets']:,} assets) over {DAYS} simulated "
        f"days into JSON Lines, on {platform.node()} ({os.cpu_count()} CPUs, {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()})"
    )
    print(
        f"  wall time    {figures['total_seconds']:6.2f} s  (generate {figures['generate_seconds']:.2f} s, "
        f"run {figures['run_seconds']:.2f} s)  target <= {TARGET_SECONDS:.0f} s  {'ok' if fast else 'OVER TARGET'}"
    )
    print(
        f"  peak memory  {peak / 2**20:6.0f} MiB  (main process {figures['peak_rss_bytes'] / 2**20:.0f} MiB + "
        f"{figures['workers']} workers x {figures['largest_worker_rss_bytes'] / 2**20:.0f} MiB)  target <= 1024 MiB  "
        f"{'ok' if small else 'OVER TARGET'}"
    )
    print(f"  output       {figures['total_events']:,} events, {figures['output_bytes'] / 2**20:.0f} MiB")
    for event, kinds in figures["events"].items():
        detail = ", ".join(f"{kind} {count:,}" for kind, count in kinds.items())
        print(f"  {event:7} {sum(kinds.values()):>10,}  {detail}")
    return 0 if fast and small else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--measure"]:
        print(json.dumps(measure()))
        sys.exit(0)
    sys.exit(main())
