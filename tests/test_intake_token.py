"""The intake's token: with `intake.token` set every call but /health needs it; beyond loopback it is required."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cwsim.integration import cli, service
from cwsim.integration.intake import create_intake_app
from cwsim.integration.outbox import Outbox
from cwsim.integration.settings import IntakeSettings, Secret, SettingsError, load_settings
from cwsim.scenarios.integration_process import RunningIntegration, write_settings
from cwsim.simulator.pytest_plugin import Cwsim

from .test_alerts_intake import event

TOKEN = "intake-token-for-tests"
OWN_RUN = {"device_route": "both", "agent_route": "both", "close_on_clear": False, "workers": 1, "settings": {}}


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def client(outbox: Outbox, token: str = "") -> FlaskClient:
    return create_intake_app(outbox, IntakeSettings(token=Secret(token))).test_client()


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer"])
def test_with_a_token_alerts_without_it_are_refused_and_not_stored(outbox: Outbox, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client(outbox, TOKEN).post("/alerts", json=event(1), headers=headers)
    assert response.status_code == 401 and response.json["code"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.get_data(as_text=True)
    assert outbox.find(event(1)["alertKey"]) == []


def test_with_a_token_the_right_one_is_let_in_and_health_needs_none(outbox: Outbox) -> None:
    intake = client(outbox, TOKEN)
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    assert intake.post("/alerts", json=event(1), headers=authorized).status_code == 202
    assert intake.get("/status", headers=authorized).status_code == 200
    assert intake.get("/status").status_code == 401
    assert intake.get("/status/finished").status_code == 401
    assert intake.get("/health").status_code == 200


def test_negative_control_without_a_token_nothing_is_asked(outbox: Outbox) -> None:
    assert client(outbox).post("/alerts", json=event(1)).status_code == 202


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("intake.example", False)],
)  # fmt: skip
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert service.is_loopback(host) is loopback


def test_run_refuses_a_wildcard_address_without_a_token_before_binding() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cwsim.integration.cli", "run", "--intake-host", "0.0.0.0", "--intake-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stderr
    assert "refusing to listen on 0.0.0.0" in result.stderr and "intake.token" in result.stderr
    assert "Traceback" not in result.stderr


def test_negative_control_with_a_token_run_goes_on_to_start_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_be_made(*args: object, **kwargs: object) -> None:
        raise AssertionError("the service must not be made here: it would bind 0.0.0.0")

    monkeypatch.setattr(service, "IntegrationService", must_not_be_made)
    monkeypatch.setattr(sys, "setswitchinterval", lambda seconds: None)  # run's, not for the test process
    monkeypatch.setenv("CWSIM_INTAKE_TOKEN", TOKEN)
    with pytest.raises(AssertionError, match="must not be made"):
        cli.main(["run", "--intake-host", "0.0.0.0", "--intake-port", "0"])


def test_an_empty_token_in_the_settings_file_is_no_token(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("intake:\n  token:\n")
    assert not load_settings(path, environ={}).intake.token


@pytest.mark.parametrize("token", [" padded", "padded ", "naïve", "tab\there"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(SettingsError, match=r"intake\.token"):
        load_settings(None, environ={"CWSIM_INTAKE_TOKEN": token})


def test_cwsims_own_runs_ignore_an_exported_token(
    cwsim: Cwsim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CWSIM_INTAKE_TOKEN", TOKEN)  # as a distributed load test's shell would have it
    settings = write_settings(tmp_path / "integration.yaml", cwsim.facts, tmp_path / "state", OWN_RUN)
    integration = RunningIntegration(settings, tmp_path)
    try:
        report = integration.status()
        assert "todo" in report and report["accepted"] == 0  # answered, not a 401
    finally:
        integration.stop()
    no_token = {key: value for key, value in os.environ.items() if key != "CWSIM_INTAKE_TOKEN"}
    assert load_settings(None, environ=no_token).intake.token.reveal() == ""  # negative control: the variable is read
    assert load_settings(None, environ={**no_token, "CWSIM_INTAKE_TOKEN": TOKEN}).intake.token.reveal() == TOKEN
