"""`kill -9` of a real `cwsim-integration run` mid-run, after it acknowledged alerts, then a restart: one each still."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start
from cwsim.simulator.pytest_plugin import ApiSession, basic_auth

from .alertkit import (
    advance,
    alert_events,
    busy_day,
    drained,
    not_screenshot,
    onboard,
    quiet_fleet,
    score,
    settings_file,
    wait_until,
)

pytestmark = pytest.mark.slow


def outbox_states(state_dir: Path) -> dict[str, int]:
    """The outbox's rows per state, read beside the running process (WAL lets a reader in)."""
    with sqlite3.connect(f"file:{state_dir / 'outbox.sqlite3'}?mode=ro", uri=True) as connection:
        return dict(connection.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall())


def integration_process(settings: Path, workdir: Path) -> ManagedProcess:
    command = [sys.executable, "-m", "cwsim.integration.cli", "--settings", str(settings), "run", "--intake-port", "0"]
    return start("integration", command, workdir=workdir)


def test_kill_9_mid_run_and_a_restart_leave_every_alert_one_ticket_or_note(tmp_path: Path) -> None:
    server = start(
        "cwsim", cwsim_command("serve", "--port", "0", "--smtp-port", "0", "--clock", "stepped"), tmp_path / "cwsim"
    )
    processes = [server]
    try:
        facts = server.facts
        admin = ApiSession(facts["url"] + "/_sim", {})
        cw = ApiSession(
            facts["api_url"],
            {"Authorization": basic_auth(facts["companyId"], facts["publicKey"], facts["privateKey"]), "clientId": "t"},
        )
        devices = quiet_fleet(admin)
        state = tmp_path / "state"
        onboard(cw, state, devices)
        settings = settings_file(facts, state)

        first = integration_process(settings, tmp_path / "first")
        processes.append(first)
        # Slow creates, so the kill finds workers between "create sent" and the answer.
        slow = {"method": "POST", "collection": "service/tickets", "effect": {"kind": "latency", "latency_ms": 150}}
        admin.post("faults", json=slow).raise_for_status()
        admin.post("fleet/sink", json={"url": first.facts["intake_url"]}).raise_for_status()
        busy_day(admin, devices)
        advance(admin, "P1D")  # returns once the intake has acknowledged every event
        events = alert_events(admin)
        wait_until(
            lambda: (s := outbox_states(state)).get("done", 0) >= 5 and s.get("create_sent", 0) >= 1,
            what="the integration mid-run",
        )
        first.process.kill()  # SIGKILL: no cleanup of any kind
        first.process.wait(10)
        before = outbox_states(state)
        assert before.get("create_sent", 0) >= 1 and sum(before.values()) == len(events)
        assert before.get("done", 0) + before.get("skipped", 0) < len(events)

        admin.delete("faults").raise_for_status()
        second = integration_process(settings, tmp_path / "second")
        processes.append(second)
        assert second.facts["recovered"] == before["create_sent"]
        status = drained(second.facts["status_url"])
        assert second.stop() == 0  # SIGINT: a clean stop
        assert status["failed"] == 0 and status["accepted"] == 0  # the second run delivered what the first took
        assert score(cw).problems(events, ticketed=not_screenshot) == []
    finally:
        for process in reversed(processes):
            process.stop()
    for process in (first, second):
        assert facts["integrator"]["password"] not in process.log()
