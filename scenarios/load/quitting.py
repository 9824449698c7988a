"""What both locustfiles do when locust quits: print the summary, write it, and set the exit code from the gates.

Imported only by the locustfiles (it needs gevent), never by cwsim itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC


def report_on_quitting(
    environment: Environment,
    summarize: Callable[[Environment], dict[str, Any]],
    summary_lines: Callable[[dict[str, Any]], list[str]],
) -> None:
    """On the master (or a lone process): the summary to stdout and `--summary-file`, the gates' exit code."""
    options = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or options is None:
        return
    if options.csv_prefix:
        # locust rewrites _stats.csv once a second and only closes it on the way out: one more round
        # of its writer puts the final figures in, the same as the summary's.
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
    summary = summarize(environment)
    for line in summary_lines(summary):
        print(line)
    sys.stdout.flush()
    if options.summary_file:
        Path(options.summary_file).write_text(json.dumps(summary, indent=2) + "\n")
    if summary["exit_code"] is not None:
        environment.process_exit_code = summary["exit_code"]
