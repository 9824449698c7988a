"""Runs django-connectwise's `cwsync` once per step, in the command's order, printing one JSON line each.

Run with the django-connectwise venv's Python. One `call_command("cwsync", step)` per step, in one
process and one database, is `manage.py cwsync` run step by step: a step that raises something other
than ConnectWiseAPIError (which would end the all-steps run) is reported and the next step still runs.
Each line holds what the command wrote and the library's warnings (a record it could not store is
only logged, so a step can "succeed" having stored nothing).
"""

import io
import json
import logging
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.management.base import CommandError  # noqa: E402
from djconnectwise.management.commands.cwsync import Command  # noqa: E402

MAX_WARNINGS = 5


class Collect(logging.Handler):
    """Keeps the distinct warnings the library logs during one step."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()[:500]
        if message not in self.messages and len(self.messages) < MAX_WARNINGS:
            self.messages.append(message)


def run_step(step: str) -> dict:
    out, err, collect = io.StringIO(), io.StringIO(), Collect()
    logging.getLogger("djconnectwise").addHandler(collect)
    crash = None
    try:
        call_command("cwsync", step, stdout=out, stderr=err)
    except CommandError:
        pass  # its "Failed to sync X: ..." line is already in stderr
    except Exception as error:
        crash = "".join(traceback.format_exception(error)[-4:])[-2000:]
    finally:
        logging.getLogger("djconnectwise").removeHandler(collect)
    return {
        "step": step,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "crash": crash,
        "warnings": collect.messages,
    }


def main() -> None:
    steps = sys.argv[1:] or list(Command().synchronizer_map)
    for step in steps:
        print(json.dumps(run_step(step)), flush=True)


if __name__ == "__main__":
    main()
