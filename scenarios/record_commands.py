"""`cwsim record`: a recording proxy in front of a ConnectWise (or a fake), for `cwsim serve --replay`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from ..integration.command_options import add_log_options, chosen_level
from ..simulator.atomic_files import write_json_atomically
from ..simulator.recorder import DEFAULT_LIMIT, RecordingProxy, upstream_problem

LOOPBACK = "127.0.0.1"


def add_commands(commands: argparse._SubParsersAction) -> None:
    record = commands.add_parser(
        "record",
        help="a recording proxy: forward to --upstream, save every exchange (secrets masked) to --out on Ctrl-C",
        description="Listen on 127.0.0.1, forward each request to the upstream and answer with its answer; on "
        "SIGINT or SIGTERM write the exchanges to --out (YAML, or JSON when it ends in .json) for "
        "`cwsim serve --replay`. Authorization and any header, parameter or field named like a key, password, "
        "token or secret is masked in the file.",
    )
    record.add_argument(
        "--upstream",
        required=True,
        type=_upstream,
        metavar="URL",
        help="where to forward, e.g. https://na.myconnectwise.net",
    )
    record.add_argument("--out", required=True, type=Path, metavar="FILE", help="the recording to write")
    record.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1 (default: a free one, printed)")
    record.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        help="record at most this many exchanges; later ones are forwarded only (default %(default)s)",
    )
    record.add_argument("--ready-file", type=Path, help="write the proxy's URL here as JSON once it listens")
    add_log_options(record, "log every forwarded request (the info level)")
    record.set_defaults(handler=run_record)


def _upstream(text: str) -> str:
    problem = upstream_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem.removeprefix("--upstream "))
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, not {text!r}")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return value


def run_record(args: argparse.Namespace) -> int:
    logging.basicConfig(level=chosen_level(args, usual=logging.WARNING, verbose=logging.INFO), format="%(message)s")
    if not args.out.parent.is_dir():
        print(f"cwsim record: --out {args.out}: there is no folder {args.out.parent} to write it in", file=sys.stderr)
        return 2
    try:
        proxy = RecordingProxy(args.upstream, args.out, LOOPBACK, args.port, args.limit)
    except OSError as error:
        print(f"cwsim record: cannot listen on {LOOPBACK} port {args.port}: {error.strerror or error}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        proxy.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.ready_file is not None:
        write_json_atomically(args.ready_file, proxy.facts())
    print(f"cwsim record: {proxy.url} -> {proxy.upstream}; Ctrl-C writes {args.out}", flush=True)
    try:
        proxy.run()
    except OSError as error:
        print(f"cwsim record: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    skipped = f" ({proxy.skipped} past --limit not recorded)" if proxy.skipped else ""
    print(f"cwsim record: {len(proxy.exchanges)} exchanges written to {args.out}{skipped}", flush=True)
    return 0
