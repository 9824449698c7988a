"""Polling the portal's alert lists: raises and clears from the documented shape, one delivery when also pushed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cwsim.integration.connections import portal_client
from cwsim.integration.outbox import Outbox
from cwsim.integration.poller import AlertPoller

from .alertkit import (
    advance,
    agents,
    alert_events,
    drained,
    integration,
    integration_settings,
    onboard,
    quiet_fleet,
    score,
    wait_until,
)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def test_an_alert_that_appears_is_raised_and_one_that_goes_is_cleared(cwsim, admin, outbox, tmp_path: Path) -> None:
    devices = quiet_fleet(admin)
    serial = devices[0]["serialNumber"]
    poller = AlertPoller(portal_client(integration_settings(cwsim.facts, tmp_path / "state")), outbox, tmp_path / "p")
    assert poller.poll_once() == 0
    admin.post("fleet/incidents", json={"kind": "device_offline", "serialNumber": serial, "duration": "PT3H"})
    advance(admin, "PT2H")
    assert poller.poll_once() == 1
    assert poller.poll_once() == 0  # still active: nothing new
    (raised,) = outbox.find(f"{serial}:portal:DEVICE-NOT-SEEN-ALERT")
    payload = raised.payload
    assert (payload["event"], payload["category"], payload["serialNumber"]) == ("raise", "device", serial)
    assert payload["label"] == "Device Not Seen Alert (60 Minutes)" and payload["deviceName"] == devices[0]["name"]

    restarted = AlertPoller(poller.portal, outbox, tmp_path / "p")  # what was active survives a restart
    advance(admin, "PT2H")
    assert restarted.poll_once() == 1
    _, clear = outbox.find(f"{serial}:portal:DEVICE-NOT-SEEN-ALERT")
    assert clear.event == "clear" and clear.occurrence.endswith(":clear:1")
    assert restarted.poll_once() == 0


def test_with_the_portal_details_a_polled_raise_is_the_pushed_one(cwsim, admin, outbox, tmp_path: Path) -> None:
    devices = quiet_fleet(admin)
    device = devices[0]
    admin.patch("fleet/portal", json={"alertDetails": True}).raise_for_status()
    poller = AlertPoller(portal_client(integration_settings(cwsim.facts, tmp_path / "state")), outbox, tmp_path / "p")
    admin.post(
        "fleet/incidents",
        json={
            "kind": "backup_failure",
            "serialNumber": device["serialNumber"],
            "volume": agents(device)[0]["volume"],
            "attempts": 4,
        },
    ).raise_for_status()
    advance(admin, "PT30M")
    assert poller.poll_once() == 1
    pushed = next(event for event in alert_events(admin) if event["event"] == "raise")
    (polled,) = outbox.find(pushed["alertKey"])
    assert polled.occurrence == pushed["eventId"] and polled.payload["category"] == "agent"
    assert polled.payload["assetName"] == agents(device)[0]["name"]


def test_the_service_polls_when_asked_to_and_tickets_what_it_finds(cwsim, admin, tmp_path: Path) -> None:
    devices = quiet_fleet(admin)
    state = tmp_path / "state"
    onboard(cwsim.session(), state, devices)
    settings = integration_settings(cwsim.facts, state, poll_interval_seconds=0.05)
    with integration(settings, admin) as service:
        admin.post("fleet/sink", json={"url": None})  # the portal is the only way in
        serial = devices[1]["serialNumber"]
        admin.post("fleet/incidents", json={"kind": "device_offline", "serialNumber": serial, "duration": "PT3H"})
        advance(admin, "PT2H")
        wait_until(lambda: service.board.report()["delivered"] >= 1, what="the polled alert to be delivered")
        advance(admin, "PT2H")
        wait_until(lambda: service.board.report()["delivered"] >= 2, what="the polled clear to be delivered")
        drained(f"{service.url}/status")
    (ticket,) = score(cwsim.session()).tickets
    assert ticket["summary"] == f"Datto {devices[1]['family']} {serial}: Device Not Seen Alert (60 Minutes) - device"
    notes = cwsim.session().get(f"service/tickets/{ticket['id']}/notes").json()
    assert len(notes) == 2 and "cleared at" in notes[1]["text"]
