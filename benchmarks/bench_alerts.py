"""The integration's alert intake and delivery, each as a real `cwsim-integration run` process.

- intake: wrk POSTs realistic alert events (every one with its own eventId) to an intake-only
  process (`--workers 0`), 100 to a request and one to a request; alerts/s.
- delivery: a backlog of alerts (a third raises, two thirds repeats, on 40 onboarded appliances)
  is posted to an integration working against a `cwsim serve` process; alerts/s until the backlog
  is empty, then the alert-to-ticket lag at a steady rate below that.

Targets: intake >= 3,000 alerts/s one per request (issue 16; 500 before) and in batches of 100 no
less than before (7,040-10,700 measured); delivery to the fake >= 200 alerts/s (aim for 300). The
intake figures are the median and the worst of CWSIM_BENCH_ROUNDS runs (3).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from cwsim.integration.registry import DeviceMapping, DeviceRegistry
from cwsim.integration.state_dir import StateDir
from cwsim.scenarios.processes import ManagedProcess, cwsim_command, start

from .rounds import ROUNDS, load_average, median_worst
from .wrk import run_wrk

TARGETS = {"intake, batches of 100": 7000.0, "intake, one per request": 3000.0, "delivery": 200.0}
WRK_ARGS = ["-t2", "-c8", "-d10s"]
BACKLOG = 3000  # alerts in the delivery backlog
WORKERS = 8
STEADY_RATE = 100  # alerts/s for the lag measurement
STEADY_SECONDS = 10

EVENT: dict[str, Any] = {
    "event": "repeat",
    "eventId": "__ID__",
    "alertKey": "00012E78D555:9ec6799381b492a2663a43cab4af057d:BAK0013",
    "time": "2026-01-05T13:00:00+00:00",
    "serialNumber": "00012E78D555",
    "deviceName": "acme-siris",
    "model": "S5-2",
    "family": "SIRIS",
    "clientCompanyName": "Acme Manufacturing Inc",
    "assetName": "DC01",
    "assetType": "agent",
    "volume": "9ec6799381b492a2663a43cab4af057d",
    "alertType": "backup_failed",
    "code": "BAK0013",
    "label": "Backup failed",
    "category": "agent",
    "severity": "critical",
    "emailList": "critical",
    "dateTriggered": "2026-01-05T00:00:00+00:00",
    "lastSeen": "2026-01-05T13:00:00+00:00",
    "numberSeen": 2,
    "recipients": ["backup-alerts@cwsim.example"],
}


def machine() -> str:
    return (
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()})"
    )


# -- intake -----------------------------------------------------------------------------------------


def intake_script(per_request: int) -> Path:
    """A wrk script whose every request carries `per_request` events with ids never sent before."""
    head, tail = json.dumps(EVENT).split("__ID__")
    body = '"[" .. table.concat(parts, ",") .. "]"' if per_request > 1 else "parts[1]"
    lua = f"""
local head, tail = [[{head}]], [[{tail}]]
local threads, counter = 0, 0
setup = function(thread)
  threads = threads + 1
  thread:set("prefix", "t" .. threads .. "-")
end
request = function()
  local parts = {{}}
  for i = 1, {per_request} do
    counter = counter + 1
    parts[i] = head .. (prefix or "t-") .. counter .. tail
  end
  return wrk.format("POST", "/alerts", {{["Content-Type"] = "application/json"}}, {body})
