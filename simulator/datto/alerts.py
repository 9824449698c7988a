"""Active alerts and what leaves the fleet: one JSON object per raise, repeat and clear (see docs/alerts.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .catalog import ALERT_TYPES, AlertType

if TYPE_CHECKING:
    from .fleet import Asset, Device
    from .truth import Incident

RAISE, REPEAT, CLEAR, USAGE = "raise", "repeat", "clear", "usage"
DEVICE_SCOPE = "device"  # the middle part of a device alert's key


@lru_cache(maxsize=65536)
def iso(moment: int) -> str:
    """Epoch seconds as ISO-8601 with `+00:00`, the portal's format."""
    return datetime.fromtimestamp(moment, UTC).isoformat()


def alert_key(serial: str, volume: str | None, code: str) -> str:
    """The stable key an integration dedupes on: `serial:volume-or-device:code`."""
    return f"{serial}:{volume or DEVICE_SCOPE}:{code}"


_HEAD = {"event": None, "eventId": None, "alertKey": None, "time": None}
_TAIL = {"dateTriggered": None, "lastSeen": None, "numberSeen": 1, "recipients": None}


def device_card(device: Device) -> dict[str, Any]:
    """The fields every payload about `device` carries (cached on it until it changes)."""
    card = device.card
    if card is None:
        card = device.card = {
            "serialNumber": device.serial,
            "deviceName": device.name,
            "model": device.model,
            "family": device.family,
            "clientCompanyName": device.org.name,
            "assetName": None,
            "assetType": None,
            "volume": None,
        }
    return card


def asset_card(asset: Asset) -> dict[str, Any]:
    card = asset.card
    if card is None:
        card = asset.card = {
            **device_card(asset.device),
            "assetName": asset.name,
            "assetType": asset.kind,
            "volume": asset.volume,
        }
    return card


# The fields every payload of an alert type carries.
TYPE_CARDS: dict[str, dict[str, Any]] = {
    alert_type.kind: {
        "alertType": alert_type.kind,
        "code": alert_type.code,
        "label": alert_type.label,
        "category": alert_type.category,
        "severity": alert_type.severity,
        "emailList": alert_type.email_list,
    }
    for alert_type in ALERT_TYPES.values()
}


class Alert:
    """An alert while it is active on its device (and, in the truth log, after it cleared)."""

    __slots__ = (
        "asset",
        "base",
        "cleared_at",
        "device",
        "first_seen",
        "incident",
        "key",
        "last_seen",
        "number_seen",
        "type",
    )

    def __init__(self, alert_type: AlertType, device: Device, asset: Asset | None, moment: int, incident: Incident):
        self.type = alert_type
        self.device = device
        self.asset = asset
        self.key = alert_key(device.serial, asset.volume if asset else None, alert_type.code)
        self.first_seen = self.last_seen = moment
        self.number_seen = 1
        self.incident = incident
        self.cleared_at: int | None = None
        # What no event changes, built once: each event copies it and fills in the rest.
        base = {
            **_HEAD,
            **(asset_card(asset) if asset else device_card(device)),
            **TYPE_CARDS[alert_type.kind],
            **_TAIL,
        }
        base["alertKey"] = self.key
        base["dateTriggered"] = iso(moment)
        self.base: dict[str, Any] | None = base

    def payload(self, event: str, moment: int) -> dict[str, Any]:
        """The JSON object sent to sinks for this alert's `event` at `moment` (see docs/alerts.md)."""
        payload = self.base.copy()  # type: ignore[union-attr]
        payload["event"] = event
        payload["eventId"] = f"{self.key}:{self.first_seen}:{event}:{self.number_seen}"
        payload["time"] = iso(moment)
        payload["lastSeen"] = iso(self.last_seen)
        payload["numberSeen"] = self.number_seen
        payload["recipients"] = self.device.emails[self.type.email_list]
        return payload

    def portal_json(self, details: bool) -> dict[str, Any]:
        """An item of `GET /v1/bcdr/device/{sn}/alert`: the documented shape, plus our details if asked."""
        alert_type = self.type
        item: dict[str, Any] = {
            "type": alert_type.portal_type,
            "threshold": alert_type.threshold,
            "unit": alert_type.unit,
            "dateTriggered": iso(self.first_seen),
            "dateSent": iso(self.first_seen),
        }
        if details:
            item.update(
                alertKey=self.key,
                code=alert_type.code,
                category=alert_type.category.value,
                severity=alert_type.severity.value,
                assetName=self.asset.name if self.asset else None,
                volume=self.asset.volume if self.asset else None,
                numberSeen=self.number_seen,
                lastSeen=iso(self.last_seen),
            )
        return item

    def truth_json(self, iso_format: Any = iso) -> dict[str, Any]:
        return {
            "alertKey": self.key,
            "alertType": self.type.kind,
            "code": self.type.code,
            "serialNumber": self.device.serial,
            "volume": self.asset.volume if self.asset else None,
            "dateTriggered": iso_format(self.first_seen),
            "dateCleared": None if self.cleared_at is None else iso_format(self.cleared_at),
            "numberSeen": self.number_seen,
            "incidentId": self.incident.incident_id,
            "incidentKind": self.incident.kind,
            "rootIncidentId": self.incident.root().incident_id,
        }


def usage_payload(device: Device, moment: int) -> dict[str, Any]:
    """The daily usage record of a device."""
    card = device_card(device)
    plan = device.plan
    return {
        "event": USAGE,
        "time": iso(moment),
        "serialNumber": card["serialNumber"],
        "family": card["family"],
        "clientCompanyName": card["clientCompanyName"],
        "plan": plan.kind,
        "includedOffsiteBytes": plan.included_offsite_bytes,
        "offsiteUsedBytes": device.offsite_used,
        "localUsedBytes": device.local_used,
        "localCapacityBytes": device.local_capacity,
    }
