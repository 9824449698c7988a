"""The pure parts of alert delivery: words (summary, xref, subjects), routing, and the email hold-back."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cwsim.integration.alerts import Alert
from cwsim.integration.holdback import EmailHoldback
from cwsim.integration.mail import alert_message, alert_subject
from cwsim.integration.registry import DeviceMapping
from cwsim.integration.routing import AlertRouter
from cwsim.integration.settings import AlertSettings
from cwsim.integration.workers import CircuitBreaker

from .test_alerts_intake import EVENT

T0 = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)


def alert(**changes: object) -> Alert:
    return Alert({**EVENT, **changes})


def test_the_summary_is_the_guide_s_shape_and_at_most_100_characters() -> None:
    assert alert().summary() == "Datto SIRIS 00012E78D555: Backup failed - DC01"
    assert alert(assetName=None).summary() == "Datto SIRIS 00012E78D555: Backup failed - device"
    long = alert(label="Backup failed " * 12).summary()
    assert len(long) == 100 and long.endswith("...")


def test_the_external_reference_is_the_alert_key_or_its_hash() -> None:
    assert alert().ticket_xref == f"Datto:{EVENT['alertKey']}"
    key = "00012E78D555:" + "f" * 32 + ":" + "C" * 80
    xref = alert(alertKey=key).ticket_xref
    assert len(xref) <= 100 and xref.startswith("Datto:00012E78D555:") and xref == alert(alertKey=key).ticket_xref


def test_every_description_and_note_ends_with_its_event_marker() -> None:
    for event in ("raise", "repeat", "clear"):
        subject = alert(event=event)
        assert subject.note_text().endswith(f"Datto event: {EVENT['eventId']}")
        assert subject.description().endswith(f"Datto event: {EVENT['eventId']}")
    assert "2 time(s) so far (numberSeen)" in alert(event="repeat").note_text()


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        ({}, "CRITICAL ERROR for DC01 on acme-siris (00012E78D555)"),
        ({"severity": "warning"}, "Warning for DC01 on acme-siris (00012E78D555)"),
        ({"assetName": None, "category": "device"}, "CRITICAL ERROR for acme-siris on acme-siris (00012E78D555)"),
        (
            {"category": "screenshot", "severity": "info"},
            "Bootable Screenshot for DC01 on acme-siris (00012E78D555) failed",
        ),
    ],
)
def test_subjects_follow_the_appliance_s_formats(changes: dict, subject: str) -> None:
    assert alert_subject(alert(**changes)) == subject


def test_an_email_s_message_id_is_the_same_for_the_same_event() -> None:
    first, again = alert_message(alert(), "noreply@x.example"), alert_message(alert(), "noreply@x.example")
    assert first["Message-ID"] == again["Message-ID"] and first["To"] == "backup-alerts@cwsim.example"
    assert first["Message-ID"] != alert_message(alert(eventId="other"), "noreply@x.example")["Message-ID"]


def test_an_email_reads_back_the_same_whatever_its_characters() -> None:
    """ASCII addresses take the quick compat32 message; any other address or name takes EmailMessage's encoding."""
    cases = [
        ("noreply@x.example", ["backup-alerts@cwsim.example"], "for DC01 on Zoë-siris (00012E78D555)"),
        ("Zoë Alerts <noreply@x.example>", ["ops@x.example"], "Zoë-siris"),
        ("noreply@x.example", ["zoë@exämple.example"], "Zoë-siris"),
    ]
    for sender, recipients, subject_part in cases:
        message = alert_message(alert(recipients=recipients, deviceName="Zoë-siris"), sender)
        back = email.message_from_bytes(message.as_bytes(policy=email.policy.SMTPUTF8), policy=email.policy.default)
        assert (back["From"], back["To"]) == (sender, ", ".join(recipients))
        assert subject_part in back["Subject"] and "Zoë-siris" in back.get_content()


def mapping(**routes: str) -> DeviceMapping:
    return DeviceMapping("00012E78D555", "SIRIS", "Acme", "acme-siris", 5, "Acme", **routes)


@pytest.mark.parametrize(
    ("changes", "device", "expected"),
    [
        ({}, None, (True, True)),
        ({"category": "screenshot"}, None, (False, True)),
        ({"category": "screenshot", "recipients": []}, None, (False, False)),
        ({"event": "clear"}, None, (True, False)),
        ({"recipients": []}, None, (True, False)),
        ({}, mapping(agent_route="email"), (False, True)),
        ({}, mapping(agent_route="none"), (False, False)),
        ({"category": "device"}, mapping(agent_route="none", device_route="ticket"), (True, False)),
    ],
)
def test_the_router(changes: dict, device: DeviceMapping | None, expected: tuple[bool, bool]) -> None:
    route = AlertRouter(AlertSettings(), lambda serial: device).route(alert(**changes))
    assert (route.ticket, route.email) == expected


def test_the_hold_back_counts_alert_time_and_survives_a_restart(tmp_path: Path) -> None:
    holdback = EmailHoldback(tmp_path / "h.sqlite3")
    assert holdback.reserve("S1", "backup_failed", T0, delivery_id=1)
    assert holdback.reserve("S1", "backup_failed", T0, delivery_id=1)  # the same delivery, retried
    assert not holdback.reserve("S1", "backup_failed", T0 + timedelta(minutes=59), delivery_id=2)
    assert holdback.reserve("S1", "low_local_space", T0 + timedelta(minutes=1), delivery_id=3)  # another type
    assert holdback.reserve("S2", "backup_failed", T0, delivery_id=4)  # another device
    holdback.close()
    again = EmailHoldback(tmp_path / "h.sqlite3")
    assert not again.reserve("S1", "backup_failed", T0 - timedelta(minutes=5), delivery_id=5)  # late, still held
    assert again.reserve("S1", "backup_failed", T0 + timedelta(hours=1), delivery_id=6)
    assert not again.reserve("S1", "backup_failed", T0 + timedelta(minutes=90), delivery_id=7)
    again.close()


def test_the_circuit_breaker_opens_after_failures_in_a_row_and_a_success_closes_it() -> None:
    now = [100.0]
    breaker = CircuitBreaker(base=1.0, cap=8.0, threshold=3, clock=lambda: now[0])
    assert (breaker.trip(), breaker.trip(), breaker.remaining) == (0.0, 0.0, 0.0)  # scattered failures: no pause
    assert breaker.trip() == 1.0 and breaker.remaining == 1.0
    assert breaker.trip() == 2.0 and breaker.trip() == 4.0 and breaker.trip() == 8.0 and breaker.trip() == 8.0
    now[0] += 8.0
    assert breaker.remaining == 0.0
    breaker.succeeded()
    assert breaker.trip(retry_after=5) == 5.0  # the server said how long: at once
    assert breaker.trip(retry_after=600) == 8.0  # but never past the cap
