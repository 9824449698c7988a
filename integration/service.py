"""`cwsim-integration run`: the alert intake, delivery workers, portal poller (optional) and month-end billing.

On start it recovers the outbox (claims a killed process left behind come back, and deliveries
caught mid-create are looked up before anything is posted again), serves the intake on loopback,
writes the ready file once the intake answers, and runs until SIGINT or SIGTERM; then the workers
finish their current delivery and give back the rest. It keeps time by the wall clock (a test may
give it another clock for month-end billing).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import requests
import waitress.server
from waitress import wasyncore

from .billing_record import BillingRecord
from .boards import BoardCatalog
from .command_options import add_log_options, chosen_level
from .connections import connectwise_client, portal_client
from .delivery import AlertDeliverer
from .holdback import EmailHoldback
from .intake import create_intake_app
from .intake_process import IntakeProcess, usable_port
from .mail import AlertMailer
from .month_end import CHECK_SECONDS, MonthEndBilling, wall_clock
from .outbox import Outbox
from .poller import AlertPoller
from .registry import DeviceRegistry
from .routing import AlertRouter
from .settings import Settings, SettingsError, redacted
from .state_dir import StateDir
from .status import IntakeCounters, StatusBoard
from .targets import DeviceDirectory
from .tickets import TicketWriter
from .workers import CircuitBreaker, DeliveryWorkers, Doorbell

__all__ = ["IntegrationService", "add_arguments", "main"]

log = logging.getLogger("cwsim.integration.service")

INTAKE_THREADS = 8
INTAKE_SERVERS = ("granian", "waitress")
# `run`'s intake: granian in a process of its own (intake_process.py). Measured under locust with
# the fake and locust on the same 2 cores: see docs/performance.md. In a thread (tests) it is waitress.
DEFAULT_INTAKE_SERVER = "granian"
LOOP_WAKEUP_SECONDS = 0.2  # how soon the serving loop notices a stop
READY_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 10.0
HOUSEKEEPING_SECONDS = 3600.0  # how often finished deliveries past alerts.keep_days are purged
SWITCH_INTERVAL_SECONDS = 0.005


class IntegrationService:
    """Everything `run` runs, startable in a thread (tests) or in the foreground (the command)."""

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int | None = None,
        intake_port: int | None = None,
        intake_host: str | None = None,
        clock: Callable[[], datetime] = wall_clock,
        billing_check_seconds: float = CHECK_SECONDS,
        intake_server: str = "waitress",
    ) -> None:
        if intake_server not in INTAKE_SERVERS:
            raise ValueError(f"intake_server is one of {', '.join(INTAKE_SERVERS)}, not {intake_server!r}")
        self.settings = settings
        alerts = settings.alerts
        self.cw = connectwise_client(settings)  # first: missing credentials stop us before anything is made
        state = StateDir.of(settings.state_dir).create()
        self.state = state
        self.outbox = Outbox(state.outbox)
        self.recovered = self.outbox.recover()
        self.registry = DeviceRegistry(state.registry)
        self.holdback = EmailHoldback(state.holdback, timedelta(minutes=alerts.email_holdback_minutes))
        self.mailer = AlertMailer(settings.smtp, self.holdback)
        self.directory = DeviceDirectory(
            self.registry, self.cw, alerts, configuration_type=settings.onboarding.configuration_type
        )
        self.doorbell = Doorbell()
        breaker = CircuitBreaker.for_settings(alerts)
        deliverer = AlertDeliverer(
            self.outbox,
            AlertRouter(alerts, self.directory.mapping),
            self.directory,
            BoardCatalog(self.cw),
            TicketWriter(self.cw),
            self.mailer,
            alerts,
            connectwise_pause=lambda: breaker.remaining,
        )
        self.workers = DeliveryWorkers(
            self.outbox, deliverer, alerts, count=workers, doorbell=self.doorbell, breaker=breaker
        )
        self.counters = IntakeCounters()
        self.board = StatusBoard(self.outbox, self.counters, workers=lambda: self.workers.running)
        host = intake_host or settings.intake.host
        port = settings.intake.port if intake_port is None else intake_port
        self.server: Any = None
        self.intake: IntakeProcess | None = None
        self.intake_failed = False
        if intake_server == "granian":
            self._intake_address = (host, usable_port(host, port))  # its process starts with the rest, in start()
        else:
            app = create_intake_app(self.outbox, settings.intake, status=self.board, on_queued=self.doorbell.ring)
            self.server = waitress.server.create_server(
                app,
                host=host,
                port=port,
                threads=INTAKE_THREADS,
                ident="cwsim-integration",
                clear_untrusted_proxy_headers=True,
            )
        self.poller: AlertPoller | None = None
        if alerts.poll_interval_seconds > 0:
            self.poller = AlertPoller(portal_client(settings), self.outbox, state.poller, on_queued=self._queued)
        self.month_end: MonthEndBilling | None = None
        self.billing_check_seconds = billing_check_seconds
        if settings.billing.bill_at_month_end:
            self.month_end = MonthEndBilling(settings, clock=clock)
        else:
            BillingRecord(state.billing).stop_watching()  # months ending while it is off are billed by hand
        self._stopping = threading.Event()
        self._serving: threading.Thread | None = None
        self._billing: threading.Thread | None = None
        self._polling: threading.Thread | None = None
        self._housekeeping: threading.Thread | None = None

    def _queued(self) -> None:
        self.board.invalidate()
        self.doorbell.ring()

    @property
    def url(self) -> str:
        if self.server is None:
            host, port = self._intake_address
        else:
            host, port = self.server.effective_host, self.server.effective_port
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"

    def facts(self) -> dict[str, Any]:
        """The ready file: where the intake is, and who is serving it."""
        return {
            "url": self.url,
            "intake_url": f"{self.url}/alerts",
            "status_url": f"{self.url}/status",
            "health_url": f"{self.url}/health",
            "pid": os.getpid(),
            "workers": self.workers.count,
            "poll_interval_seconds": self.settings.alerts.poll_interval_seconds,
            "state_dir": str(self.state.root.resolve()),
            "recovered": self.recovered,
        }

    # -- running ---------------------------------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> IntegrationService:
        """Workers, poller and intake in background threads; returns once the intake answers."""
        self.workers.start()
        if self.poller is not None:
            self._polling = threading.Thread(
                target=self.poller.run,
                args=(self.settings.alerts.poll_interval_seconds, self._stopping),
                name="portal-poller",
                daemon=True,
            )
            self._polling.start()
        if self.month_end is not None:
            since = self.month_end.start_watching()
            log.info("month-end billing on: bills each month that ended since %s UTC, once", since.isoformat())
            self._billing = threading.Thread(
                target=self.month_end.run,
                args=(self._stopping, self.billing_check_seconds),
                name="month-end-billing",
                daemon=True,
            )
            self._billing.start()
        if self.settings.alerts.keep_days > 0:
            self._housekeeping = threading.Thread(target=self._purge_old, name="housekeeping", daemon=True)
            self._housekeeping.start()
        if self.server is None:
            host, port = self._intake_address
            self.intake = IntakeProcess(
                self.state.outbox,
                self.settings.intake,
                host=host,
                port=port,
                threads=INTAKE_THREADS,
                workers=self.workers.count,
                on_queued=self.doorbell.ring,
            )
            self._serving = threading.Thread(target=self._watch_intake, name="intake", daemon=True)
        else:
            self._serving = threading.Thread(target=self._serve, name="intake", daemon=True)
        self._serving.start()
        self._wait_until_answering(timeout)
        log.info(
            "intake at %s; %d worker(s); %d delivery(ies) to look up first",
            self.url,
            self.workers.count,
            self.recovered,
        )
        return self

    def run(self, ready_file: Path | None = None) -> None:
        """`start()`, write the ready file, then serve until `request_stop()` (e.g. from a signal)."""
        self.start()
        if ready_file is not None:
            _write_json_atomically(ready_file, self.facts())
        while not self._stopping.wait(LOOP_WAKEUP_SECONDS):
            pass
        self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self) -> None:
        """Stop taking alerts, let the workers finish or give back what they hold, and close everything."""
        self._stopping.set()
        if self.intake is not None:
            self.intake.stop()
        if self._serving is not None and self._serving is not threading.current_thread():
            self._serving.join(timeout=STOP_GRACE_SECONDS)
        self.workers.stop(STOP_GRACE_SECONDS)
        for thread in (self._polling, self._housekeeping, self._billing):
            if thread is not None:
                thread.join(timeout=STOP_GRACE_SECONDS)
        if self.poller is not None:
            self.poller.close()
        self.mailer.close()
        self.cw.close()
        self.holdback.close()
        self.registry.close()
        self.outbox.close()

    def _purge_old(self) -> None:
        """Forget finished deliveries older than alerts.keep_days, now and every hour."""
        while not self._stopping.is_set():
            try:
                purged = self.outbox.purge(time.time() - self.settings.alerts.keep_days * 86400)
                if purged:
                    log.info("forgot %d finished deliveries older than %s days", purged, self.settings.alerts.keep_days)
            except Exception:
                log.exception("could not purge the outbox")
            self._stopping.wait(HOUSEKEEPING_SECONDS)

    def _watch_intake(self) -> None:
        """The intake process must live as long as the service: if it stops by itself, the service stops too."""
        assert self.intake is not None
        while not self._stopping.wait(LOOP_WAKEUP_SECONDS):
            code = self.intake.exited()
            if code is not None:
                log.error("the intake process stopped by itself (exit %s); stopping", code)
                self.intake_failed = True
                self._stopping.set()

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=LOOP_WAKEUP_SECONDS, map=self.server._map, count=1)
        finally:
            for channel in list(self.server._map.values()):
                if channel is self.server:
                    channel.close()
                else:
                    channel.handle_close()
            self.server.task_dispatcher.shutdown()

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while time.monotonic() < deadline:
                if self.intake is not None and self.intake.exited() is not None:
                    raise RuntimeError(f"the intake process exited ({self.intake.exited()}) before answering")
                try:
                    if session.get(f"{self.url}/health", timeout=1).ok:
                        return
                except requests.RequestException:
                    pass
                self._stopping.wait(0.02)  # polling our own port with a deadline
        raise TimeoutError(f"the intake did not answer on {self.url} within {timeout} s")


def _write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as file:
        json.dump(document, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)


# -- the command ----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ready-file", type=Path, metavar="FILE", help="write the intake's URLs and pid here once it answers"
    )
    parser.add_argument(
        "--intake-port", type=int, metavar="PORT", help="intake port (default: intake.port; 0 = a free one)"
    )
    parser.add_argument("--intake-host", metavar="HOST", help="intake address (default: intake.host, loopback)")
    parser.add_argument(
        "--intake-server",
        choices=INTAKE_SERVERS,
        default=DEFAULT_INTAKE_SERVER,
        help=f"the intake's HTTP server: granian in a process of its own, or waitress in this one"
        f" (default: {DEFAULT_INTAKE_SERVER})",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="delivery threads (default: alerts.workers; 0 = intake only)"
    )
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="where the outbox and records live (default: state_dir)"
    )
    add_log_options(parser, "log every delivery (the debug level)")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`; a wildcard (0.0.0.0, ::) or any other name is not."""
    if host.strip().casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def main(args: argparse.Namespace, settings: Settings) -> int:
    # Measured under locust with the intake busy too: 0.5 ms, which helps workers hand the outbox's
    # write lock on when nothing else runs, cost so many GIL hand-offs that 200 alerts/s offered
    # gave 120-145 delivered; CPython's 5 ms keeps up with 200 and lowers the p95 lag.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    level = chosen_level(args, usual=logging.INFO, verbose=logging.DEBUG)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if level <= logging.DEBUG:
        logging.getLogger("urllib3").setLevel(logging.INFO)  # its DEBUG lines are every request's URL
    if args.state_dir is not None:
        settings.state_dir = str(args.state_dir)
    if args.workers is not None and args.workers < 0:
        print("cwsim-integration run: --workers cannot be negative", file=sys.stderr)
        return 2
    host = args.intake_host or settings.intake.host
    if not is_loopback(host) and not settings.intake.token:
        print(
            f"cwsim-integration run: refusing to listen on {host}: it is not a loopback address, and without"
            " intake.token (CWSIM_INTAKE_TOKEN) anyone who reaches it could post alerts that open tickets."
            " Set a token (appliances and load tests send it as Authorization: Bearer TOKEN) or listen on 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    log.info("settings: %s", json.dumps(redacted(settings), sort_keys=True))
    try:
        service = IntegrationService(
            settings,
            workers=args.workers,
            intake_port=args.intake_port,
            intake_host=host,
            intake_server=args.intake_server,
        )
    except SettingsError as error:
        print(f"cwsim-integration run: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"cwsim-integration run: cannot start the intake: {error}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        service.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    service.run(args.ready_file)
    log.info("stopped")
    return 1 if service.intake_failed else 0
