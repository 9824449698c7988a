"""`cwsim run`, `cwsim scenarios` and `cwsim demo`: scenarios from the command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .actions import ActionError
from .integration_process import IntegrationFailed
from .processes import ProcessFailed, add_server_option, stop_all
from .runner import RunOptions, RunResult, ScenarioAborted, print_report, run_scenario
from .scenario import ScenarioError, builtin_names, load_scenario

DEMO_SCENARIO = "quickstart"


def add_commands(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="run a scenario: the fakes and the integration, driven through time, then checked"
    )
    run.add_argument("scenario", help="a scenario file, or a built-in scenario's name (see `cwsim scenarios`)")
    run.add_argument("--report", type=Path, help="write the report as JSON here")
    run.add_argument("--artifacts", type=Path, help="on failure, write the journal, state, mail and logs here")
    run.add_argument("--workdir", type=Path, help="where the processes' files go (default: a temporary folder)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_server_option(run)
    run.set_defaults(handler=run_command)

    scenarios = commands.add_parser("scenarios", help="list the built-in scenarios")
    scenarios.set_defaults(handler=list_command)

    demo = commands.add_parser(
        "demo", help="the quickstart scenario with a few dozen appliances over 30 simulated days"
    )
    demo.add_argument("--keep", action="store_true", help="leave everything running afterwards and say where to look")
    demo.add_argument("--report", type=Path, help="write the report as JSON here")
    demo.add_argument("--artifacts", type=Path, help="on failure, write the journal, state, mail and logs here")
    add_server_option(demo)
    demo.set_defaults(handler=demo_command)


def _run(name: str, options: RunOptions, command: str) -> RunResult | int:
    try:
        scenario = load_scenario(name)
    except ScenarioError as error:
        print(f"cwsim {command}: {error}", file=sys.stderr)
        return 2
    _stop_on_signals()
    try:
        return run_scenario(scenario, options)
    except (ScenarioAborted, ProcessFailed, IntegrationFailed, ActionError) as error:
        print(f"\ncwsim {command}: the run stopped: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        stop_all()
        print(f"\ncwsim {command}: interrupted; everything it started is stopped", file=sys.stderr)
        return 130


def _stop_on_signals() -> None:
    """SIGINT (Ctrl-C) and SIGTERM stop a run: every process it started is stopped on the way out.

    Set explicitly: a shell starts background commands with SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler of its own.
    """
    if threading.current_thread() is threading.main_thread():

        def interrupt(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)


def run_command(args: argparse.Namespace) -> int:
    options = RunOptions(
        report=args.report,
        artifacts=args.artifacts,
        workdir=args.workdir,
        progress=None if args.quiet else sys.stderr,
    )
    result = _run(args.scenario, options, "run")
    if isinstance(result, int):
        return result
    print_report(result)
    if not result.passed and args.artifacts:
        print(f"artifacts: {args.artifacts}")
    return 0 if result.passed else 1


def list_command(args: argparse.Namespace) -> int:
    for name in builtin_names():
        scenario = load_scenario(name)
        print(f"{name:28} {scenario.description}")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    options = RunOptions(report=args.report, artifacts=args.artifacts, progress=sys.stderr, keep=args.keep)
    result = _run(DEMO_SCENARIO, options, "demo")
    if isinstance(result, int):
        return result
    print_report(result)
    if args.keep:
        _keep_running(result)
    return 0 if result.passed else 1


def _keep_running(result: RunResult) -> None:
    facts = result.facts
    print()
    print("Everything is still running. Look around:")
    print(f"  dashboard        {facts.get('dashboard', facts['url'] + '/')}")
    print(f"  ConnectWise API  {facts['api_url']}  (companyId {facts['companyId']}; keys in the ready file)")
    print(f"  admin API        {facts['url']}/_sim/health, /_sim/requests, /_sim/mail, /_sim/fleet, /_sim/truth")
    print(f"  processes' logs  {result.processes[0].log_path.parent}")
    print("Press Ctrl-C to stop them.")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(result.processes):
            process.stop()
