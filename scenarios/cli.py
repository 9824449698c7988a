"""The `cwsim` command: serve the fakes, generate and run fleets offline, run scenarios and load tests."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

import orjson

from ..integration.command_options import add_log_options, add_version, chosen_level
from ..simulator.admin_access import UnsafeBind, check_bind
from ..simulator.clock import ClockMode, parse_moment
from ..simulator.connectwise.collections import ALL_COLLECTIONS as COLLECTIONS
from ..simulator.connectwise.tenant import default_tenant
from ..simulator.connectwise.tenant_file import TenantFileError
from ..simulator.datto.offline import FleetFileError, generate_fleet_file, load_fleet, run_fleet
from ..simulator.datto.settings import FleetSpec, PortalSettings
from ..simulator.datto.sinks import JsonLinesSink
from ..simulator.fault_schema import FaultFileError, load_fault_file
from ..simulator.granian_serving import WorkerFailed
from ..simulator.recording import RecordingFileError, load_replay
from ..simulator.server import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    DEFAULT_SERVER,
    DEFAULT_SMTP_PORT,
    SERVER_VARIABLE,
    SERVERS,
    RunningServer,
    ServeOptions,
    describe,
)
from ..simulator.state_problems import StateProblems
from ..simulator.world import WorldOptions, company_names
from . import capture_commands, load_commands, record_commands, run_commands
from .processes import choose_server

LOOPBACK = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwsim",
        description="A fake ConnectWise Manage and a simulated Datto fleet, for end-to-end and load tests.",
    )
    add_version(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="serve the fake ConnectWise API and the admin API")
    serve.add_argument("--host", default=LOOPBACK, help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0 = a free one)")
    serve.add_argument(
        "--smtp-port",
        type=int,
        default=None,
        help=f"mail catcher port (default {DEFAULT_SMTP_PORT}, or a free one when --port is 0; 0 = a free one)",
    )
    serve.add_argument(
        "--ready-file", type=Path, help="write the URL, companyId and credentials here as JSON once serving"
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the generated tenant (default %(default)s)")
    serve.add_argument(
        "--companies",
        type=int,
        default=WorldOptions.companies,
        help="companies in the generated tenant (default %(default)s)",
    )
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default %(default)s)")
    serve.add_argument(
        "--server",
        choices=SERVERS,
        default=os.environ.get(SERVER_VARIABLE) or DEFAULT_SERVER,
        help=f"the WSGI server (default %(default)s, or ${SERVER_VARIABLE}); see docs/load-testing.md",
    )
    serve.add_argument(
        "--journal-size", type=int, default=10_000, help="requests kept in the journal (default %(default)s)"
    )
    serve.add_argument(
        "--tenant",
        metavar="FILE",
        help="serve the tenant this YAML file describes (a path, or a built-in name such as datto-ready) "
        "instead of generating one; see docs/tenants.md",
    )
    serve.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        help="restore the state saved in FILE at start (when it exists) and save it there on a clean stop",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost; prints the CA file "
        "to point REQUESTS_CA_BUNDLE at",
    )
    serve.add_argument(
        "--ca-file", type=Path, metavar="FILE", help="with --tls: write the CA certificate here (default: a temp dir)"
    )
    serve.add_argument(
        "--faults", type=Path, metavar="FILE", help="fault rules (a YAML or JSON list) in place from the start"
    )
    serve.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        action="append",
        default=[],
        help="answer the exchanges a `cwsim record` file holds, as stubs ahead of the fake (repeatable); "
        "see docs/stubs.md",
    )
    serve.add_argument(
        "--fault-proxy-port",
        type=int,
        default=0,
        help="port of the fault proxy, which answers like the server but can reset, empty or dribble "
        "connections (default: a free one; its URL is in the ready file)",
    )
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        default=os.environ.get("CWSIM_ADMIN_TOKEN") or None,
        help="require TOKEN on /_sim (Authorization: Bearer TOKEN); needed to listen beyond loopback "
        "(default: $CWSIM_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="answer 413 to API request bodies larger than this (default %(default)s)",
    )
    add_log_options(serve, "log every request (the info level)")
    _add_fleet_serve_arguments(serve)
    serve.set_defaults(handler=run_serve)
    _add_fleet_commands(commands)
    _add_integration_command(commands)
    run_commands.add_commands(commands)
    load_commands.add_commands(commands)
    capture_commands.add_commands(commands)
    record_commands.add_commands(commands)
    return parser


# -- the fleet (issue 4) --------------------------------------------------------------------------

DEFAULT_FLEET_START = "2026-01-01T00:00:00Z"  # offline fleets start here unless told: the same run every day


def _moment(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a share is a number from 0 to 1, not {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"a count is a whole number from 0 to 100000, not {text!r}")
    return value


def _add_family_counts(parser: argparse.ArgumentParser, defaults: FleetSpec) -> None:
    parser.add_argument("--siris", type=_count, default=defaults.siris, help="SIRIS appliances (default %(default)s)")
    parser.add_argument("--alto", type=_count, default=defaults.alto, help="ALTO appliances (default %(default)s)")
    parser.add_argument(
        "--cloud", type=_count, default=defaults.cloud, help="cloud SIRIS devices (default %(default)s)"
    )
    parser.add_argument(
        "--unmatched-share",
        type=_share,
        default=defaults.unmatched_share,
        help="share of clients whose name matches no tenant company exactly (default %(default)s)",
    )


def _add_fleet_serve_arguments(serve: argparse.ArgumentParser) -> None:
    group = serve.add_argument_group("the Datto fleet, its portal API and the simulated clock")
    _add_family_counts(group, FleetSpec())
    group.add_argument("--fleet-seed", type=int, help="seed of the fleet (default: --seed)")
    group.add_argument("--fleet-sink", metavar="URL", help="POST the fleet's alert events to this URL")
    portal = PortalSettings()
    group.add_argument("--portal-public-key", default=portal.public_key, help="portal API key (default %(default)s)")
    group.add_argument("--portal-secret-key", default=portal.secret_key, help="portal secret (default %(default)s)")
    group.add_argument(
        "--portal-rate-limit",
        type=int,
        default=0,
        metavar="N",
        help="answer 429 past N requests per 60 s per key, as the real API does at about 120 (default: off)",
    )
    group.add_argument(
        "--portal-quirks",
        action="store_true",
        help="the real API's quirks: offsiteStorageUsed as [] for some devices, asset lists as index-keyed objects",
    )
    group.add_argument(
        "--clock", choices=[mode.value for mode in ClockMode], default="wall", help="clock mode (default %(default)s)"
    )
    group.add_argument("--clock-rate", type=float, default=1.0, help="simulated seconds per second when scaled")
    group.add_argument("--clock-start", type=_moment, help="start the clock here (ISO-8601; default: now)")


def _fleet_options(args: argparse.Namespace) -> dict[str, object]:
    spec = FleetSpec(
        seed=args.seed if args.fleet_seed is None else args.fleet_seed,
        siris=args.siris,
        alto=args.alto,
        cloud=args.cloud,
        unmatched_share=args.unmatched_share,
    )
    portal = PortalSettings(
        public_key=args.portal_public_key,
        secret_key=args.portal_secret_key,
        rate_limit=args.portal_rate_limit,
        offsite_as_list_share=0.1 if args.portal_quirks else 0.0,
        asset_list_as_object=args.portal_quirks,
    )
    return {
        "fleet": spec,
        "portal": portal,
        "fleet_sink_url": args.fleet_sink,
        "clock_mode": args.clock,
        "clock_rate": args.clock_rate,
        "clock_start": args.clock_start,
    }


def _check_fleet_serve_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.portal_rate_limit < 0:
        parser.error("--portal-rate-limit must be 0 (off) or more")
    if not args.portal_public_key or not args.portal_secret_key:
        parser.error("--portal-public-key and --portal-secret-key must not be empty")
    if not args.clock_rate > 0:
        parser.error("--clock-rate must be a positive number")
    if args.fleet_sink and not args.fleet_sink.startswith(("http://", "https://")):
        parser.error(f"--fleet-sink must be an http:// or https:// URL, not {args.fleet_sink!r}")


def _add_fleet_commands(commands: argparse._SubParsersAction) -> None:
    fleet = commands.add_parser("fleet", help="generate a fleet file, or run one offline into JSON Lines")
    actions = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="generate a fleet from a seed and save it as JSON")
    _add_family_counts(generate, FleetSpec())
    generate.add_argument("--seed", type=int, default=0, help="seed of the fleet (default %(default)s)")
    generate.add_argument("--out", type=Path, required=True, help="the fleet file to write")
    generate.add_argument(
        "--start", type=_moment, default=_moment(DEFAULT_FLEET_START), help=f"its start (default {DEFAULT_FLEET_START})"
    )
    generate.add_argument(
        "--companies",
        type=int,
        default=WorldOptions.companies,
        help="client names come from the default tenant of --seed with this many companies, as `cwsim serve` has",
    )
    generate.add_argument("--clients", type=Path, help="or from this file, one name a line")
    generate.set_defaults(handler=run_fleet_generate)

    run = actions.add_parser("run", help="simulate a fleet file for some days, as fast as possible")
    run.add_argument("--fleet", type=Path, required=True, help="a file from `cwsim fleet generate`")
    run.add_argument("--days", type=int, required=True, help="simulated days to run")
    run.add_argument("--out", type=Path, required=True, help="JSON Lines of raises, repeats, clears and daily usage")
    run.add_argument("--truth", type=Path, help="also write the ground truth (incidents and alerts) here as JSON")
    run.add_argument(
        "--shards", type=int, default=2, help="run the fleet as this many shards of whole sites (default %(default)s)"
    )
    run.add_argument("--workers", type=int, help="processes to run the shards in (default: one per CPU)")
    run.set_defaults(handler=run_fleet_run)


def _add_integration_command(commands: argparse._SubParsersAction) -> None:
    integration = commands.add_parser(
        "integration",
        help="the integration's own command, cwsim-integration (run, doctor, onboard, bill)",
        add_help=False,
    )
    integration.add_argument("arguments", nargs=argparse.REMAINDER)
    integration.set_defaults(handler=run_integration)


def run_integration(args: argparse.Namespace) -> int:
    """Hand over to `cwsim-integration` in this process's place (it imports no simulator code)."""
    os.execv(sys.executable, [sys.executable, "-m", "cwsim.integration.cli", *args.arguments])
    return 0  # not reached


