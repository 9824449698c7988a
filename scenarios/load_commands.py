"""`cwsim load`: load tests with locust, run headless as a subprocess against processes this command starts.

cwsim load alerts --users 20 --rate 100 --duration 60s --p95-lag 1s --max-backlog 100
cwsim load alerts --rate 300 --p95-lag 2s --max-backlog-growth 10 --max-lost 0     # the gates' limits
cwsim load alerts --steps 100,200,300,400 --step-duration 15s         # find the knee
cwsim load connectwise --users 8 --duration 30s --p95 200ms
cwsim load payloads --out payloads.json                                # for a distributed run
cwsim load locustfile alerts                                           # where the locustfile is installed
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from ..simulator.atomic_files import write_json_atomically
from .integration_process import IntegrationFailed
from .load.gates import (
    DEFAULT_FAIL_RATIO,
    DEFAULT_MAX_EXTRA,
    DEFAULT_MAX_LOST,
    DEFAULT_P95_LAG_SECONDS,
    AlertLimits,
    default_max_backlog_growth,
    drain_gates,
)
from .load.knee import parse_steps
from .load.summary import alerts_summary_lines, connectwise_summary_lines
from .load_payloads import LoadFleet, PayloadError, write_payloads
from .load_runner import (
    LOCUSTFILES,
    Counters,
    LoadSetupFailed,
    LocustRun,
    account,
    drain,
    locust_missing,
    locustfile,
    run_locust,
    start_alert_stack,
    start_fake,
)
from .processes import ProcessFailed, add_server_option

OFF = ("off", "none")
DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")
MAX_SECONDS = 24 * 3600.0
TASKS = ("search", "create", "note", "patch")


class UsageError(ValueError):
    """Bad input to `cwsim load`: the message says what and what would be right."""


def parse_duration(text: str) -> float:
    """`60s`, `2m`, `1m30s`, `500ms`, `1h` or plain seconds (`90`) as seconds; UsageError otherwise."""
    text = str(text).strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        match = DURATION.match(text)
        if not text or match is None or not any(match.groups()):
            raise UsageError(f"{text!r} is not a duration; write it like 60s, 2m, 1m30s, 500ms or 90") from None
        hours, minutes, whole, millis = (float(part) if part else 0.0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + whole + millis / 1000
    if not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"{text!r} must be above 0 and at most 24 hours")
    return seconds


# -- the arguments ------------------------------------------------------------------------------------------


def add_commands(commands: argparse._SubParsersAction) -> None:
    load = commands.add_parser(
        "load",
        help="load tests with locust (headless, as a subprocess): alert throughput end to end, or the fake alone",
        description="Load tests with locust, run headless as a subprocess against processes this command starts on "
        "127.0.0.1. See docs/load-testing.md.",
    )
    kinds = load.add_subparsers(dest="load_command", metavar="TEST", required=True)
    _add_alerts(kinds)
    _add_connectwise(kinds)
    payloads = kinds.add_parser("payloads", help="draw alert payloads from the fleet simulator into a file")
    payloads.add_argument("--out", type=Path, required=True, help="the payload file to write")
    _add_fleet(payloads)
    payloads.set_defaults(handler=payloads_command)
    where = kinds.add_parser("locustfile", help="print where a locustfile is installed (for locust -f)")
    where.add_argument("name", help=f"one of {', '.join(LOCUSTFILES)}")
    where.set_defaults(handler=locustfile_command)


def _add_reports(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reports")
    group.add_argument("--csv", metavar="PREFIX", type=Path, help="locust's CSV files: PREFIX_stats.csv, ...")
    group.add_argument("--html", metavar="FILE", type=Path, help="locust's HTML report")
    group.add_argument("--summary", metavar="FILE", type=Path, help="the summary as JSON")
    group.add_argument("--workdir", type=Path, help="logs, settings and state (default: a new temporary folder)")
    add_server_option(parser)
    parser.add_argument(
        "--locust-workers",
        default="0",
        help="run locust as a master and this many worker processes on this machine (default %(default)s: one "
        "process; a core each is the most that helps)",
    )


def _add_fleet(parser: argparse.ArgumentParser) -> None:
    fleet = LoadFleet()
    group = parser.add_argument_group("the fleet the alerts come from")
    group.add_argument("--seed", default=str(fleet.seed), help="seed of the tenant and the fleet (default %(default)s)")
    group.add_argument("--siris", default=str(fleet.siris), help="SIRIS appliances (default %(default)s)")
    group.add_argument("--alto", default=str(fleet.alto), help="ALTO appliances (default %(default)s)")
    group.add_argument("--days", default=str(fleet.days), help="simulated days drawn from (default %(default)s)")


def _add_alerts(kinds: argparse._SubParsersAction) -> None:
    alerts = kinds.add_parser(
        "alerts",
        help="alert throughput end to end: appliances -> the integration's intake -> tickets in the fake",
        description="Start the fake and the integration, onboard the fleet, post alerts drawn from it at an offered "
        "rate with locust, drain, and account for every alert. Exits 1 when a gate fails or an alert is lost.",
    )
    alerts.add_argument("--users", help="appliances posting alerts (default 20)")
    alerts.add_argument("--rate", help="offered alerts/s, all appliances together (default 100)")
    alerts.add_argument("--duration", help="how long to offer it (default 60s)")
    knee = alerts.add_argument_group("finding the knee (instead of --users/--rate/--duration)")
    knee.add_argument("--steps", help="offered alerts/s per step, rising, e.g. 100,200,300,400")
    knee.add_argument("--step-duration", default="15s", help="length of each step (default %(default)s)")
    knee.add_argument("--user-rate", default="10", help="alerts/s per appliance in steps (default %(default)s)")
    gates = alerts.add_argument_group(
        "gates (a constant-rate run is held to every one by default; with --steps only to those given and the "
        "accounting after the drain)"
    )
    gates.add_argument(
        "--fail-ratio", default=str(DEFAULT_FAIL_RATIO), help="most failed posts and deliveries (default %(default)s)"
    )
    gates.add_argument(
        "--p95-lag",
        help=f"most p95 alert-to-ticket lag, e.g. 1s or 500ms, or off (default {DEFAULT_P95_LAG_SECONDS:g}s)",
    )
    gates.add_argument(
        "--max-backlog-growth",
        help="most alerts/s the backlog may grow while the load runs, or off (default 5%% of --rate, at least 3)",
    )
    gates.add_argument("--max-backlog", help="most alerts left undelivered when the load stops (default: no limit)")
    gates.add_argument(
        "--max-lost",
        default=str(DEFAULT_MAX_LOST),
        help="most alerts acknowledged and then lost, or owed a ticket and never given one (default %(default)s)",
    )
    gates.add_argument(
        "--max-extra", default=str(DEFAULT_MAX_EXTRA), help="most tickets beyond one per alert (default %(default)s)"
    )
    alerts.add_argument("--workers", default="8", help="the integration's delivery threads (default %(default)s)")
    alerts.add_argument("--drain-timeout", default="60s", help="how long to wait for the backlog (default %(default)s)")
    _add_fleet(alerts)
    _add_reports(alerts)
    alerts.set_defaults(handler=alerts_command)


def _add_connectwise(kinds: argparse._SubParsersAction) -> None:
    connectwise = kinds.add_parser(
        "connectwise",
        help="the fake ConnectWise alone, under the mix of calls an integration makes",
        description="Start the fake and drive it with locust: open-ticket searches, ticket creates, notes, patches.",
    )
    connectwise.add_argument("--users", default="8", help="integration users (default %(default)s)")
    connectwise.add_argument(
        "--rate", default="0", help="offered calls/s, all users together (default 0: as fast as the fake answers)"
    )
    connectwise.add_argument("--duration", default="30s", help="how long (default %(default)s)")
    connectwise.add_argument("--tasks", help=f"only these calls, comma-separated: {', '.join(TASKS)} (default all)")
    connectwise.add_argument("--seed", default="0", help="seed of the fake's tenant (default %(default)s)")
    gates = connectwise.add_argument_group("gates")
    gates.add_argument("--fail-ratio", default=str(DEFAULT_FAIL_RATIO), help="most failed calls (default %(default)s)")
    gates.add_argument("--p95", help="most p95 response time of all calls, e.g. 200ms")
    _add_reports(connectwise)
    connectwise.set_defaults(handler=connectwise_command)


# -- checking them ------------------------------------------------------------------------------------------


def _whole(name: str, text: str | None, low: int, high: int) -> int:
    try:
        value = int(str(text))
    except ValueError:
        raise UsageError(f"--{name} must be a whole number from {low} to {high}, not {text!r}") from None
    if not low <= value <= high:
        raise UsageError(f"--{name} must be from {low} to {high}, not {value}")
    return value


def _number(name: str, text: str | None, low: float, high: float, low_inclusive: bool = True) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise UsageError(f"--{name} must be a number, not {text!r}") from None
    if not (low <= value if low_inclusive else low < value) or not value <= high or value != value:
        bound = "at least" if low_inclusive else "above"
        raise UsageError(f"--{name} must be {bound} {low:g} and at most {high:g}, not {text}")
    return value


def _fleet(args: argparse.Namespace) -> LoadFleet:
    return LoadFleet(
        seed=_whole("seed", args.seed, 0, 2**31),
        siris=_whole("siris", args.siris, 0, 10_000),
        alto=_whole("alto", args.alto, 0, 10_000),
        days=_whole("days", args.days, 1, 365),
    )


def _reports(args: argparse.Namespace, name: str) -> tuple[Path, Path, Path, Path]:
    for option in ("csv", "html", "summary"):
        path = getattr(args, option)
        if path is not None and Path(path).is_dir():
            raise UsageError(f"--{option} {path} is a folder; give a file name (a prefix for --csv)")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=f"cwsim-load-{name}-"))
    csv = args.csv or workdir / name
    html = args.html or workdir / f"{name}.html"
    summary = args.summary or workdir / f"{name}-summary.json"
    return workdir, Path(csv), Path(html), Path(summary)


# -- running ------------------------------------------------------------------------------------------------


def _fail(message: str, code: int = 2) -> int:
    print(f"cwsim load: {message}", file=sys.stderr)
    return code


def _say(message: str) -> None:
    print(f"cwsim load: {message}", file=sys.stderr, flush=True)


def alerts_command(args: argparse.Namespace) -> int:
    if missing := locust_missing():
        return _fail(missing)
    try:
        fleet = _fleet(args)
        workers = _whole("workers", args.workers, 1, 64)
        drain_timeout = parse_duration(args.drain_timeout)
        rate: float | None = None  # a knee search offers its steps instead
        if args.steps is not None:
            if any(value is not None for value in (args.users, args.rate, args.duration)):
                raise UsageError("--steps finds the knee by itself: leave out --users, --rate and --duration")
            try:
                steps = parse_steps(args.steps)
            except ValueError as error:
                raise UsageError(f"--steps: {error}") from None
            user_rate = _number("user-rate", args.user_rate, 0, 10_000, low_inclusive=False)
            step_seconds = parse_duration(args.step_duration)
            users = max(1, int(-(-steps[-1] // user_rate)))
            seconds = step_seconds * len(steps) + 5  # the shape stops itself; this only bounds it
            shape = {"rate_steps": ",".join(f"{step:g}" for step in steps), "step_seconds": step_seconds}
            what = f"steps of {shape['rate_steps']} alerts/s, {user_rate:g} per appliance"
        else:
            users = _whole("users", args.users or "20", 1, 10_000)
            rate = _number("rate", args.rate or "100", 0, 100_000, low_inclusive=False)
            seconds = parse_duration(args.duration or "60s")
            user_rate = rate / users
            shape = {}
            what = f"{users} appliances offering {rate:g} alerts/s"
        limits = alert_limits(args, rate)
        max_lost = _whole("max-lost", args.max_lost, 0, 10**9)
        max_extra = _whole("max-extra", args.max_extra, 0, 10**9)
        locust_workers = _whole("locust-workers", args.locust_workers, 0, 64)
        workdir, csv, html, summary_path = _reports(args, "alerts")
    except UsageError as error:
        return _fail(str(error))
    with _stopping_on_signals(), ExitStack() as stack:
        try:
            _say(f"starting the fake, the integration ({workers} workers) and onboarding; files in {workdir}")
            alert_stack = start_alert_stack(workdir, fleet, workers)
            stack.callback(alert_stack.stop)
            before = Counters.read(alert_stack)
            run = LocustRun(
                "alerts",
                alert_stack.intake,
                users=users,
                spawn_rate=users + 1,
                seconds=seconds,
                workdir=workdir,
                options={
                    "payloads": alert_stack.payloads,
                    "sim_url": alert_stack.fake_url,
                    "user_rate": f"{user_rate:.6g}",
                    "fail_ratio": limits.fail_ratio,
                    "p95_lag": limits.p95_lag,
                    "max_backlog_growth": limits.max_backlog_growth,
                    "max_backlog": limits.max_backlog,
                    **shape,
                },
                csv_prefix=csv,
                html=html,
                workers=locust_workers,
            )
            _say(f"running locust headless: {what} for up to {seconds:.0f} s")
            result = run_locust(run)
            if result.summary is None:
                return _fail(f"locust failed (exit {result.exit_code}); the end of its log:\n{result.log[-3000:]}", 1)
            _say("the load stopped; waiting for the backlog to drain")
            drained, waited = drain(alert_stack, drain_timeout)
            summary = result.summary
            summary["after_drain"] = account(summary, before, Counters.read(alert_stack), drained, waited)
        except (LoadSetupFailed, ProcessFailed, IntegrationFailed, PayloadError) as error:
            return _fail(f"the run stopped: {error}", 1)
        except KeyboardInterrupt:
            return _fail("interrupted; everything it started is stopped", 130)
    failed = add_drain_gates(summary, max_lost, max_extra)
    if result.exit_code != 0 and not failed:  # locust's own rule or its errors, not a gate
        failed = [f"locust exited {result.exit_code}"]
    write_json_atomically(summary_path, summary)
    for line in alerts_summary_lines(summary):
        print(line)
    print(f"  reports: {csv}_stats.csv, {html}, {summary_path}; logs in {workdir}")
    print("  result: " + (f"FAIL ({', '.join(failed)})" if failed else "PASS"))
    return 1 if failed else 0


def alert_limits(args: argparse.Namespace, rate: float | None) -> AlertLimits:
    """The limits of an alerts run from its options; `rate` None (a knee search) leaves out the gates not asked for,
    since stepping past the knee is the point there. UsageError for a bad one."""

    def given(text: str | None, default: float | None, parse: Any) -> float | None:
        if text is None:
            return default if rate is not None else None
        return None if str(text).strip().lower() in OFF else parse(text)

    fail_ratio = _number("fail-ratio", args.fail_ratio, 0, 1)
    p95_lag = given(args.p95_lag, DEFAULT_P95_LAG_SECONDS, parse_duration)
    growth_default = default_max_backlog_growth(rate) if rate is not None else None
    growth = given(args.max_backlog_growth, growth_default, lambda text: _number("max-backlog-growth", text, 0, 1e6))
    max_backlog = _whole("max-backlog", args.max_backlog, 0, 10**9) if args.max_backlog is not None else None
    return AlertLimits(fail_ratio, p95_lag, growth, max_backlog)


def add_drain_gates(summary: dict[str, Any], max_lost: int, max_extra: int) -> list[str]:
    """Hold the accounting after the drain to its gates, next to locust's in the summary; the names of those failed."""
    gates = drain_gates(summary["after_drain"], max_lost, max_extra)
    summary["gates"] = [*summary.get("gates", []), *(gate.as_json() for gate in gates)]
    summary["gate_lines"] = [*summary.get("gate_lines", []), *(gate.describe() for gate in gates)]
    return [gate["name"] for gate in summary["gates"] if not gate["passed"]]


