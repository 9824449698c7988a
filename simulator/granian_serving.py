"""Serving the fake's WSGI app with granian: one forked worker, its port, and word back from it when it stops.

granian (2.8) runs the app in a forked child even with one worker, only from the main thread, and
the child leaves without running atexit handlers. So whoever uses this builds the world before
`serve()`, gives it an app loader that granian calls in the worker (start threads there, not here),
and registers what must happen when the worker stops with `at_worker_exit` (a multiprocessing
finalizer: the one exit hook a multiprocessing child runs).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .tls import LocalTls

WsgiApp = Callable[..., Iterable[bytes]]
PARENT_POLL_SECONDS = 0.5


class WorkerFailed(RuntimeError):
    """granian's worker stopped by itself (it crashed, or the app could not be loaded)."""


class GranianServing:
    """granian on `host:port` (0: a free port, chosen now) with `threads` Python threads in one worker."""

    def __init__(self, host: str, port: int, threads: int, tls: LocalTls | None = None) -> None:
        self.host = host
        self.port = _usable_port(host, port)
        self.threads = threads
        self.tls = tls
        # The worker's word on how it stopped; made before the fork so both ends are shared.
        self._report_reader, self._report_writer = multiprocessing.get_context("fork").Pipe(duplex=False)

    def serve(self, load_app: Callable[[], WsgiApp]) -> None:
        """Serve until SIGINT or SIGTERM (granian's handlers take them); `load_app` runs in the worker.

        Raises WorkerFailed when the worker stopped by itself, OSError with the worker's message when its
        exit hook failed (such as saving the state).
        """
        from granian.constants import HTTPModes, Interfaces  # here: only a granian server needs it loaded
        from granian.log import LogLevels
        from granian.server import Server

        # Its worker must be a fork of this process (it inherits the world and the sockets, and load_app is a
        # closure); granian uses the default start method, which is not fork everywhere (Python 3.14).
        multiprocessing.set_start_method("fork", force=True)
        server = Server(
            "cwsim",  # a name only: the app comes from load_app
            address=self.host,
            port=self.port,
            interface=Interfaces.WSGI,
            workers=1,
            blocking_threads=self.threads,
            http=HTTPModes.http1,
            log_level=LogLevels.error,  # not its warning that 8 threads are many for 2 cores: they wait
            workers_kill_timeout=30,
        )
        try:
            server.serve(target_loader=load_app, wrap_loader=False)
        except SystemExit as stopped:  # granian's own way of saying a worker died
            raise WorkerFailed(f"granian's worker stopped by itself (exit {stopped.code})") from None
        if not self._report_reader.poll():
            raise WorkerFailed("granian's worker did not finish stopping (it was killed); nothing was saved")
        problem = self._report_reader.recv()
        if problem:
            raise OSError(problem)

    def at_worker_exit(self, hook: Callable[[], None]) -> None:
        """In the worker: run `hook` when it stops (SIGINT or SIGTERM), and tell the main process how it went."""

        def run_and_report() -> None:
            try:
                hook()
            except OSError as error:
                self._report_writer.send(str(error.strerror or error))
            except Exception as error:
                self._report_writer.send(f"{type(error).__name__}: {error}")
            else:
                self._report_writer.send("")

        multiprocessing.util.Finalize(None, run_and_report, exitpriority=100)
        # Its own process group: a Ctrl-C (SIGINT to the terminal's group) reaches only the main process, which
        # then stops the worker with one SIGTERM. A worker hit by both at once never left granian's serve loop.
        os.setpgid(0, 0)
        threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), name="cwsim-parent", daemon=True).start()


def https_scheme(app: WsgiApp) -> WsgiApp:
    """The app as served behind the TLS proxy: granian sees plain HTTP, the client spoke HTTPS."""

    def behind_tls(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = "https"
        return app(environ, start_response)

    return behind_tls


def _stop_when_orphaned(parent: int) -> None:
    """In the worker: stop as on SIGTERM once the main process is gone (killed with SIGKILL, it cannot stop us),
    so no worker is left holding the ports and the state."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)  # polling the parent's pid; there is no portable death signal
    os.kill(os.getpid(), signal.SIGTERM)


def _usable_port(host: str, port: int) -> int:
    """`port`, checked free now (OSError when in use); for 0, a free one.

    granian binds in `serve()`, later; for port 0 it cannot say which port it got, so one is chosen here.
    """
    with socket.create_server((host, port)) as probe:
        return int(probe.getsockname()[1])
