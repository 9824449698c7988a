"""`cwsim run`: start the fakes and the integration as processes, drive simulated time, then check.

The runner steps the stepped clock slice by slice, waits (with a deadline) for the
integration's backlog to empty before the next slice (except while a ConnectWise fault window
of the scenario is open, when alerts are meant to wait), and at each month end runs the
integration's billing for that month. So the same scenario gives the same event log and the
same ConnectWise records up to ids and timestamps, however fast the machine.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

from ..integration.status import caught_up, drained
from ..simulator.atomic_files import write_json_atomically
from ..simulator.client import ApiSession, basic_auth
from ..simulator.clock import format_iso
from ..simulator.testing import Admin
from .actions import RunContext, act
from .expectations import Evidence, Outcome, evaluate, mapped_serials
from .integration_process import IntegrationFailed, RunningIntegration, run_command, write_settings
from .processes import ManagedProcess, cwsim_command, start
from .scenario import Scenario

DRAIN_TIMEOUT_SECONDS = 180.0
POLL_SECONDS = 0.1


class ScenarioAborted(RuntimeError):
    """The run could not go on (a process died, the backlog never drained); the message says why."""


@dataclass
class RunOptions:
    report: Path | None = None
    artifacts: Path | None = None
    workdir: Path | None = None
    progress: TextIO | None = None  # where the progress bar goes (None: quiet)
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS
    keep: bool = False  # leave the processes running (the demo's --keep)
    extra_settings: dict[str, Any] = field(default_factory=dict)  # test hooks: e.g. a broken routing rule


@dataclass
class RunResult:
    scenario: Scenario
    outcomes: list[Outcome]
    log: list[str]
    seconds: float
    facts: dict[str, Any]
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    def report(self) -> str:
        """The readable report: a row per expectation."""
        lines: list[str] = []
        print_report(self, lines.append)
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "expectations": [outcome.as_json() for outcome in self.outcomes],
            "log": self.log,
        }


def month_ends(start: datetime, end: datetime) -> list[datetime]:
    """The first instants of the months that begin in (start, end]."""
    found = []
    moment = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while True:
        moment = (moment + timedelta(days=32)).replace(day=1)
        if moment > end:
            return found
        if moment > start:
            found.append(moment)


class ScenarioRun:
    """One run of one scenario, from empty processes to the checked outcome."""

    def __init__(self, scenario: Scenario, options: RunOptions | None = None) -> None:
        self.scenario = scenario
        self.options = options or RunOptions()
        self.workdir = Path(self.options.workdir or tempfile.mkdtemp(prefix=f"cwsim-run-{scenario.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log: list[str] = []
        self.evidence = Evidence()
        self.processes: list[ManagedProcess] = []

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.monotonic()
        with ExitStack() as stack:
            server = self._start_server()
            stack.callback(self._stop, server)
            admin = Admin(server.facts["url"])
            self.put_stubs(admin)
            self._generate_fleet(admin)
            settings = write_settings(
                self.workdir / "integration.yaml",
                server.facts,
                self.workdir / "integration-state",
                self._integration_settings(),
            )
            command_log = self.workdir / "integration-commands.log"
            if any(check.name == "doctor" for check in self.scenario.checks):
                self.evidence.doctor = run_command(settings, "doctor", log=command_log, allowed_codes=(0, 1))
                self._note("doctor: " + ("ok" if self.evidence.doctor.get("ok") else "failures found"))
            self._onboard(admin, settings, command_log)
            integration = RunningIntegration(settings, self.workdir)
            self.processes.append(integration.process)
            stack.callback(self._stop, integration.process)
            admin.fleet.send_alerts_to(integration.intake_url, batchSize=100)
            context = self._context(admin, server, settings, command_log)
            self._drive(admin, integration, context, settings, command_log)
            self.evidence.status = integration.status()
            self.evidence.context = context
            self.evidence.settings = yaml.safe_load(settings.read_text())
            self.evidence.collect(admin, self._member_session(server))
            outcomes = evaluate(self.scenario, self.evidence)
            result = RunResult(self.scenario, outcomes, self.log, time.monotonic() - started, server.facts)
            if not result.passed and self.options.artifacts is not None:
                self._write_artifacts(admin, integration)
            if self.options.keep:
                stack.pop_all()
                result.processes = list(self.processes)
        if self.options.report is not None:
            write_json_atomically(self.options.report, result.as_json())
        return result

    def _start_server(self) -> ManagedProcess:
        scenario = self.scenario
        arguments = [
            "serve",
            "--port",
            "0",
            "--seed",
            str(scenario.seed),
            "--companies",
            str(scenario.companies),
            "--clock",
            "stepped",
            "--clock-start",
            format_iso(scenario.start),
            "--journal-size",
            "200000",
        ]
        if scenario.tenant:
            arguments += ["--tenant", scenario.tenant]
        server = start("cwsim", cwsim_command(*arguments), workdir=self.workdir)
        self.processes.append(server)
        self._note(f"cwsim serve at {server.facts['url']}")
        return server

    def put_stubs(self, admin: Admin) -> None:
        """The scenario's stubs, in place before anything else talks to the fake."""
        if self.scenario.stubs:
            admin.stubs.add(*self.scenario.stubs)
            self._note(f"stubs: {len(self.scenario.stubs)} in place")

    def _generate_fleet(self, admin: Admin) -> None:
        summary = admin.fleet.generate(seed=self.scenario.seed, **self.scenario.fleet)
        self._note(f"fleet: {summary['devices']['total']} appliances")

    def _integration_settings(self) -> dict[str, Any]:
        integration = dict(self.scenario.integration)
        settings = {section: dict(values) for section, values in integration.get("settings", {}).items()}
        for section, values in self.options.extra_settings.items():
            settings.setdefault(section, {}).update(values)
        integration["settings"] = settings
        return integration

    def _onboard(self, admin: Admin, settings: Path, command_log: Path) -> None:
        try:
            report = run_command(settings, "onboard", log=command_log, allowed_codes=(0, 1))
        except IntegrationFailed as error:
            # A setup the integration refuses to onboard against (what the doctor is for): nothing is mapped.
            self.evidence.onboarding = [{"error": str(error), "devices": [], "counts": {}}]
            self._note(f"onboarding refused: {str(error).splitlines()[-1]}")
            return
        self.evidence.onboarding = [report]
        unmatched = [device for device in report["devices"] if device["state"] == "unmatched"]
        self._note(f"onboarding: {report['counts']}")
        if unmatched and self.scenario.integration["map_unmatched"]:
            self._note(self._map_unmatched(admin, settings, command_log))

    def _map_unmatched(self, admin: Admin, settings: Path, command_log: Path) -> str:
        """What a person does after reading the report: map each unmatched client to its real company."""
        unmatched = [device for device in self.evidence.onboarding[-1]["devices"] if device["state"] == "unmatched"]
        if not unmatched:
            return "no device left to map"
        rows = {row["serialNumber"]: row for row in admin.fleet.devices()}
        mapping: dict[str, Any] = {"devices": {}}
        for device in unmatched:
            real = rows[device["serial"]].get("matchedCompany")
            mapping["devices"][device["serial"]] = {"company": real} if real else "skip"
        path = self.workdir / "mapping.yaml"
        path.write_text(yaml.safe_dump(mapping, sort_keys=True))
        second = run_command(settings, "onboard", "--mapping", str(path), log=command_log, allowed_codes=(0, 1))
        self.evidence.onboarding.append(second)
        return f"onboarding with the mapping file: {second['counts']}"

    def _context(self, admin: Admin, server: ManagedProcess, settings: Path, command_log: Path) -> RunContext:
        mapped = sorted(mapped_serials(self.evidence))
        clock = {"now": self.scenario.start}
        context = RunContext(
            admin=admin,
            api=self._member_session(server),
            rng=random.Random(f"{self.scenario.seed}:timeline"),
            now=lambda: clock["now"],
            mapped_serials=mapped,
        )
        self._clock_box = clock

        def map_late() -> str:
            line = self._map_unmatched(admin, settings, command_log)
            context.mapped_serials[:] = sorted(mapped_serials(self.evidence))
            return line

        context.map_unmatched = map_late
        return context

    def _member_session(self, server: ManagedProcess) -> ApiSession:
        facts = server.facts
        headers = {
            "Authorization": basic_auth(facts["companyId"], facts["publicKey"], facts["privateKey"]),
            "clientId": "cwsim-scenario-technician",
        }
        return ApiSession(facts["api_url"], headers)

    # -- time --------------------------------------------------------------------------------

    def _drive(
        self,
        admin: Admin,
        integration: RunningIntegration,
        context: RunContext,
        settings: Path,
        command_log: Path,
    ) -> None:
        scenario = self.scenario
        events = list(scenario.timeline)
        bills = month_ends(scenario.start, scenario.end)
        now = scenario.start
        self._progress(now)
        while now < scenario.end:
            stops = [now + scenario.step, scenario.end]
            stops += [scenario.start + event["at"] for event in events if scenario.start + event["at"] > now]
            stops += [moment for moment in bills if moment > now]
            target = min(stops)
            admin.clock.advance(_iso_duration(target - now))
            now = target
            self._clock_box["now"] = now
            self._collect_events(admin)
            # Inside a fault window every alert must meet the fault before time moves on; outside, be delivered.
            self._drain(integration, caught_up if context.fault_window_open(now) else drained)
            while events and scenario.start + events[0]["at"] <= now:
                event = events.pop(0)
                self._note(f"{format_iso(now)} {event['action']}: {act(context, event['action'], event['params'])}")
            if now in bills:
                self._bill(admin, now, settings, command_log, integration, context)
            self._progress(now)
        self._end_fault_windows(admin, context, now)
        self._drain(integration, drained)
        if self.options.progress is not None:
            self.options.progress.write("\n")

    def _collect_events(self, admin: Admin) -> None:
        """Every event the fleet sent, kept for the expectations (the server keeps only the last 10,000)."""
        while True:
            last = self.evidence.events[-1]["seq"] if self.evidence.events else 0
            batch = admin.fleet.events(since=last, limit=1000)
            if not batch:
                return
            if batch[0]["seq"] != last + 1:
                raise ScenarioAborted(
                    f"the fleet sent more events in one slice than it keeps ({batch[0]['seq'] - last - 1} lost "
                    "to the runner); give the scenario a shorter clock step"
                )
            self.evidence.events += batch

    def _end_fault_windows(self, admin: Admin, context: RunContext, now: datetime) -> None:
        """Faults still open at the end are lifted so the alerts meant to wait can be delivered."""
        if any(end > now for _, end in context.fault_windows):
            admin.call("DELETE", "faults")
            if context.login_inactive_windows and context.login_inactive_windows[-1][1] is None:
                act(context, "reactivate_login", {})
            context.fault_windows = [(start, min(end, now)) for start, end in context.fault_windows]
            self._note(f"{format_iso(now)} run ends: open faults lifted so waiting alerts drain")

    def _drain(self, integration: RunningIntegration, done: Callable[[dict[str, Any]], bool]) -> None:
        """Wait, with a deadline, until the integration's /status meets one of its documented conditions:
        `caught_up` (what is left waits for a mapping or for a fault to end) or `drained` (what is left
        waits for a mapping)."""
        deadline = time.monotonic() + self.options.drain_timeout
        while True:
            if integration.process.process.poll() is not None:
                raise ScenarioAborted(f"the integration exited:\n{integration.process.log()[-3000:]}")
            status = integration.status()
            if done(status):
                return
            if time.monotonic() > deadline:
                raise ScenarioAborted(
                    f"the integration's backlog did not drain in {self.options.drain_timeout} s: {status}"
                )
            time.sleep(POLL_SECONDS)  # polling the integration's /status with a deadline

    def _bill(
        self,
        admin: Admin,
        month_start: datetime,
        settings: Path,
        command_log: Path,
        integration: RunningIntegration,
        context: RunContext,
    ) -> None:
        month = (month_start - timedelta(days=1)).strftime("%Y-%m")
        usage = {row["serialNumber"]: row for row in admin.fleet.devices()}
        report = run_command(settings, "bill", "--month", month, log=command_log, allowed_codes=(0, 1))
        self.evidence.billing.append({"month": month, "usage": usage, "report": report})
        self._note(f"{format_iso(month_start)} billed {month}")

    # -- reporting -------------------------------------------------------------------------------

    def _note(self, line: str) -> None:
        self.log.append(line)

    def _progress(self, now: datetime) -> None:
        stream = self.options.progress
        if stream is None:
            return
        done = (now - self.scenario.start) / self.scenario.duration
        width = 30
        filled = int(done * width)
        bar = "#" * filled + "." * (width - filled)
        text = f"\r{self.scenario.name}: [{bar}] {done:4.0%}  {format_iso(now)}"
        stream.write(text if stream.isatty() else text.lstrip("\r") + "\n")
        stream.flush()

    def _write_artifacts(self, admin: Admin, integration: RunningIntegration) -> None:
        folder = Path(self.options.artifacts)
        folder.mkdir(parents=True, exist_ok=True)
        for name, path in (("requests", "requests"), ("state", "state"), ("mail", "mail")):
            try:
                (folder / f"{name}.json").write_text(json.dumps(admin.call("GET", path), indent=2))
            except (AssertionError, OSError) as error:
                (folder / f"{name}.error.txt").write_text(str(error))
        for process in self.processes:
            shutil.copy(process.log_path, folder / process.log_path.name)
        commands = self.workdir / "integration-commands.log"
        if commands.exists():
            shutil.copy(commands, folder / commands.name)

    def _stop(self, process: ManagedProcess) -> None:
        process.stop()


def _iso_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"PT{seconds}S"


def run_scenario(scenario: Scenario, options: RunOptions | None = None) -> RunResult:
    return ScenarioRun(scenario, options).run()


Printer = Callable[[str], None]


def print_report(result: RunResult, write: Printer = lambda line: print(line, file=sys.stdout)) -> None:
    """A row per expectation: expected, got, pass or fail."""
    rows = [("expectation", "expected", "got", "")]
    for outcome in result.outcomes:
        rows.append((outcome.name, str(outcome.expected), str(outcome.got), "pass" if outcome.passed else "FAIL"))
    widths = [min(max(len(row[i]) for row in rows), 60) for i in range(3)]
    write(f"scenario {result.scenario.name}: {'PASSED' if result.passed else 'FAILED'} in {result.seconds:.1f} s")
    for row in rows:
        cells = [cell if len(cell) <= 60 else cell[:57] + "..." for cell in row[:3]]
        write("  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + f"  {row[3]}")
    for outcome in result.outcomes:
        if not outcome.passed and outcome.detail:
            write(f"  {outcome.name}: {outcome.detail}")
