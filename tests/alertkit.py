"""Helpers for the alert tests: a quiet stepped fleet, onboarded devices, the integration beside the fake, scoring."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

from cwsim.integration.conditions import where
from cwsim.integration.registry import DeviceMapping, DeviceRegistry
from cwsim.integration.service import IntegrationService
from cwsim.integration.settings import Settings, load_settings
from cwsim.integration.state_dir import StateDir
from cwsim.simulator.testing import WAIT_SECONDS, wait_until

BOARD = "Datto Alerts"
MARKER = re.compile(r"Datto event: (\S+)")
# Fast retries, so a test that ends a fault waits tenths of a second, not minutes.
FAST_RETRIES = {"retry_base_seconds": 0.02, "retry_max_seconds": 0.3, "hold_retry_seconds": 0.1}


def settings_file(facts: dict[str, Any], state_dir: Path, **alerts: Any) -> Path:
    """A settings file pointing the integration at one `cwsim serve` (its ready-file facts), as the dattoCW login."""
    login = facts["integrator"]
    document = {
        "connectwise": {
            "api_url": facts["api_url"],
            "company_id": facts["companyId"],
            "integrator_username": login["username"],
            "integrator_password": login["password"],
            "timeout_seconds": 10,
            "retry_attempts": 3,
            "retry_backoff_seconds": 0.02,
        },
        "datto": {
            "url": facts["portal"]["url"].removesuffix("/bcdr"),
            "public_key": facts["portal"]["publicKey"],
            "secret_key": facts["portal"]["secretKey"],
        },
        "smtp": {"host": facts["smtp"]["host"], "port": facts["smtp"]["port"]},
        "alerts": {**FAST_RETRIES, **alerts},
        "intake": {"port": 0},
        "state_dir": str(state_dir),
    }
    path = state_dir.parent / f"{state_dir.name}-settings.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def integration_settings(facts: dict[str, Any], state_dir: Path, **alerts: Any) -> Settings:
    return load_settings(settings_file(facts, state_dir, **alerts), environ={})


def quiet_fleet(admin: requests.Session, *, siris: int = 3, alto: int = 1, seed: int = 3) -> list[dict[str, Any]]:
    """A fleet where nothing happens unless the test starts it, on a stepped clock; its devices."""
    spec = {
        "quiet": True,
        "siris": siris,
        "alto": alto,
        "cloud": 0,
        "seed": seed,
        "unmatchedShare": 0,
        "hiddenShare": 0,
        "outOfServiceShare": 0,
        "silentShare": 0,
        "noScreenshotEmailShare": 0,
        "pausedShare": 0,
        "archivedShare": 0,
        "driftShare": 0,
        "rates": {"screenshotsDisabledShare": 0, "encryptedShare": 0},
    }
    admin.post("fleet", json=spec).raise_for_status()
    now = datetime.fromisoformat(admin.post("clock", json={"mode": "stepped"}).json()["now"])
    # Monday 07:00 UTC, an hour before the first backup slot, whatever day the test runs.
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=7, minute=0, second=0, microsecond=0)
    admin.post("clock", json={"set": monday.isoformat()}).raise_for_status()
    return [admin.get(f"fleet/devices/{d['serialNumber']}").json() for d in admin.get("fleet/devices").json()]


def agents(device: dict[str, Any]) -> list[dict[str, Any]]:
    return [asset for asset in device["assets"] if asset["type"] == "agent"]


def company_id(cw: requests.Session, name: str) -> tuple[int, str]:
    found = cw.get("company/companies", params={"conditions": str(where("name", "=", name))}).json()
    assert found, f"no company {name!r} in the tenant"
    return found[0]["id"], found[0]["identifier"]


def create_configuration(cw: requests.Session, device: dict[str, Any], company: int) -> int:
    body = {
        "name": device["name"],
        "type": {"name": "Datto Appliance"},
        "company": {"id": company},
        "serialNumber": device["serialNumber"],
        "deviceIdentifier": device["serialNumber"],
    }
    response = cw.post("company/configurations", json=body)
    response.raise_for_status()
    return response.json()["id"]


def onboard(cw: requests.Session, state_dir: Path, devices: list[dict[str, Any]], **mapping: Any) -> dict[str, int]:
    """What onboarding would do: a configuration per device and a registry mapping; returns serial -> company id."""
    registry = DeviceRegistry(StateDir.of(state_dir).create().registry)
    companies = {}
    try:
        for device in devices:
            company, identifier = company_id(cw, device["matchedCompany"])
            contacts = cw.get("company/contacts", params={"conditions": f"company/id={company}"}).json()
            registry.put(
                DeviceMapping(
                    serial=device["serialNumber"],
                    family=device["family"],
                    client_name=device["clientCompanyName"],
                    device_name=device["name"],
                    company_id=company,
                    company_identifier=identifier,
                    contact_id=contacts[0]["id"] if contacts else None,
                    configuration_id=create_configuration(cw, device, company),
                    device_type="Device",
                    agent_type="Agent",
                    **mapping,
                )
            )
            companies[device["serialNumber"]] = company
    finally:
        registry.close()
    return companies


def drained(status_url: str, timeout: float = 2 * WAIT_SECONDS) -> dict[str, Any]:
    """Wait until the integration's outbox has nothing left to deliver; its /status."""

    def idle() -> dict[str, Any] | None:
        status = requests.get(status_url, timeout=5).json()
        return status if status["depth"] == 0 else None

    return wait_until(idle, timeout, f"the backlog at {status_url} to drain")