end
"""
    path = Path(tempfile.mkstemp(suffix=".lua")[1])
    path.write_text(lua)
    return path


def settings_file(workdir: Path, facts: dict[str, Any] | None) -> Path:
    if facts is None:  # intake only: ConnectWise is never called
        connectwise = {"api_url": "http://127.0.0.1:9/v4_6_release/apis/3.0", "integrator_password": "unused"}
        smtp = {"port": 9}
    else:
        login = facts["integrator"]
        connectwise = {
            "api_url": facts["api_url"],
            "company_id": facts["companyId"],
            "integrator_username": login["username"],
            "integrator_password": login["password"],
        }
        smtp = {"host": facts["smtp"]["host"], "port": facts["smtp"]["port"]}
    document = {"connectwise": connectwise, "smtp": smtp, "state_dir": str(workdir / "state"), "intake": {"port": 0}}
    path = workdir / "settings.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def start_integration(workdir: Path, facts: dict[str, Any] | None, workers: int) -> ManagedProcess:
    command = [sys.executable, "-m", "cwsim.integration.cli", "--settings", str(settings_file(workdir, facts))]
    return start("integration", [*command, "run", "--intake-port", "0", "--workers", str(workers)], workdir)


def measure_intake(per_request: int) -> float:
    workdir = Path(tempfile.mkdtemp(prefix="cwsim-bench-intake-"))
    integration = start_integration(workdir, None, workers=0)
    try:
        result = run_wrk(integration.facts["intake_url"], intake_script(per_request), WRK_ARGS)
        status = requests.get(integration.facts["status_url"], timeout=10).json()
    finally:
        integration.stop()
    if result.non_2xx or result.errors:
        print(f"  warning: {result.non_2xx} non-2xx answers {result.errors}")
    if status["duplicates"]:
        print(f"  warning: {status['duplicates']} events were duplicates; each should be new")
    return result.requests_per_second * per_request


# -- delivery -------------------------------------------------------------------------------------


class Fake:
    """A `cwsim serve` process with a quiet 40-appliance fleet, every appliance onboarded."""

    def __init__(self, workdir: Path) -> None:
        self.process = start(
            "cwsim",
            cwsim_command(
                "serve", "--port", "0", "--smtp-port", "0", "--clock", "stepped", "--siris", "30", "--alto", "10"
            ),
            workdir / "cwsim",
        )
        facts = self.facts = self.process.facts
        self.admin = requests.Session()
        self.cw = requests.Session()
        self.cw.auth = (f"{facts['companyId']}+{facts['publicKey']}", facts["privateKey"])
        self.cw.headers["clientId"] = "bench"

    def get(self, path: str, **params: Any) -> Any:
        response = self.cw.get(f"{self.facts['api_url']}/{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def onboard(self, state_dir: Path) -> list[dict[str, Any]]:
        """A configuration and a registry mapping for every appliance; their devices with assets."""
        url = self.facts["url"]
        spec = {"quiet": True, "siris": 30, "alto": 10, "unmatchedShare": 0, "silentShare": 0, "outOfServiceShare": 0}
        self.admin.post(f"{url}/_sim/fleet", json=spec, timeout=30).raise_for_status()
        devices = [
            self.admin.get(f"{url}/_sim/fleet/devices/{row['serialNumber']}", timeout=30).json()
            for row in self.admin.get(f"{url}/_sim/fleet/devices", timeout=30).json()
        ]
        registry = DeviceRegistry(StateDir.of(state_dir).create().registry)
        for device in devices:
            company = self.get("company/companies", conditions=f'name="{device["matchedCompany"]}"')[0]
            configuration = self.cw.post(
                f"{self.facts['api_url']}/company/configurations",
                json={
                    "name": device["name"],
                    "type": {"name": "Datto Appliance"},
                    "company": {"id": company["id"]},
                    "serialNumber": device["serialNumber"],
                    "deviceIdentifier": device["serialNumber"],
                },
                timeout=30,
            ).json()
            registry.put(
                DeviceMapping(
                    device["serialNumber"],
                    device["family"],
                    device["clientCompanyName"],
                    device["name"],
                    company["id"],
                    company["identifier"],
                    configuration_id=configuration["id"],
                    device_type="Device",
                    agent_type="Agent",
                )
            )
        registry.close()
        return devices

    def stop(self) -> None:
        self.process.stop()


def backlog(devices: list[dict[str, Any]], alerts: int, tag: str) -> list[dict[str, Any]]:
    """`alerts` events: per alert key a raise and two repeats, over every agent of every appliance."""
    assets = [(device, asset) for device in devices for asset in device["assets"] if asset["type"] == "agent"]
    events = []
    for number in range(alerts // 3):
        device, asset = assets[number % len(assets)]
        code = f"BAK{number // len(assets):04d}{tag}"
        key = f"{device['serialNumber']}:{asset['volume']}:{code}"
        for seen in (1, 2, 3):
            events.append(
                {
                    **EVENT,
                    "event": "raise" if seen == 1 else "repeat",
                    "eventId": f"{key}:1767571200:{'raise' if seen == 1 else 'repeat'}:{seen}",
                    "alertKey": key,
                    "serialNumber": device["serialNumber"],
                    "deviceName": device["name"],
                    "model": device["model"],
                    "family": device["family"],
                    "clientCompanyName": device["clientCompanyName"],
                    "assetName": asset["name"],
                    "volume": asset["volume"],
                    "code": code,
                    "numberSeen": seen,
                    "recipients": device["emails"]["critical"] or ["backup-alerts@cwsim.example"],
                }
            )
    events.sort(key=lambda event: event["numberSeen"])  # raises first, as they would come
    return events


def post(intake: str, events: list[dict[str, Any]], size: int = 100) -> None:
    with requests.Session() as session:
        for start_at in range(0, len(events), size):
            session.post(intake, json=events[start_at : start_at + size], timeout=30).raise_for_status()


def drain(status_url: str, timeout: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(status_url, timeout=10).json()
        if status["depth"] == 0:
            return status
        time.sleep(0.05)
    raise TimeoutError(f"the backlog did not drain in {timeout} s")


def measure_delivery(workers: int = WORKERS) -> tuple[float, dict[str, Any], dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="cwsim-bench-delivery-"))
    fake = Fake(workdir)
    integration = None
    try:
        devices = fake.onboard(workdir / "state")
        integration = start_integration(workdir, fake.facts, workers)
        intake, status_url = integration.facts["intake_url"], integration.facts["status_url"]
        events = backlog(devices, BACKLOG, "B")
        started = time.monotonic()
        post(intake, events)
        burst = drain(status_url)
        rate = len(events) / (time.monotonic() - started)
        if burst["failed"] or burst["held"] or burst["delivered"] != len(events):
            print(f"  warning: after the backlog {burst}")
        steady = backlog(devices, STEADY_RATE * STEADY_SECONDS, "S")
        began = time.monotonic()
        for second in range(STEADY_SECONDS):
            post(intake, steady[second * STEADY_RATE : (second + 1) * STEADY_RATE], size=10)
            time.sleep(max(0.0, began + second + 1 - time.monotonic()))
        calm = drain(status_url)
        tickets = fake.get("service/tickets/count", conditions='board/name="Datto Alerts"')["count"]
        if tickets != (len(events) + len(steady)) // 3:
            print(f"  warning: {tickets} tickets for {(len(events) + len(steady)) // 3} alert keys")
        return rate, burst, calm
    finally:
        if integration is not None:
            integration.stop()
        fake.stop()


def report(label: str, value: float, how: str) -> bool:
    """Print one figure against its target; True if it meets it."""
    verdict = "ok" if value >= TARGETS[label] else "BELOW TARGET"
    print(f"  {label:24} {value:8.0f} alerts/s  (target >= {TARGETS[label]:.0f})  {verdict}   [{how}]")
    return value >= TARGETS[label]


def intake_main() -> int:
    print(
        f"Alert intake benchmark (an intake-only cwsim-integration run, {ROUNDS} runs each)"
        f" on {machine()}, {load_average()}"
    )
    met = True
    for label, per_request in (("intake, batches of 100", 100), ("intake, one per request", 1)):
        rates = [measure_intake(per_request) for _ in range(ROUNDS)]
        spread = median_worst(rates, digits=0)
        how = f"wrk {' '.join(WRK_ARGS)}, {per_request} event(s) a request; median of {ROUNDS}: {spread}"
        met &= report(label, statistics.median(rates), how)
    print(f"  {load_average()}")
    return 0 if met else 1


def delivery_main() -> int:
    print(f"Alert delivery benchmark (cwsim-integration run against cwsim serve) on {machine()}")
    rate, burst, calm = measure_delivery()
    met = report("delivery", rate, f"{BACKLOG} alerts, a third raises, {WORKERS} workers, 40 appliances")

    def lag(status: dict[str, Any]) -> str:
        values = status["lag_seconds"]
        return "  ".join(f"{name} {values[name]:.3f} s" for name in ("p50", "p95", "p99"))

    print(f"  alert-to-ticket lag, draining the backlog:  {lag(burst)}")
    print(f"  alert-to-ticket lag, steady {STEADY_RATE} alerts/s:   {lag(calm)}")
    print(f"  email: {calm['mail']}")
    return 0 if met else 1


def main() -> int:
    return intake_main() | delivery_main()


if __name__ == "__main__":
    sys.exit(main())
