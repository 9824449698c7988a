"""`cwsim-integration`: the Datto → ConnectWise integration's own command (`cwsim integration ...` hands over to it).

Each subcommand lives in its own module, imported only when it runs, so `--help` and every
command start fast and load nothing they do not need (never the simulator, never Faker).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from .command_options import add_version
from .settings import SettingsError, load_settings, unknown_variable_warnings

# subcommand -> (module, one-line help). A module exposes `add_arguments(parser)` and
# `main(args, settings) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("service", "run the alert intake, the delivery workers and the portal poller until stopped"),
    "doctor": ("doctor", "check ConnectWise against the Datto setup guide; each failure with its fix"),
    "onboard": ("onboarding", "map each Datto device to a ConnectWise company and create its configuration"),
    "bill": ("billing", "add the month's offsite overage to the agreements, idempotently"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwsim-integration",
        description="The Datto BCDR → ConnectWise Manage integration: alerts to tickets and email, onboarding, "
        "overage billing. Settings come from --settings FILE and CWSIM_<SECTION>_<NAME> variables.",
    )
    add_version(parser)
    parser.add_argument("--settings", type=Path, metavar="FILE", help="a YAML or JSON settings file")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module_name)
        _module(module_name).add_arguments(command)
    return parser


def _module(name: str):
    return importlib.import_module(f"{__package__}.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(arguments)
    for line in unknown_variable_warnings():
        print(f"cwsim-integration: warning: {line}", file=sys.stderr)
    try:
        settings = load_settings(args.settings)
    except SettingsError as error:
        print(f"cwsim-integration: {error}", file=sys.stderr)
        return 2
    return _module(args.module).main(args, settings)


if __name__ == "__main__":
    sys.exit(main())