@contextmanager
def integration(settings: Settings, admin: requests.Session, **options: Any) -> Iterator[IntegrationService]:
    """The integration in this process, with the fleet's sink pointed at its intake."""
    service = IntegrationService(settings, **options).start()
    try:
        admin.post("fleet/sink", json={"url": f"{service.url}/alerts", "backoffSeconds": 0.05}).raise_for_status()
        yield service
    finally:
        admin.post("fleet/sink", json={"url": None})
        service.stop()


def advance(admin: requests.Session, duration: str) -> dict[str, Any]:
    body = admin.post("clock", json={"advance": duration}, timeout=120).json()
    assert body["flushed"], body
    assert body["sink"]["failed"] == 0, body["sink"]
    return body


def alert_events(admin: requests.Session) -> list[dict[str, Any]]:
    """Every raise, repeat and clear the fleet sent (in order)."""
    return [event for event in admin.get("fleet/events", params={"since": 0}).json() if event["event"] != "usage"]


@dataclass
class Score:
    """What the integration made of the fleet's alerts, read back from ConnectWise."""

    tickets: list[dict[str, Any]]
    notes: dict[int, list[dict[str, Any]]]  # ticket id -> its notes
    markers: Counter[str] = field(default_factory=Counter)  # event id -> how many notes carry it

    def __post_init__(self) -> None:
        for notes in self.notes.values():
            for note in notes:
                self.markers.update(MARKER.findall(note.get("text") or ""))

    @property
    def xrefs(self) -> Counter[str]:
        return Counter(ticket.get("externalXRef") for ticket in self.tickets)

    def problems(self, events: list[dict[str, Any]], *, ticketed: Callable[[dict[str, Any]], bool]) -> list[str]:
        """Each ticketed event in exactly one note (its ticket's first one for a raise), others in none."""
        problems = []
        for event in events:
            expected = 1 if ticketed(event) else 0
            if self.markers[event["eventId"]] != expected:
                problems.append(f"{event['eventId']}: in {self.markers[event['eventId']]} notes, expected {expected}")
        sent = {event["eventId"] for event in events}
        problems += [
            f"a note names {marker}, which the fleet never sent" for marker in self.markers if marker not in sent
        ]
        problems += [f"{count} open tickets for {xref}" for xref, count in self.xrefs.items() if count != 1]
        return problems


def score(cw: requests.Session) -> Score:
    conditions = f'board/name="{BOARD}" and externalXRef like "Datto:%"'
    tickets = cw.get("service/tickets", params={"conditions": conditions, "pageSize": 1000, "orderBy": "id asc"}).json()
    notes = {t["id"]: cw.get(f"service/tickets/{t['id']}/notes", params={"pageSize": 1000}).json() for t in tickets}
    return Score(tickets, notes)


def backup_failure(admin: requests.Session, device: dict[str, Any], agent: dict[str, Any], attempts: int) -> None:
    """An agent's backups fail `attempts` times in a row (then succeed)."""
    admin.post(
        "fleet/incidents",
        json={
            "kind": "backup_failure",
            "serialNumber": device["serialNumber"],
            "volume": agent["volume"],
            "attempts": attempts,
        },
    ).raise_for_status()


def busy_day(admin: requests.Session, devices: list[dict[str, Any]]) -> None:
    """Backup failures on every agent, a device offline, a screenshot failure: about a hundred events in a day."""
    for device in devices:
        for agent in agents(device):
            backup_failure(admin, device, agent, attempts=3)
    admin.post(
        "fleet/incidents",
        json={"kind": "device_offline", "serialNumber": devices[-1]["serialNumber"], "duration": "PT2H"},
    ).raise_for_status()
    admin.post(
        "fleet/incidents",
        json={
            "kind": "screenshot_failure",
            "serialNumber": devices[0]["serialNumber"],
            "volume": agents(devices[0])[0]["volume"],
        },
    ).raise_for_status()


def not_screenshot(event: dict[str, Any]) -> bool:
    return event["category"] != "screenshot"