def connectwise_command(args: argparse.Namespace) -> int:
    if missing := locust_missing():
        return _fail(missing)
    try:
        users = _whole("users", args.users, 1, 10_000)
        rate = _number("rate", args.rate, 0, 100_000)
        seconds = parse_duration(args.duration)
        seed = _whole("seed", args.seed, 0, 2**31)
        fail_ratio = _number("fail-ratio", args.fail_ratio, 0, 1)
        p95 = parse_duration(args.p95) if args.p95 is not None else None
        tasks = [task.strip() for task in (args.tasks or "").split(",") if task.strip()]
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            raise UsageError(f"--tasks: no such call {', '.join(unknown)}; choose from {', '.join(TASKS)}")
        locust_workers = _whole("locust-workers", args.locust_workers, 0, 64)
        workdir, csv, html, summary_path = _reports(args, "connectwise")
    except UsageError as error:
        return _fail(str(error))
    with _stopping_on_signals(), ExitStack() as stack:
        try:
            _say(f"starting the fake; files in {workdir}")
            fake = start_fake(workdir, ["--seed", str(seed)])
            stack.callback(fake.stop)
            facts = fake.facts
            run = LocustRun(
                "connectwise",
                facts["url"],
                users=users,
                spawn_rate=users,
                seconds=seconds,
                workdir=workdir,
                options={
                    "cw_company": facts["companyId"],
                    "cw_public_key": facts["publicKey"],
                    "cw_private_key": facts["privateKey"],
                    "user_rate": f"{rate / users:.6g}",
                    "fail_ratio": fail_ratio,
                    "p95": p95,
                },
                csv_prefix=csv,
                html=html,
                tags=tasks,
                workers=locust_workers,
            )
            _say(f"running locust headless: {users} users for {seconds:.0f} s")
            result = run_locust(run)
        except ProcessFailed as error:
            return _fail(f"the run stopped: {error}", 1)
        except KeyboardInterrupt:
            return _fail("interrupted; everything it started is stopped", 130)
    if result.summary is None:
        return _fail(f"locust failed (exit {result.exit_code}); the end of its log:\n{result.log[-3000:]}", 1)
    summary: dict[str, Any] = result.summary
    write_json_atomically(summary_path, summary)
    passed = result.exit_code == 0
    for line in connectwise_summary_lines(summary):
        print(line)
    print(f"  reports: {csv}_stats.csv, {html}, {summary_path}; logs in {workdir}")
    print(f"  result: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


def payloads_command(args: argparse.Namespace) -> int:
    try:
        fleet = _fleet(args)
    except UsageError as error:
        return _fail(str(error))
    try:
        described = write_payloads(fleet, args.out)
    except PayloadError as error:
        return _fail(str(error))
    except OSError as error:
        return _fail(f"cannot write {args.out}: {error.strerror or error}")
    counts = ", ".join(f"{category} {count}" for category, count in described["categories"].items())
    print(f"cwsim load payloads: {sum(described['categories'].values())} alerts ({counts})")
    print(f"  from {described['appliances']} appliances, seed {fleet.seed}, {fleet.days} simulated days -> {args.out}")
    print(f"  serve the same fleet with: cwsim serve {' '.join(fleet.serve_arguments())}")
    return 0


def locustfile_command(args: argparse.Namespace) -> int:
    try:
        print(locustfile(args.name))
    except ValueError as error:
        return _fail(str(error))
    return 0


class _stopping_on_signals:
    """SIGTERM stops a load test like Ctrl-C: every process it started is stopped on the way out."""

    def __enter__(self) -> _stopping_on_signals:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    @staticmethod
    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
