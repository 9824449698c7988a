"""Starting and stopping cwsim's processes: each announces itself through a ready file."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..simulator.server import DEFAULT_SERVER, SERVER_VARIABLE, SERVERS

POLL_SECONDS = 0.02


class ProcessFailed(RuntimeError):
    """A process exited, or did not get ready in time; the message holds the end of its output."""


@dataclass(eq=False)
class ManagedProcess:
    """A child process started with `--ready-file`, and the facts it wrote there."""

    name: str
    process: subprocess.Popen[bytes]
    facts: dict[str, Any]
    log_path: Path

    def stop(self, timeout: float = 15.0) -> int:
        """SIGINT, then SIGKILL if it has not exited by `timeout`; returns the exit code."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
        finally:
            if self.process.poll() is not None:  # a second Ctrl-C mid-wait leaves it for stop_all
                _running.discard(self)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


_running: set[ManagedProcess] = set()


def stop_all() -> None:
    """Stop every process `start` started and nobody stopped: the last word of an interrupted run,
    for a signal that lands between a start and the code that would have stopped it."""
    for managed in list(_running):
        managed.stop()


def add_server_option(parser: argparse.ArgumentParser) -> None:
    """`--server` on a command that starts `cwsim serve`: the fake's WSGI server (`choose_server` applies it)."""
    parser.add_argument(
        "--server",
        dest="fake_server",
        choices=SERVERS,
        help=f"the fake's WSGI server (default: cwsim serve's, {DEFAULT_SERVER}, or ${SERVER_VARIABLE})",
    )


def choose_server(args: argparse.Namespace) -> None:
    """Every `cwsim serve` this process starts from now on uses the server `--server` named (when it named one)."""
    if getattr(args, "fake_server", None):
        os.environ[SERVER_VARIABLE] = args.fake_server


def cwsim_command(*arguments: str) -> list[str]:
    """`cwsim ...` run by this interpreter, so it works in any venv without PATH."""
    return [sys.executable, "-m", "cwsim.scenarios.cli", *arguments]


def start(
    name: str,
    command: Sequence[str],
    workdir: Path | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    """Start `command` with `--ready-file` appended and wait (with a deadline) for the file."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"cwsim-{name}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ready_file = workdir / f"{name}.ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = workdir / f"{name}.log"
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(
        [*command, "--ready-file", str(ready_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    log.close()
    managed = ManagedProcess(name, process, {}, log_path)
    _running.add(managed)
    try:
        _wait_until_ready(managed, ready_file, timeout)
    except BaseException:
        # Ctrl-C while waiting must not orphan the child: the caller never got it to stop.
        managed.stop()
        raise
    return managed


def _wait_until_ready(managed: ManagedProcess, ready_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_file.exists():
            managed.facts = json.loads(ready_file.read_text())
            return
        if managed.process.poll() is not None:
            raise ProcessFailed(
                f"{managed.name} exited with {managed.process.returncode} before it was ready:\n{managed.log()[-3000:]}"
            )
        time.sleep(POLL_SECONDS)
    raise ProcessFailed(f"{managed.name} was not ready within {timeout} s:\n{managed.log()[-3000:]}")
