"""Alerts end to end: the fleet pushes to the intake, the integration makes tickets, notes and caught mail."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from .alertkit import (
    advance,
    agents,
    alert_events,
    drained,
    integration,
    integration_settings,
    not_screenshot,
    onboard,
    quiet_fleet,
    score,
    wait_until,
)


@pytest.fixture
def devices(admin):
    return quiet_fleet(admin)


def emails_expected(events: list[dict], window: timedelta = timedelta(hours=1)) -> list[dict]:
    """The raises and repeats the hold-back lets through: one per device and alert type per hour of alert time."""
    last: dict[tuple[str, str], datetime] = {}
    sent = []
    for event in events:
        if event["event"] == "clear" or not event["recipients"]:
            continue
        moment = datetime.fromisoformat(event["time"])
        key = (event["serialNumber"], event["alertType"])
        if key in last and moment < last[key] + window:
            continue
        last[key] = moment
        sent.append(event)
    return sent


def test_alerts_become_tickets_notes_and_mail(cwsim, admin, cw, devices, tmp_path: Path) -> None:
    state = tmp_path / "state"
    companies = onboard(cw, state, devices)
    siris, other = devices[0], devices[1]
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        admin.post(
            "fleet/incidents",
            json={
                "kind": "backup_failure",
                "serialNumber": siris["serialNumber"],
                "volume": agents(siris)[0]["volume"],
                "attempts": 3,
            },
        ).raise_for_status()
        # A second agent of the same device failing in the same hour: a ticket of its own, its email held back.
        admin.post(
            "fleet/incidents",
            json={
                "kind": "backup_failure",
                "serialNumber": siris["serialNumber"],
                "volume": agents(siris)[2]["volume"],
                "attempts": 1,
            },
        ).raise_for_status()
        admin.post(
            "fleet/incidents",
            json={"kind": "device_offline", "serialNumber": other["serialNumber"], "duration": "PT3H"},
        ).raise_for_status()
        admin.post(
            "fleet/incidents",
            json={
                "kind": "screenshot_failure",
                "serialNumber": siris["serialNumber"],
                "volume": agents(siris)[1]["volume"],
                "failures": 2,
            },
        ).raise_for_status()
        advance(admin, "P2D")
        status = drained(f"{service.url}/status")

    events = alert_events(admin)
    kinds = {(event["alertType"], event["event"]) for event in events}
    assert {("backup_failed", "raise"), ("backup_failed", "repeat"), ("backup_failed", "clear")} <= kinds
    assert {("device_not_seen", "raise"), ("device_not_seen", "clear"), ("screenshot_failed", "raise")} <= kinds
    assert status["accepted"] == len(events) and status["failed"] == 0 and status["held"] == 0

    result = score(cw)
    assert result.problems(events, ticketed=not_screenshot) == []
    by_key = {ticket["externalXRef"]: ticket for ticket in result.tickets}
    assert set(by_key) == {f"Datto:{event['alertKey']}" for event in events if not_screenshot(event)}

    backup = by_key[f"Datto:{siris['serialNumber']}:{agents(siris)[0]['volume']}:BAK0013"]
    assert backup["summary"] == f"Datto SIRIS {siris['serialNumber']}: Backup failed - {agents(siris)[0]['name']}"
    assert (backup["board"]["name"], backup["status"]["name"], backup["type"]["name"]) == (
        "Datto Alerts",
        "New",
        "Agent",
    )
    assert backup["company"]["id"] == companies[siris["serialNumber"]] and backup["contact"] is not None
    assert backup["closedFlag"] is False  # closing on clear is off by default
    offline = by_key[f"Datto:{other['serialNumber']}:device:CWSIM-DEVICE-NOT-SEEN"]
    assert offline["summary"].endswith(": Device not seen - device") and offline["type"]["name"] == "Device"
    for ticket in (backup, offline):
        links = cw.get(f"service/tickets/{ticket['id']}/configurations").json()
        assert [link["deviceIdentifier"] for link in links] == [ticket["externalXRef"].split(":")[1]]

    repeat_notes = [note["text"] for note in result.notes[backup["id"]][1:] if "seen again" in note["text"]]
    assert repeat_notes and "2 time(s) so far (numberSeen)" in repeat_notes[0]
    assert any("cleared at" in note["text"] for note in result.notes[offline["id"]])

    mail = admin.get("mail").json()
    expected = emails_expected(events)
    assert sorted(m["subject"] for m in mail) == sorted(
        (
            f"Bootable Screenshot for {e['assetName']} on {e['deviceName']} ({e['serialNumber']}) failed"
            if e["category"] == "screenshot"
            else f"CRITICAL ERROR for {e['assetName'] or e['deviceName']} on {e['deviceName']} ({e['serialNumber']})"
        )
        for e in expected
    )
    assert status["mail"]["sent"] == len(expected)
    assert status["mail"]["held_back"] == sum(1 for e in events if e["event"] != "clear") - len(expected) >= 1
    screenshot_mail = [m for m in mail if m["subject"].startswith("Bootable Screenshot")]
    assert screenshot_mail and screenshot_mail[0]["to"] == siris["emails"]["screenshotFailed"]


def test_a_device_with_no_recipients_raises_nothing(cwsim, admin, cw, devices, tmp_path: Path) -> None:
    state = tmp_path / "state"
    onboard(cw, state, devices)
    device = devices[0]
    admin.patch(f"fleet/devices/{device['serialNumber']}", json={"emails": {"critical": []}}).raise_for_status()
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        admin.post(
            "fleet/incidents",
            json={
                "kind": "backup_failure",
                "serialNumber": device["serialNumber"],
                "volume": agents(device)[0]["volume"],
                "attempts": 2,
            },
        ).raise_for_status()
        advance(admin, "P1D")
        status = drained(f"{service.url}/status")
    assert alert_events(admin) == [] and status["accepted"] == 0
    assert score(cw).tickets == [] and admin.get("mail").json() == []


def test_once_a_technician_closes_the_ticket_the_next_alert_opens_a_new_one(
    cwsim, admin, cw, devices, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    onboard(cw, state, devices)
    device = devices[0]
    volume = agents(device)[0]["volume"]
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        admin.post(
            "fleet/incidents",
            json={"kind": "backup_failure", "serialNumber": device["serialNumber"], "volume": volume, "attempts": 6},
        ).raise_for_status()
        advance(admin, "PT10M")
        drained(f"{service.url}/status")
        (first,) = score(cw).tickets
        closed = cw.patch(
            f"service/tickets/{first['id']}", json=[{"op": "replace", "path": "status", "value": {"name": "Closed"}}]
        )
        assert closed.json()["closedFlag"] is True
        advance(admin, "P1D")
        drained(f"{service.url}/status")

    events = alert_events(admin)
    result = score(cw)
    assert len(result.tickets) == 2 and result.tickets[1]["closedFlag"] is False
    assert result.tickets[0]["externalXRef"] == result.tickets[1]["externalXRef"]
    first_notes, second_notes = (result.notes[ticket["id"]] for ticket in result.tickets)
    assert len(first_notes) == 1  # the raise's description; nothing was added once closed
    assert len(second_notes) == len(events) - 1
    assert all(result.markers[event["eventId"]] == 1 for event in events)


@pytest.mark.parametrize(
    ("routes", "tickets", "mails"),
    [
        ({"agent_route": "email"}, 0, 1),
        ({"agent_route": "ticket"}, 1, 0),
        ({"agent_route": "none"}, 0, 0),
    ],
)
def test_each_device_routes_its_alert_types(
    cwsim, admin, cw, devices, tmp_path: Path, routes: dict, tickets: int, mails: int
) -> None:
    state = tmp_path / "state"
    onboard(cw, state, devices, **routes)
    device = devices[0]
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        admin.post(
            "fleet/incidents",
            json={
                "kind": "backup_failure",
                "serialNumber": device["serialNumber"],
                "volume": agents(device)[0]["volume"],
                "attempts": 1,
            },
        ).raise_for_status()
        advance(admin, "PT10M")
        status = drained(f"{service.url}/status")
    assert len(score(cw).tickets) == tickets
    assert len(admin.get("mail").json()) == mails
    assert status["skipped"] == (1 if routes["agent_route"] == "none" else 0)


def test_a_clear_closes_the_ticket_when_set_to(cwsim, admin, cw, devices, tmp_path: Path) -> None:
    state = tmp_path / "state"
    onboard(cw, state, devices)
    device = devices[0]
    settings = integration_settings(cwsim.facts, state, close_on_clear=True)
    with integration(settings, admin) as service:
        admin.post(
            "fleet/incidents",
            json={"kind": "device_offline", "serialNumber": device["serialNumber"], "duration": "PT2H"},
        ).raise_for_status()
        advance(admin, "PT4H")
        drained(f"{service.url}/status")
    (ticket,) = score(cw).tickets
    assert ticket["closedFlag"] is True and ticket["status"]["name"] == "Closed"


def test_an_unmapped_device_goes_by_its_configuration_or_waits_until_onboarded(
    cwsim, admin, cw, devices, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    known, unknown = devices[0], devices[1]
    from .alertkit import company_id, create_configuration

    company, _ = company_id(cw, known["matchedCompany"])
    create_configuration(cw, known, company)  # in ConnectWise, but never onboarded
    with integration(integration_settings(cwsim.facts, state), admin) as service:
        for device in (known, unknown):
            admin.post(
                "fleet/incidents",
                json={"kind": "device_offline", "serialNumber": device["serialNumber"], "duration": "PT5H"},
            ).raise_for_status()
        advance(admin, "PT2H")
        status = wait_until(
            lambda: (s := service.board.report()) and s["held"] == 1 and s["depth"] == 1 and s, what="one held alert"
        )
        (ticket,) = score(cw).tickets
        assert ticket["company"]["id"] == company and ticket["externalXRef"].startswith(
            f"Datto:{known['serialNumber']}"
        )
        assert status["delivered"] == 1

        onboard(cw, state, [unknown])
        drained(f"{service.url}/status")
        advance(admin, "PT5H")
        status = drained(f"{service.url}/status")
    assert status["held"] == 0 and status["failed"] == 0
    assert score(cw).problems(alert_events(admin), ticketed=not_screenshot) == []


def test_finished_deliveries_are_forgotten_after_keep_days(cwsim, admin, tmp_path: Path) -> None:
    from cwsim.integration.outbox import AlertEvent, Outbox
    from cwsim.integration.state_dir import StateDir

    state = tmp_path / "state"
    old = Outbox(StateDir.of(state).create().outbox, clock=lambda: 1_000_000.0)  # long ago
    old.enqueue(AlertEvent("a", "raise", {}, "1"))
    (first,) = old.claim("w")
    old.mark_done(first.id, "w")
    old.close()
    with integration(integration_settings(cwsim.facts, state, keep_days=1), admin) as service:
        wait_until(lambda: service.outbox.get(first.id) is None, what="the old delivery to be purged")
        assert service.board.report()["states"]["done"] == 0
