"""Options both commands share (`cwsim`, `cwsim-integration`): `--version`, and `--log-level` beside `--verbose`."""

from __future__ import annotations

import argparse
import logging
from importlib import metadata

LOG_LEVELS = ("debug", "info", "warning", "error")


def installed_version() -> str:
    """cwsim's version as installed (its package metadata); "unknown" when run from a tree that is not installed."""
    try:
        return metadata.version("cwsim")
    except metadata.PackageNotFoundError:
        return "unknown"


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"{parser.prog} {installed_version()}")


def add_log_options(parser: argparse.ArgumentParser, verbose_help: str) -> None:
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.lower,
        help="log at this level and above (overrides --verbose)",
    )


def chosen_level(args: argparse.Namespace, usual: int, verbose: int) -> int:
    """The logging level: --log-level when given, else `verbose` with --verbose, else `usual`."""
    if args.log_level:
        return getattr(logging, args.log_level.upper())
    return verbose if args.verbose else usual
