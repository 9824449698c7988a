"""Running a load test: the fake and the integration as processes, locust headless as a subprocess, the drain after.

locust is never imported here (it patches the standard library through gevent when imported): it runs as
`python -m locust` with one of the locustfiles in `load/`, and reports through its CSV, HTML and a summary file.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import requests

from ..integration.status import drained
from ..simulator.testing import Admin
from .integration_process import RunningIntegration, run_command, write_settings
from .load_payloads import LoadFleet, read_payloads, ticketing, write_payloads
from .processes import ManagedProcess, ProcessFailed, cwsim_command, start

LOCUSTFILES = ("alerts", "connectwise")
LOOPBACK = "127.0.0.1"
WORKERS_WAIT_SECONDS = 30.0  # how long a master waits for its workers to connect, and they for its quit
STARTUP_SECONDS = 60.0  # locust's own start and stop, on top of the run time
DRAIN_POLL_SECONDS = 0.1
HTTP_TIMEOUT = 10.0


def locustfile(name: str) -> Path:
    """The installed path of a locustfile (`alerts` or `connectwise`)."""
    if name not in LOCUSTFILES:
        raise ValueError(f"no locustfile {name!r}; there are {', '.join(LOCUSTFILES)}")
    return Path(__file__).resolve().parent / "load" / f"{name}.py"


class LoadSetupFailed(RuntimeError):
    """The fake, the onboarding or the integration could not be made ready; the message says which and why."""


# -- the processes under load ---------------------------------------------------------------------------


def start_fake(workdir: Path, arguments: Sequence[str] = ()) -> ManagedProcess:
    """`cwsim serve` on loopback, free ports, a small journal (the load would only churn it)."""
    command = cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--journal-size", "1000", *arguments)
    return start("cwsim", command, workdir)


@dataclass
class AlertStack:
    """The fake (serving the load fleet), the payloads drawn from that fleet, and the integration, onboarded."""

    workdir: Path
    fake: ManagedProcess
    integration: RunningIntegration
    payloads: Path
    alerts: dict[str, Any]  # what the payload file holds

    @property
    def intake(self) -> str:
        return self.integration.facts["url"]

    @property
    def fake_url(self) -> str:
        return self.fake.facts["url"]

    def status(self) -> dict[str, Any]:
        return self.integration.status()

    def sim_stats(self) -> dict[str, Any]:
        return requests.get(f"{self.fake_url}/_sim/stats", timeout=HTTP_TIMEOUT).json()

    def stop(self) -> None:
        self.integration.stop()
        self.fake.stop()


def start_alert_stack(workdir: Path, fleet: LoadFleet, workers: int, intake_server: str | None = None) -> AlertStack:
    """Start the fake, draw the payloads, onboard every appliance, start the integration with `workers` threads
    (and its intake on `intake_server`, default `run`'s)."""
    workdir.mkdir(parents=True, exist_ok=True)
    fake = start_fake(workdir, fleet.serve_arguments())
    integration = None
    try:
        payloads = workdir / "payloads.json"
        alerts = write_payloads(fleet, payloads)
        served = {row["serialNumber"] for row in Admin(fake.facts["url"]).fleet.devices()}
        strangers = {alert["serialNumber"] for alert in read_payloads(payloads)} - served
        if strangers:
            raise LoadSetupFailed(f"the payloads name appliances the fake does not serve: {sorted(strangers)[:3]}")
        # Straight to the fake, not through its fault proxy: one hop less, and no faults are wanted here.
        facts = {**fake.facts, "fault_proxy_url": None}
        integration_settings = {
            "device_route": "both",
            "agent_route": "both",
            "close_on_clear": False,
            "workers": workers,
            "settings": {},
        }
        settings = write_settings(
            workdir / "integration.yaml", facts, workdir / "integration-state", integration_settings
        )
        report = run_command(settings, "onboard", log=workdir / "integration-commands.log", allowed_codes=(0, 1))
        mapped = {device["serial"] for device in report["devices"] if device["state"] in ("onboarded", "unchanged")}
        unmapped = {alert["serialNumber"] for alert in read_payloads(payloads)} - mapped
        if unmapped:
            raise LoadSetupFailed(f"onboarding left {len(unmapped)} appliance(s) unmapped: {report['counts']}")
        integration = RunningIntegration(settings, workdir, intake_server)
        return AlertStack(workdir, fake, integration, payloads, alerts)
    except BaseException:
        if integration is not None:
            integration.stop()
        fake.stop()
        raise


# -- locust ---------------------------------------------------------------------------------------------


@dataclass
class LocustRun:
    """One headless locust run of a locustfile: who, how many, how long, what to write."""

    locustfile: str
    host: str
    users: int  # locust's -u (the alerts locustfile adds its poller on top)
    spawn_rate: float
    seconds: float
    workdir: Path
    options: dict[str, Any] = field(default_factory=dict)  # the locustfile's own options, without the dashes
    csv_prefix: Path | None = None
    html: Path | None = None
    tags: list[str] = field(default_factory=list)
    workers: int = 0  # above 0: a master and this many worker processes (locust's distributed mode, on loopback)
    master_port: int = 0  # the master's port for its workers (0: a free one, found when the run starts)

    @property
    def summary_file(self) -> Path:
        return self.workdir / f"{self.locustfile}-summary.json"

    @property
    def log_file(self) -> Path:
        return self.workdir / f"locust-{self.locustfile}.log"

    def worker_log_file(self, index: int) -> Path:
        return self.workdir / f"locust-{self.locustfile}-worker-{index}.log"

    def command(self) -> list[str]:
        """The locust command: the only process, or with `workers` the master (which runs no users itself)."""
        command = [
            sys.executable, "-m", "locust", "-f", str(locustfile(self.locustfile)),
            "--headless", "--only-summary", "--host", self.host,
            "-u", str(self.users), "-r", f"{self.spawn_rate:g}", "-t", f"{max(1, round(self.seconds))}s",
            "--stop-timeout", "5", "--summary-file", str(self.summary_file),
        ]  # fmt: skip
        if self.csv_prefix is not None:
            command += ["--csv", str(self.csv_prefix)]
        if self.html is not None:
            command += ["--html", str(self.html)]
        if self.tags:
            command += ["--tags", *self.tags]
        for name, value in self.options.items():
            if value is not None and value != "":
                command += [f"--{name.replace('_', '-')}", str(value)]
        if self.workers:
            command += [
                "--master", "--master-bind-host", LOOPBACK, "--master-bind-port", str(self.master_port),
                "--expect-workers", str(self.workers), "--expect-workers-max-wait", f"{WORKERS_WAIT_SECONDS:g}",
            ]  # fmt: skip
        return command

    def worker_command(self) -> list[str]:
        """A worker: it runs the users and takes every option of the locustfile from the master."""
        return [
            sys.executable, "-m", "locust", "-f", str(locustfile(self.locustfile)),
            "--worker", "--master-host", LOOPBACK, "--master-port", str(self.master_port),
        ]  # fmt: skip


@dataclass
class LocustResult:
    exit_code: int
    summary: dict[str, Any] | None  # None when locust wrote none (it failed before quitting cleanly)
    log: str


LOAD_EXTRA_HINT = "locust is not installed (the core install leaves it out): pip install 'cwsim[load]'"


def locust_missing() -> str | None:
    """A one-line message when locust is not installed beside cwsim (the `load` extra), else None."""
    return None if importlib.util.find_spec("locust") is not None else LOAD_EXTRA_HINT


def run_locust(run: LocustRun, timeout: float | None = None) -> LocustResult:
    """Run locust to the end (bounded: the run time plus its start and stop, then it is killed)."""
    run.workdir.mkdir(parents=True, exist_ok=True)
    run.summary_file.unlink(missing_ok=True)
    for path in (run.csv_prefix, run.html):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    limit = timeout if timeout is not None else run.seconds + STARTUP_SECONDS
    if run.workers and not run.master_port:
        run.master_port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # cwd: the workdir, so a locust.conf lying in the caller's folder changes nothing.
        processes.append(_spawn(run.command(), run.log_file, run.workdir))
        for index in range(run.workers):
            processes.append(_spawn(run.worker_command(), run.worker_log_file(index), run.workdir))
        try:
            code = processes[0].wait(timeout=limit)
            for worker in processes[1:]:
                worker.wait(timeout=WORKERS_WAIT_SECONDS)  # the master's quit message ends them
        except subprocess.TimeoutExpired:
            code = processes[0].returncode if processes[0].returncode is not None else -9
    finally:  # a timeout, or Ctrl-C here: locust goes too
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    summary = orjson.loads(run.summary_file.read_bytes()) if run.summary_file.exists() else None
    return LocustResult(code, summary, run.log_file.read_text(errors="replace"))


def _spawn(command: list[str], log_file: Path, workdir: Path) -> subprocess.Popen[bytes]:
    with log_file.open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)


