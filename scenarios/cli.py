"""The `cwsim` command: serve the fakes (and, as later parts land, run scenarios and load tests)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from ..simulator.connectwise.collections import COLLECTIONS
from ..simulator.connectwise.tenant_file import TenantFileError
from ..simulator.fault_schema import FaultFileError, load_fault_file
from ..simulator.server import DEFAULT_PORT, DEFAULT_SMTP_PORT, RunningServer, ServeOptions, describe
from ..simulator.state_problems import StateProblems
from ..simulator.world import WorldOptions

LOOPBACK = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwsim",
        description="A fake ConnectWise Manage and a simulated Datto fleet, for end-to-end and load tests.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="serve the fake ConnectWise API and the admin API")
    serve.add_argument("--host", default=LOOPBACK, help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0 = a free one)")
    serve.add_argument(
        "--smtp-port",
        type=int,
        default=DEFAULT_SMTP_PORT,
        help="mail catcher port (default %(default)s; 0 = a free one)",
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
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(handler=run_serve)
    return parser


def _check_serve_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for option in ("port", "smtp_port"):
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


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        faults = load_fault_file(args.faults, (c.table for c in COLLECTIONS)) if args.faults else []
    except FaultFileError as error:
        print(f"cwsim serve: {error}", file=sys.stderr)
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
        ),
        state_file=args.state,
        tls=args.tls,
        ca_file=args.ca_file,
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
            f"cwsim serve: cannot listen on {args.host} (port {args.port}, SMTP port {args.smtp_port}): "
            f"{error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    server.on_ready = lambda facts: print(describe(facts), flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except OSError as error:
        print(f"cwsim serve: cannot save the state to {args.state}: {error}", file=sys.stderr)
        return 1
    if args.state is not None:
        print(f"cwsim serve: state saved to {args.state}", flush=True)
    print("cwsim serve: stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        _check_serve_arguments(parser, args)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
