"""Every built-in scenario passes through `cwsim run`, and a deliberate mistake makes each one fail.

The mistakes are what goes wrong in real life: a wrong integration setting (a CWSIM_ variable the
scenario's expectations know nothing about), or a changed fleet setting in a copy of the file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cwsim.scenarios.scenario import builtin_names
from cwsim.simulator.testing import WAIT_SECONDS, wait_until

BUILTIN = Path(__file__).resolve().parent.parent / "scenarios" / "builtin"
RUN_TIMEOUT = 600

# scenario -> (the mistake, what it breaks). Settings go to the integration only.
MISTAKES: dict[str, tuple[dict[str, str], str]] = {
    "quickstart": ({"CWSIM_ALERTS_AGENT_ROUTE": "email"}, "tickets"),
    "alert-storm": ({"CWSIM_ALERTS_DEVICE_ROUTE": "none"}, "tickets"),
    "site-outage": ({"CWSIM_ALERTS_DEVICE_ROUTE": "email"}, "incident_tickets"),
    "cw-outage": ({"CWSIM_ALERTS_LOOKUP_BEFORE_POST": "false"}, "no_duplicates"),
    "month-end-overage": ({"CWSIM_BILLING_BINARY_UNITS": "true"}, "additions"),
    "misconfigured-integrator": ({"CWSIM_ONBOARDING_CONFIGURATION_TYPE": "Datto Devices"}, "doctor"),
    "screenshot-noise": ({"CWSIM_ALERTS_SCREENSHOT_EMAIL": "false"}, "emails"),
    "flapping-device": ({"CWSIM_ALERTS_CLOSE_ON_CLEAR": "true"}, "tickets"),
    "technician-closes": ({"CWSIM_ALERTS_CLOSE_ON_CLEAR": "true"}, "tickets"),
    "late-onboarding": ({"CWSIM_ALERTS_AGENT_ROUTE": "email"}, "tickets"),
}


def run(scenario: str, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "cwsim.scenarios.cli", "run", scenario, "--quiet"]
    command += [
        "--report",
        str(report),
        "--artifacts",
        str(tmp_path / "artifacts"),
        "--workdir",
        str(tmp_path / "work"),
    ]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CWSIM_")}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env={**environment, **(env or {})}
    )
    assert report.exists(), result.stdout + result.stderr
    return result, json.loads(report.read_text())


def test_every_built_in_scenario_has_a_negative_control() -> None:
    assert set(MISTAKES) | {"silent-device"} == set(builtin_names())


@pytest.mark.slow
@pytest.mark.parametrize("scenario", builtin_names())
def test_the_scenario_passes(scenario: str, tmp_path: Path) -> None:
    result, report = run(scenario, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["passed"] and report["expectations"]
    assert all(row["passed"] for row in report["expectations"])
    assert f"scenario {scenario}: PASSED" in result.stdout
    assert not (tmp_path / "artifacts").exists(), "artifacts are written on failure only"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(MISTAKES))
def test_a_deliberate_mistake_makes_it_fail_with_a_readable_report(scenario: str, tmp_path: Path) -> None:
    mistake, broken = MISTAKES[scenario]
    result, report = run(scenario, tmp_path, mistake)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = {row["name"] for row in report["expectations"] if not row["passed"]}
    assert broken in failed, report
    assert f"scenario {scenario}: FAILED" in result.stdout and "FAIL" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    for artifact in ("requests.json", "state.json", "mail.json", "cwsim.log", "integration.log"):
        assert (tmp_path / "artifacts" / artifact).exists(), artifact


@pytest.mark.slow
def test_silent_device_fails_when_the_device_keeps_an_alert_email(tmp_path: Path) -> None:
    """A changed fleet setting: only the screenshot list is emptied, so backup failures still raise."""
    document = yaml.safe_load((BUILTIN / "silent-device.yaml").read_text())
    for event in document["timeline"]:
        if event["action"] == "device_silent":
            event["params"]["lists"] = ["screenshotFailed"]
    changed = tmp_path / "silent-device.yaml"
    changed.write_text(yaml.safe_dump(document))
    result, report = run(str(changed), tmp_path)
    assert result.returncode == 1
    (silent,) = [row for row in report["expectations"] if row["name"] == "silent_devices_quiet"]
    assert not silent["passed"] and silent["got"]["devices raising"] == 2


@pytest.mark.slow
def test_a_scenario_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clock:\n  start: tomorrow\n  duration: P1D\nexpect: [tickets]\n")
    result = subprocess.run(
        [sys.executable, "-m", "cwsim.scenarios.cli", "run", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"{bad}:2: clock/start: expected a moment" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cwsim_scenarios_lists_each_with_a_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cwsim.scenarios.cli", "scenarios"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == builtin_names()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_everything_the_run_started(tmp_path: Path, sent: signal.Signals) -> None:
    work = tmp_path / "work"
    run = subprocess.Popen(
        [sys.executable, "-m", "cwsim.scenarios.cli", "run", "quickstart", "--quiet", "--workdir", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = [work / "cwsim.ready.json", work / "integration.ready.json"]

    def both_started() -> bool:
        assert run.poll() is None, "the run ended before it started both processes"
        return all(path.exists() for path in ready)

    wait_until(both_started, 2 * WAIT_SECONDS, "the run to start both processes")
    pids = [json.loads(path.read_text())["pid"] for path in ready]
    run.send_signal(sent)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130 and "interrupted; everything it started is stopped" in stderr
    assert "Traceback" not in stderr
    assert not any(_alive(pid) for pid in pids)
