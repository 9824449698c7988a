"""The integration as a scenario runs it: its settings file, its commands, its running service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

from .processes import ManagedProcess, start

COMMAND_TIMEOUT_SECONDS = 300


def integration_command(*arguments: str) -> list[str]:
    """`cwsim-integration ...` run by this interpreter."""
    return [sys.executable, "-m", "cwsim.integration.cli", *arguments]


def write_settings(path: Path, server_facts: dict[str, Any], state_dir: Path, scenario_integration: dict) -> Path:
    """The integration's settings for a scenario: pointed at the fakes, by URL only, as in production."""
    login = server_facts["integrator"]
    portal = server_facts["portal"]
    settings: dict[str, Any] = {
        "connectwise": {
            # Through the fault proxy, so connection-level faults (resets, empty answers) reach it too.
            "site": server_facts.get("fault_proxy_url") or server_facts["url"],
            "company_id": server_facts["companyId"],
            "client_id": "cwsim-scenario",
            "integrator_username": login["username"],
            "integrator_password": login["password"],
            "public_key": server_facts["publicKey"],
            "private_key": server_facts["privateKey"],
        },
        "datto": {
            "url": portal["url"].removesuffix("/bcdr"),
            "public_key": portal["publicKey"],
            "secret_key": portal["secretKey"],
        },
        "smtp": {"host": server_facts["smtp"]["host"], "port": server_facts["smtp"]["port"]},
        "alerts": {
            "device_route": scenario_integration["device_route"],
            "agent_route": scenario_integration["agent_route"],
            "close_on_clear": scenario_integration["close_on_clear"],
            "workers": scenario_integration["workers"],
        },
        "intake": {"host": "127.0.0.1", "port": 0},
        "state_dir": str(state_dir),
    }
    for section, values in scenario_integration.get("settings", {}).items():
        if isinstance(values, dict):
            settings.setdefault(section, {}).update(values)
        else:
            settings[section] = values
    # The runners bill by the simulated clock at each simulated month end (`bill --month`); the
    # service's wall-clock billing would bill a real month end against the fakes, so it is always off.
    settings.setdefault("billing", {})["bill_at_month_end"] = False
    path.write_text(yaml.safe_dump(settings, sort_keys=True))
    return path


class IntegrationFailed(RuntimeError):
    """An integration command failed in a way the scenario did not expect."""


def run_command(settings: Path, *arguments: str, log: Path, allowed_codes: tuple[int, ...] = (0,)) -> Any:
    """Run `cwsim-integration --settings F <arguments> --json`, append its output to `log`, return its JSON."""
    command = integration_command("--settings", str(settings), *arguments, "--json")
    result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS)
    with log.open("a") as handle:
        handle.write(f"$ cwsim-integration {' '.join(arguments)} --json  (exit {result.returncode})\n")
        handle.write(result.stdout + result.stderr + "\n")
    if result.returncode not in allowed_codes:
        raise IntegrationFailed(
            f"cwsim-integration {' '.join(arguments)} exited {result.returncode}:\n{result.stderr[-2000:]}"
        )
    try:
        return json.loads(result.stdout)
    except ValueError as error:
        raise IntegrationFailed(
            f"cwsim-integration {' '.join(arguments)} printed no JSON:\n{result.stdout[-2000:]}"
        ) from error


class RunningIntegration:
    """`cwsim-integration run` as a process: its intake URL and its /status."""

    def __init__(self, settings: Path, workdir: Path, intake_server: str | None = None) -> None:
        # Always on 127.0.0.1, and cwsim's own callers (the fleet's sink, /status) send no token:
        # one the user exported for a distributed load test must not lock them out.
        server = ["--intake-server", intake_server] if intake_server else []
        self.process: ManagedProcess = start(
            "integration",
            integration_command("--settings", str(settings), "run", *server),
            workdir=workdir,
            env={"CWSIM_INTAKE_TOKEN": ""},
        )
        self.facts = self.process.facts
        self.http = requests.Session()

    @property
    def intake_url(self) -> str:
        return self.facts["intake_url"]

    def status(self) -> dict[str, Any]:
        """/status read fresh (not the half-second cache meant for pollers under load)."""
        return self.http.get(self.facts["status_url"], params={"fresh": "1"}, timeout=10).json()

    def stop(self) -> int:
        return self.process.stop()
