"""One rule for an alert's type and device: the email hold-back's key and the outbox's mail order agree."""

from __future__ import annotations

from typing import Any

import pytest

from cwsim.integration.alerts import Alert, alert_event
from cwsim.integration.datto import Device
from cwsim.integration.outbox import AlertEvent
from cwsim.integration.poller import portal_alert_payload
from cwsim.simulator.datto.alerts import TYPE_CARDS

from .test_alerts_intake import EVENT

UNTYPED = {"alertType": None, "code": None, "label": None}
# Payloads as other senders may send them: only some of the documented type fields, any serial case.
PAYLOADS: list[dict[str, Any]] = [
    {**EVENT},
    {**EVENT, "alertType": None},
    {**EVENT, "alertType": None, "code": None},
    {**EVENT, **UNTYPED},
    {**EVENT, **UNTYPED, "type": "Backup Failure Alert"},
    {**EVENT, "serialNumber": "00012e78d555"},
    {**EVENT, "alertType": None, "serialNumber": "00012e78d555"},
]


def holdback_key(payload: dict[str, Any]) -> str:
    alert = Alert(payload)
    return f"{alert.serial}:{alert.alert_type}"


def disagreements() -> list[tuple[str, str]]:
    """(mail group, hold-back key) for each payload whose two differ."""
    found = []
    for payload in PAYLOADS:
        group = alert_event(payload).mail_group
        if group != holdback_key(payload):
            found.append((group, holdback_key(payload)))
    return found


def test_the_mail_group_is_the_hold_back_key_for_every_payload_shape() -> None:
    assert disagreements() == []


def test_negative_control_the_old_mail_group_rule_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    def old_mail_group(self: AlertEvent) -> str:
        payload = self.payload
        if self.event == "clear" or not payload.get("recipients"):
            return ""
        kind = payload.get("alertType") or payload.get("code") or payload.get("type") or self.alert_key
        return f"{payload.get('serialNumber', '')}:{kind}"

    monkeypatch.setattr(AlertEvent, "mail_group", property(old_mail_group))
    assert len(disagreements()) >= 3  # untyped, a portal `type`, a lower-case serial


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "backup_failed"),
        ({"alertType": None}, "BAK0013"),
        ({"alertType": None, "code": None}, "Backup failed"),
        (UNTYPED, EVENT["alertKey"]),
    ],
)
def test_the_type_falls_back_alert_type_code_label_then_key(changes: dict[str, Any], expected: str) -> None:
    assert Alert({**EVENT, **changes}).alert_type == expected


def test_rows_stored_before_the_change_keep_their_mail_group() -> None:
    """Every payload the fleet sends and the poller makes gives the group the old rule stored at enqueue."""
    for card in TYPE_CARDS.values():
        payload = {**EVENT, **card}
        event = alert_event(payload)
        assert event.mail_group == f"{payload['serialNumber']}:{card['alertType']}"
    device = Device.from_portal({"serialNumber": "00012E78D555", "name": "acme-siris", "model": "S5-2"})
    polled = portal_alert_payload(device, {"type": "Backup Failure Alert", "dateTriggered": 1767571200})
    assert alert_event(polled).mail_group == ""  # the portal names no recipients: no email, no group
    with_recipients = alert_event({**polled, "recipients": ["a@example.com"]})
    assert with_recipients.mail_group == "00012E78D555:Backup Failure Alert"