def _fail(command: str, message: str) -> int:
    print(f"cwsim {command}: {message}", file=sys.stderr)
    return 2


def run_fleet_generate(args: argparse.Namespace) -> int:
    if args.clients is not None:
        try:
            names = [line.strip() for line in args.clients.read_text().splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as error:
            return _fail("fleet generate", f"cannot read --clients {args.clients}: {error}")
        if not names:
            return _fail("fleet generate", f"--clients {args.clients} has no names in it")
    else:
        names = company_names(default_tenant(args.seed, args.companies))
    spec = FleetSpec(
        seed=args.seed, siris=args.siris, alto=args.alto, cloud=args.cloud, unmatched_share=args.unmatched_share
    )
    started = time.perf_counter()
    try:
        fleet = generate_fleet_file(spec, names, args.start, args.out)
    except OSError as error:
        return _fail("fleet generate", f"cannot write {args.out}: {error.strerror or error}")
    assets = sum(len(device.assets) for device in fleet.devices)
    print(
        f"cwsim fleet generate: {len(fleet.devices)} appliances, {assets} assets, "
        f"{len(fleet.organizations)} clients -> {args.out} ({time.perf_counter() - started:.1f} s)"
    )
    return 0


def run_fleet_run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        fleet = load_fleet(args.fleet)
    except FleetFileError as error:
        return _fail("fleet run", str(error))
    try:
        sink = JsonLinesSink(args.out)
    except OSError as error:
        return _fail("fleet run", f"cannot write {args.out}: {error.strerror or error}")
    try:
        report = run_fleet(fleet, args.days, sink, args.shards, args.workers, keep_truth=args.truth is not None)
    finally:
        sink.close()
    if args.truth is not None:
        try:
            args.truth.write_bytes(orjson.dumps(report.pop("truth"), option=orjson.OPT_INDENT_2))
        except OSError as error:
            return _fail("fleet run", f"cannot write {args.truth}: {error.strerror or error}")
    print(f"cwsim fleet run: {args.days} days of {len(fleet.devices)} appliances -> {args.out}")
    for event, kinds in report["events"].items():
        print(f"  {event:7} {sum(kinds.values()):>9}  " + ", ".join(f"{kind} {count}" for kind, count in kinds.items()))
    print(f"  total   {report['total']:>9}  in {time.perf_counter() - started:.1f} s")
    if report["suppressed"]:
        print("  not raised: " + ", ".join(f"{why} {count}" for why, count in report["suppressed"].items()))
    return 0


def _check_fleet_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.fleet_command == "generate" and args.siris + args.alto + args.cloud == 0:
        parser.error("a fleet needs at least one appliance: give --siris, --alto or --cloud")
    if args.fleet_command == "generate" and args.companies < 1:
        parser.error("--companies must be at least 1")
    if args.fleet_command == "run":
        if not 1 <= args.days <= 3660:
            parser.error(f"--days must be from 1 to 3660, not {args.days}")
        if not 1 <= args.shards <= 64:
            parser.error(f"--shards must be from 1 to 64, not {args.shards}")
        if args.workers is not None and not 1 <= args.workers <= 64:
            parser.error(f"--workers must be from 1 to 64, not {args.workers}")


def _check_serve_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.smtp_port is None:
        # An ephemeral server (--port 0) gets an ephemeral mail catcher too, so two never collide.
        args.smtp_port = 0 if args.port == 0 else DEFAULT_SMTP_PORT
    for option in ("port", "smtp_port", "fault_proxy_port"):
        value = getattr(args, option)
        if not 0 <= value <= 65535:
            parser.error(f"--{option.replace('_', '-')} must be between 0 and 65535, not {value}")
    if args.companies < 1:
        parser.error("--companies must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.journal_size < 1:
        parser.error("--journal-size must be at least 1")
    if args.ca_file is not None and not args.tls:
        parser.error("--ca-file needs --tls")
    if args.max_body_bytes < 1024:
        parser.error("--max-body-bytes must be at least 1024")
    try:
        check_bind(args.host, args.admin_token)
    except UnsafeBind as error:
        parser.exit(2, f"cwsim serve: {error}\n")


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=chosen_level(args, usual=logging.WARNING, verbose=logging.INFO),
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        faults = load_fault_file(args.faults, (c.table for c in COLLECTIONS)) if args.faults else []
    except FaultFileError as error:
        print(f"cwsim serve: {error}", file=sys.stderr)
        return 2
    try:
        replayed = [stub for path in args.replay for stub in load_replay(path)]
    except RecordingFileError as error:
        print(f"cwsim serve: --replay {error}", file=sys.stderr)
        return 2
    options = ServeOptions(
        host=args.host,
        port=args.port,
        smtp_port=args.smtp_port,
        threads=args.threads,
        ready_file=args.ready_file,
        world=WorldOptions(
            seed=args.seed,
            companies=args.companies,
            journal_size=args.journal_size,
            tenant=args.tenant,
            faults=tuple(faults),
            stubs=tuple(replayed),
            **_fleet_options(args),
        ),
        state_file=args.state,
        tls=args.tls,
        ca_file=args.ca_file,
        fault_proxy_port=args.fault_proxy_port,
        admin_token=args.admin_token,
        max_body_bytes=args.max_body_bytes,
        server=args.server,
    )
    try:
        server = RunningServer(options)
    except TenantFileError as error:
        count = len(error.problems)
        print(
            f"cwsim serve: the tenant {args.tenant} cannot be loaded ({count} problem{'s' * (count != 1)}):",
            file=sys.stderr,
        )
        print(error, file=sys.stderr)
        return 2
    except StateProblems as error:
        print(f"cwsim serve: the state in {args.state} cannot be restored:", file=sys.stderr)
        print(error, file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"cwsim serve: cannot listen on {args.host} (port {args.port}, SMTP port {args.smtp_port}, "
            f"fault proxy port {args.fault_proxy_port}): "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    for note in server.state_notes:
        print(f"cwsim serve: {args.state}: {note}", file=sys.stderr, flush=True)
    server.on_ready = lambda facts: print(describe(facts), flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)  # granian puts its own in place when it starts
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except WorkerFailed as error:
        print(f"cwsim serve: {error}; its log is above", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cwsim serve: cannot save the state to {args.state}: {error}", file=sys.stderr)
        return 1
    if args.state is not None:
        print(f"cwsim serve: state saved to {args.state}", flush=True)
    print("cwsim serve: stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    chosen = os.environ.get(SERVER_VARIABLE)
    if chosen and chosen not in SERVERS:  # argparse checks --server's choices, never its default
        parser.error(f"${SERVER_VARIABLE} is {chosen!r}; it names the WSGI server: {', '.join(SERVERS)}")
    args = parser.parse_args(argv)
    choose_server(args)
    if args.command == "serve":
        _check_serve_arguments(parser, args)
        _check_fleet_serve_arguments(parser, args)
    if args.command == "fleet":
        _check_fleet_arguments(parser, args)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