def free_port() -> int:
    """A port free on loopback now (the master binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


# -- after the load ---------------------------------------------------------------------------------------


@dataclass
class Counters:
    """Both sides' totals at one moment."""

    status: dict[str, Any]
    sim: dict[str, Any]

    @classmethod
    def read(cls, stack: AlertStack) -> Counters:
        return cls(stack.status(), stack.sim_stats())


def drain(stack: AlertStack, timeout: float) -> tuple[bool, float]:
    """Wait (with a deadline) until the integration has nothing left to deliver; (drained, seconds waited)."""
    started = time.monotonic()
    while True:
        if stack.integration.process.process.poll() is not None:
            raise ProcessFailed(f"the integration exited:\n{stack.integration.process.log()[-3000:]}")
        if drained(stack.status()):
            return True, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return False, time.monotonic() - started
        time.sleep(DRAIN_POLL_SECONDS)  # polling /status with a deadline


def account(
    summary: dict[str, Any], before: Counters, after: Counters, drained: bool, seconds: float
) -> dict[str, Any]:
    """Every alert locust saw acknowledged, followed to the outbox and to ConnectWise: lost, missing, extra."""
    status, was = after.status, before.status

    def grew(name: str) -> int:
        return int(status[name]) - int(was[name])

    acknowledged = summary["posted"]["acknowledged"]
    delivered, failed, skipped = grew("delivered"), grew("failed"), grew("skipped")
    depth = int(status["depth"])
    expected = sum(count for category, count in summary["posted"]["by_category"].items() if ticketing(category))
    created = after.sim["tickets_created"]["total"] - before.sim["tickets_created"]["total"]
    comparable = drained and depth == 0 and failed == 0
    return {
        "drained": drained and depth == 0,
        "seconds": round(seconds, 3),
        "depth": depth,
        "acknowledged": acknowledged,
        "delivered": delivered,
        "failed": failed,
        "skipped": skipped,
        # Acknowledged yet neither finished nor still waiting in the outbox: gone.
        "lost": max(0, acknowledged - (delivered + failed + skipped + depth)),
        "tickets_expected": expected,
        "tickets_created": created,
        "missing_tickets": max(0, expected - created) if comparable else None,
        "extra_tickets": max(0, created - expected) if comparable else None,
        "mail_caught": after.sim["mail_caught"]["total"] - before.sim["mail_caught"]["total"],
    }
