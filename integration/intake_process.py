"""The intake in a process of its own, served by granian: the delivery workers get their process's GIL to themselves.

Profiled under locust at 250 alerts/s, the intake (waitress, Flask, the schema) held the GIL about
three fifths of the time in the one `run` process, and the delivery workers waited for it. Here
`run` starts `python -m cwsim.integration.intake_process`, whose main thread runs granian (a Rust
HTTP server; 2.8 serves only from a main thread, in a forked worker), and the worker builds its own
`Outbox` on the same SQLite file (WAL: one writer at a time, across processes too). Nothing is
acknowledged before it is committed, as in one process: the outbox's guarantees do not depend on
which process wrote a row.

- Waking the workers: the intake writes a byte to a pipe the `run` process made; a thread there
  rings the workers' doorbell for each read.
- Stopping: SIGTERM or SIGINT to the intake process (granian's handlers stop its worker). If the
  `run` process dies, even by SIGKILL, the kernel sends the intake process SIGTERM (Linux's
  parent-death signal), and its worker stops when it sees its own parent gone.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .settings import IntakeSettings, Secret

__all__ = ["IntakeProcess", "main", "usable_port"]

log = logging.getLogger("cwsim.integration.intake_process")

TOKEN_VARIABLE = "CWSIM_INTAKE_PROCESS_TOKEN"  # the token travels in the environment, never in the command line
PARENT_POLL_SECONDS = 0.5
STOP_SECONDS = 15.0
_PR_SET_PDEATHSIG = 1


class IntakeProcess:
    """The intake process seen from `run`: start it on `host:port` (0: a free port, chosen now), ring `on_queued`
    for each batch it stores, stop it."""

    def __init__(
        self,
        outbox: Path,
        settings: IntakeSettings,
        *,
        host: str,
        port: int,
        threads: int,
        workers: int,
        on_queued: Callable[[], object],
    ) -> None:
        self.host = host
        self.port = usable_port(host, port)
        reader, writer = os.pipe()
        os.set_blocking(writer, False)
        command = [
            sys.executable, "-m", "cwsim.integration.intake_process",
            "--outbox", str(outbox), "--host", host, "--port", str(self.port), "--threads", str(threads),
            "--max-batch", str(settings.max_batch), "--max-body-bytes", str(settings.max_body_bytes),
            "--workers", str(workers), "--doorbell-fd", str(writer), "--parent", str(os.getpid()),
            "--log-level", str(logging.getLogger().getEffectiveLevel()),
        ]  # fmt: skip
        environment = {**os.environ, TOKEN_VARIABLE: settings.token.reveal() if settings.token else ""}
        try:
            # Its own session: a Ctrl-C at the terminal reaches `run`, which then stops the intake first.
            self.process = subprocess.Popen(command, env=environment, pass_fds=(writer,), start_new_session=True)
        finally:
            os.close(writer)  # the intake's copy is the only writer left: its exit ends the reading thread
        self._on_queued = on_queued
        self._doorbell = threading.Thread(target=self._relay, args=(reader,), name="intake-doorbell", daemon=True)
        self._doorbell.start()

    def _relay(self, reader: int) -> None:
        with os.fdopen(reader, "rb", buffering=0) as pipe:
            while pipe.read(4096):
                self._on_queued()

    def exited(self) -> int | None:
        """Its exit code once it has stopped, else None."""
        return self.process.poll()

    def stop(self, timeout: float = STOP_SECONDS) -> int:
        """SIGTERM (granian stops its worker), then SIGKILL after `timeout`; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("the intake process did not stop within %s s; killing it", timeout)
                self.process.kill()
                self.process.wait(timeout)
        self._doorbell.join(timeout)
        return self.process.returncode


def _die_with_parent(parent: int) -> bool:
    """SIGTERM to this process when `parent` dies (Linux); False if it is gone already.

    Asked here rather than before exec (no `preexec_fn` in a process with threads): the parent may
    die before the request, hence the check after it. Elsewhere the worker's own watch still stops it.
    """
    name = ctypes.util.find_library("c")
    if name and sys.platform.startswith("linux"):
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    return os.getppid() == parent


def usable_port(host: str, port: int) -> int:
    """`port`, checked free now (OSError when in use); for 0, a free one (granian cannot say which it bound)."""
    with socket.create_server((host, port)) as probe:
        return int(probe.getsockname()[1])


# -- the intake process ----------------------------------------------------------------------------------


def _ringer(fd: int) -> Callable[[], None]:
    def ring() -> None:
        with contextlib.suppress(BlockingIOError):  # full of rings not yet read: the workers wake anyway
            os.write(fd, b"\0")

    return ring


def _stop_when_orphaned(parent: int) -> None:
    """In granian's worker: stop as on SIGTERM once the process that forked it is gone."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)  # polling the parent's pid; the worker was forked, not exec'd
    os.kill(os.getpid(), signal.SIGTERM)


def _load_app(args: argparse.Namespace) -> Callable[[], object]:
    def load() -> object:
        # In granian's worker: the outbox's connections are made here, after the fork.
        from .intake import create_intake_app
        from .outbox import Outbox
        from .status import IntakeCounters, StatusBoard

        threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), name="intake-parent", daemon=True).start()
        outbox = Outbox(args.outbox)
        settings = IntakeSettings(
            host=args.host,
            port=args.port,
            max_batch=args.max_batch,
            max_body_bytes=args.max_body_bytes,
            token=Secret(os.environ.get(TOKEN_VARIABLE, "")),
        )
        board = StatusBoard(outbox, IntakeCounters(), workers=lambda: args.workers)
        return create_intake_app(outbox, settings, status=board, on_queued=_ringer(args.doorbell_fd))

    return load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cwsim.integration.intake_process", description=__doc__)
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-batch", type=int, required=True)
    parser.add_argument("--max-body-bytes", type=int, required=True)
    parser.add_argument("--workers", type=int, default=0, help="what /status reports as the delivery workers")
    parser.add_argument("--doorbell-fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True, help="the pid of the run process: stop when it dies")
    parser.add_argument("--log-level", type=int, default=logging.INFO, help="as a number: run's own level")
    args = parser.parse_args(argv)
    if not _die_with_parent(args.parent):
        return 1
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    multiprocessing.set_start_method("fork", force=True)  # the worker must inherit the doorbell's pipe
    server = Server(
        "cwsim-integration-intake",  # a name only: the app comes from the loader
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=args.threads,
        http=HTTPModes.http1,
        log_level=LogLevels.error,
        workers_kill_timeout=int(STOP_SECONDS),
    )
    try:
        server.serve(target_loader=_load_app(args), wrap_loader=False)
    except SystemExit as stopped:
        print(f"the intake's granian worker stopped by itself (exit {stopped.code})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
