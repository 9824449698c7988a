"""The locustfiles run headless for a few seconds each, as locust subprocesses against a real fake and integration:
their stats, their exit codes, a gate that fails and gates that pass, the knee, a master with two workers, and
`cwsim load` end to end. locust is never imported here."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cwsim.scenarios.load.gates import GATE_FAILED_EXIT_CODE
from cwsim.scenarios.load_payloads import LoadFleet
from cwsim.scenarios.load_runner import AlertStack, Counters, LocustRun, drain, run_locust, start_alert_stack

pytestmark = pytest.mark.slow

SECONDS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertStack]:
    """The fake serving a small fleet, its payloads, and the integration with every appliance onboarded."""
    alert_stack = start_alert_stack(tmp_path_factory.mktemp("stack"), LoadFleet(siris=8, alto=4), workers=8)
    yield alert_stack
    alert_stack.stop()


def alerts_run(stack: AlertStack, workdir: Path, **options: Any) -> LocustRun:
    users = options.pop("users", 4)
    workers = options.pop("workers", 0)
    return LocustRun(
        "alerts",
        stack.intake,
        users=users,
        spawn_rate=users + 1,
        seconds=SECONDS,
        workdir=workdir,
        options={"payloads": stack.payloads, "sim_url": stack.fake_url, "user_rate": 10, **options},
        csv_prefix=workdir / "run",
        workers=workers,
    )


def stats_rows(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def posted(rows: dict[tuple[str, str], dict[str, str]]) -> int:
    return sum(int(row["Request Count"]) for (kind, _), row in rows.items() if kind == "POST")


def test_the_alerts_locustfile_posts_new_alerts_and_measures_each_ones_lag(stack: AlertStack, tmp_path: Path) -> None:
    before = stack.status()
    result = run_locust(alerts_run(stack, tmp_path, fail_ratio=0.01, p95_lag=5, max_backlog_growth=20, max_backlog=500))
    assert result.exit_code == 0, result.log[-3000:]
    rows = stats_rows(tmp_path / "run")
    assert {name for kind, name in rows if kind == "POST"} <= {
        "/alerts [agent]",
        "/alerts [device]",
        "/alerts [screenshot]",
    }
    assert posted(rows) > 0 and all(row["Failure Count"] == "0" for row in rows.values())
    lag = rows[("E2E", "alert→ticket")]
    assert int(lag["Request Count"]) > 0 and float(lag["95%"]) < 5000

    summary = result.summary
    assert summary is not None and summary["mode"] == "constant" and summary["offered_per_second"] == 40
    assert summary["posted"]["acknowledged"] == posted(rows)  # the CSV holds the final figures
    # 4 appliances x 10 alerts/s, paced: never above the offered 40/s (with slack for the first
    # second's burst); how close it comes depends on the machine, so only "some" is asserted below it.
    assert 0 < summary["posted"]["per_second"] <= 50
    assert summary["achieved_per_second"]["tickets"] > 0 and summary["samples"] >= 2
    assert [gate["passed"] for gate in summary["gates"]] == [True, True, True, True]
    growth = next(gate for gate in summary["gates"] if gate["name"] == "backlog growth")
    assert growth["value"] == pytest.approx(summary["steps"][0]["backlog_slope"], abs=0.001)  # over the run
    assert len(summary["steps"]) == 1 and summary["steps"][0]["offered"] == 40

    after = stack.status()
    assert after["accepted"] - before["accepted"] == summary["posted"]["acknowledged"]
    assert after["duplicates"] == before["duplicates"]  # every post was a new alert


def test_an_impossible_p95_lag_fails_the_run(stack: AlertStack, tmp_path: Path) -> None:
    result = run_locust(alerts_run(stack, tmp_path, p95_lag=0.000001, fail_ratio=0.5))
    assert result.exit_code == GATE_FAILED_EXIT_CODE, result.log[-3000:]
    summary = result.summary
    assert summary is not None and summary["exit_code"] == GATE_FAILED_EXIT_CODE
    failed = {gate["name"]: gate["passed"] for gate in summary["gates"]}
    assert failed == {"failure ratio": True, "p95 alert→ticket lag": False}
    assert "p95 alert→ticket lag" in result.log and "FAIL" in result.log  # the summary locust printed


def test_a_backlog_that_grows_fails_the_run(stack: AlertStack, tmp_path: Path) -> None:
    """Ticket creation slowed to ~20/s by a latency fault while 40 alerts/s are offered: no request fails, but the
    backlog grows and the gate says so."""
    faults = f"{stack.fake_url}/_sim/faults"
    slow = {"method": "POST", "path": "service/tickets", "effect": {"kind": "latency", "latency_ms": 400}}
    requests.post(faults, json=slow, timeout=10).raise_for_status()
    try:
        result = run_locust(alerts_run(stack, tmp_path, fail_ratio=0.01, max_backlog_growth=3))
    finally:
        requests.delete(faults, timeout=10)
        drain(stack, 60)
    assert result.exit_code == GATE_FAILED_EXIT_CODE, result.log[-3000:]
    summary = result.summary
    assert summary is not None and summary["failure_ratio"] == 0
    gates = {gate["name"]: gate for gate in summary["gates"]}
    assert gates["failure ratio"]["passed"] and not gates["backlog growth"]["passed"]
    assert gates["backlog growth"]["value"] > 3  # measured, and past the limit
    assert "backlog growth" in result.log and "FAIL" in result.log


def test_the_step_shape_stops_at_the_knee(stack: AlertStack, tmp_path: Path) -> None:
    """Ticket creation slowed to ~20/s by a latency fault: 4 alerts/s keeps up, 80 alerts/s does not."""
    faults = f"{stack.fake_url}/_sim/faults"
    slow = {"method": "POST", "path": "service/tickets", "effect": {"kind": "latency", "latency_ms": 400}}
    requests.post(faults, json=slow, timeout=10).raise_for_status()
    try:
        run = alerts_run(stack, tmp_path, users=1, rate_steps="4,80", step_seconds=3, user_rate=4)
        result = run_locust(run)
    finally:
        requests.delete(faults, timeout=10)
        drain(stack, 60)
    assert result.exit_code == 0, result.log[-3000:]  # no gates: locust's own rule, and nothing failed
    summary = result.summary
    assert summary is not None and summary["mode"] == "steps"
    calm, busy = summary["steps"]
    assert calm["offered"] == 4 and calm["keeping_up"]
    assert busy["offered"] == 80 and not busy["keeping_up"] and busy["backlog_slope"] > 20
    assert summary["knee"]["sustained"] == 4 and summary["knee"]["breaks_at"] == 80


def test_a_master_and_two_workers_merge_their_stats(stack: AlertStack, tmp_path: Path) -> None:
    result = run_locust(alerts_run(stack, tmp_path, users=6, workers=2, fail_ratio=0.01))
    assert result.exit_code == 0, result.log[-3000:]
    summary = result.summary
    assert summary is not None and len(summary["workers"]) == 2
    each = [counts["alerts"] for counts in summary["workers"].values()]
    assert all(count > 0 for count in each)  # both workers posted alerts ...
    rows = stats_rows(tmp_path / "run")
    assert posted(rows) == sum(each)  # ... and the master's CSV holds the sum of what each reported
    total = int(rows[("", "Aggregated")]["Request Count"])
    assert total == sum(counts["requests"] for counts in summary["workers"].values())
    assert int(rows[("E2E", "alert→ticket")]["Request Count"]) > 0  # the poller ran on one of them
    for index in range(2):
        assert "Got quit message from master" in run_log(tmp_path, index)


def run_log(workdir: Path, index: int) -> str:
    return (workdir / f"locust-alerts-worker-{index}.log").read_text()


def test_the_connectwise_locustfile_drives_the_fake_with_an_integrations_mix(stack: AlertStack, tmp_path: Path) -> None:
    facts = stack.fake.facts
    before = Counters.read(stack).sim
    run = LocustRun(
        "connectwise",
        facts["url"],
        users=4,
        spawn_rate=4,
        # Long enough that each of the four weighted calls comes up even on a busy machine (3 s was
        # not, with helpers and the suite sharing two cores: only the searches had run).
        seconds=2 * SECONDS,
        workdir=tmp_path,
        options={
            "cw_company": facts["companyId"],
            "cw_public_key": facts["publicKey"],
            "cw_private_key": facts["privateKey"],
            "user_rate": 25,
            "fail_ratio": 0,
            "p95": 2,
        },
        csv_prefix=tmp_path / "run",
    )
    result = run_locust(run)
    assert result.exit_code == 0, result.log[-3000:]
    rows = stats_rows(tmp_path / "run")
    calls = {
        ("GET", "GET /service/tickets?conditions"),
        ("POST", "POST /service/tickets"),
        ("POST", "POST /service/tickets/{id}/notes"),
        ("PATCH", "PATCH /service/tickets/{id}"),
    }
    assert calls <= set(rows) and all(int(rows[call]["Request Count"]) > 0 for call in calls)
    assert int(rows[("", "Aggregated")]["Failure Count"]) == 0
    summary = result.summary
    assert summary is not None and summary["offered_per_second"] == 100
    assert 0 < summary["total"]["per_second"] <= 120  # paced at 100/s: never above it (how close: the machine's)
    created = Counters.read(stack).sim["tickets_created"]["total"] - before["tickets_created"]["total"]
    assert created == int(rows[("POST", "POST /service/tickets")]["Request Count"])


def cwsim_load(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cwsim.scenarios.cli", "load", *arguments], capture_output=True, text=True, timeout=180
    )


def test_cwsim_load_alerts_runs_everything_and_accounts_for_every_alert(tmp_path: Path) -> None:
    result = cwsim_load(
        "alerts", "--users", "4", "--rate", "40", "--duration", "3s", "--p95-lag", "5s", "--max-backlog", "500",
        "--max-backlog-growth", "20",
        "--siris", "6", "--alto", "2", "--workdir", str(tmp_path / "work"),
        "--csv", str(tmp_path / "out" / "alerts"), "--html", str(tmp_path / "out" / "alerts.html"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "offered" in out and "achieved" in out and "alert→ticket lag" in out
    assert "lost 0" in out and "0 missing, 0 extra" in out and "result: PASS" in out
    for gate in ("failure ratio", "p95 alert→ticket lag", "backlog growth", "backlog at the end"):
        assert gate in out
    assert "left after the drain 0 (limit 0): pass" in out and "alerts lost 0 (limit 0): pass" in out
    assert "extra tickets 0 (limit 0): pass" in out
    assert (tmp_path / "out" / "alerts_stats.csv").exists() and (tmp_path / "out" / "alerts.html").exists()
    assert "Traceback" not in result.stderr


def test_cwsim_load_alerts_fails_by_default_past_the_p95_lag(tmp_path: Path) -> None:
    """No option but an impossible lag limit: the run fails on it, with every default gate shown."""
    result = cwsim_load(
        "alerts", "--users", "2", "--rate", "20", "--duration", "2s", "--p95-lag", "1ms",
        "--siris", "4", "--alto", "2", "--workdir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "p95 alert→ticket lag" in out and "(limit 0.001 s): FAIL" in out
    assert "backlog growth" in out and "(limit +3.0/s)" in out  # on by default: 5% of 20/s, at least 3
    assert "alerts lost 0 (limit 0): pass" in out
    assert "result: FAIL (" in out and "p95 alert→ticket lag" in out.split("result: FAIL")[1]
    assert "Traceback" not in result.stderr


def test_cwsim_load_connectwise_fails_on_an_impossible_p95(tmp_path: Path) -> None:
    result = cwsim_load("connectwise", "--users", "2", "--duration", "2s", "--p95", "1ms", "--workdir", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "p95 response time" in result.stdout and "FAIL" in result.stdout and "result: FAIL" in result.stdout
    assert (tmp_path / "connectwise_stats.csv").exists() and (tmp_path / "connectwise.html").exists()


def test_locust_never_came_into_this_process() -> None:
    assert "locust" not in sys.modules and "gevent" not in sys.modules
