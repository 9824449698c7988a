"""Polls the Datto portal's active alert lists and turns what changed into outbox events, as pushed ones are.

The real portal has no push: `GET /bcdr/device/{serial}/alert` lists a device's active alerts as
`{type, threshold, unit, dateTriggered, dateSent}`, with no id. An alert is keyed as the portal
allows: serial + type, one occurrence per `dateTriggered`. When the portal also gives the
appliance's `alertKey` (and code, asset, numberSeen...), those are used, and a polled raise gets
the same `eventId` as the pushed one, so an alert seen both ways is delivered once.

An alert that appears is a raise; one that disappears from its device's list is a clear. Devices
the device list says have no alerts (and had none last time) cost no request, and every request
waits its turn at the portal's rate limiter. What was active is kept in SQLite, so a restart
neither re-raises nor forgets to clear.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .alerts import alert_event, parse_moment
from .datto import DattoError, DattoPortalClient, Device
from .outbox import Outbox

__all__ = ["AlertPoller", "portal_alert_payload"]

log = logging.getLogger("cwsim.integration.poller")

SCHEMA = """
CREATE TABLE IF NOT EXISTS active_alerts (
    serial    TEXT NOT NULL,
    event_key TEXT NOT NULL,     -- alert key + dateTriggered: one occurrence of one alert
    payload   TEXT NOT NULL,     -- the raise as queued (its clear is built from it)
    PRIMARY KEY (serial, event_key)
);
"""
ALTO_MODELS = ("ALTO", "L3A")
CLOUD_MODELS = ("CLDSIRIS", "SRV0002")


def _family(model: str) -> str:
    upper = model.upper()
    if upper.startswith(ALTO_MODELS):
        return "ALTO"
    return "CLOUD" if upper in CLOUD_MODELS else "SIRIS"


def _category(portal_type: str) -> str:
    """Without the portal's details: screenshot alerts by name; otherwise a device alert (no asset is named)."""
    return "screenshot" if "screenshot" in portal_type.lower() else "device"


def _moment(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return parse_moment(str(value))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").upper() or "ALERT"


def portal_alert_payload(device: Device, item: Mapping[str, Any]) -> dict[str, Any]:
    """A raise in the intake's shape (docs/alerts.md) for one item of a device's portal alert list."""
    portal_type = str(item.get("type") or "Alert")
    triggered = _moment(item["dateTriggered"])
    epoch = int(triggered.timestamp())
    key = str(item.get("alertKey") or f"{device.serial_number}:portal:{_slug(portal_type)}")
    number_seen = int(item.get("numberSeen") or 1)
    threshold = f" ({item['threshold']} {item.get('unit') or ''})".rstrip() if item.get("threshold") else ""
    return {
        "event": "raise",
        "eventId": f"{key}:{epoch}:raise:1",
        "alertKey": key,
        "time": triggered.isoformat(),
        "serialNumber": device.serial_number,
        "deviceName": device.name or device.serial_number,
        "model": device.model,
        "family": _family(device.model),
        "clientCompanyName": device.client_company_name,
        "assetName": item.get("assetName"),
        "assetType": "agent" if item.get("assetName") else None,
        "volume": item.get("volume"),
        "alertType": portal_type,
        "code": item.get("code") or _slug(portal_type),
        "label": portal_type + threshold,
        "category": item.get("category") or _category(portal_type),
        "severity": item.get("severity") or "critical",
        "emailList": None,
        "dateTriggered": triggered.isoformat(),
        "lastSeen": item.get("lastSeen") or triggered.isoformat(),
        "numberSeen": number_seen,
        "recipients": [],  # the portal does not say who the appliance mails
        "source": "portal",
    }


def _clear_of(raised: dict[str, Any], moment: datetime) -> dict[str, Any]:
    head = raised["eventId"].rsplit(":raise:", 1)[0]
    return {
        **raised,
        "event": "clear",
        "eventId": f"{head}:clear:{raised.get('numberSeen') or 1}",
        "time": moment.isoformat(),
        "lastSeen": moment.isoformat(),
    }


class AlertPoller:
    """One poll of every device's active alerts at a time; `run()` polls every `interval` seconds."""

    def __init__(
        self,
        portal: DattoPortalClient,
        outbox: Outbox,
        state_path: str | Path,
        *,
        on_queued: Callable[[], object] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.portal = portal
        self.outbox = outbox
        self.on_queued = on_queued
        self._clock = clock
        self._db = sqlite3.connect(state_path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def poll_once(self) -> int:
        """Poll every device once; returns how many new events went into the outbox."""
        with self._lock:
            queued = 0
            known = self._known()
            for device in self.portal.devices():
                previous = known.get(device.serial_number, {})
                if not device.alert_count and not previous:
                    continue
                try:
                    items = self.portal.alerts(device.serial_number)
                except DattoError as error:
                    log.warning("could not read the alerts of %s: %s", device.serial_number, error)
                    continue
                queued += self._changes(device, items, previous)
            if queued and self.on_queued is not None:
                self.on_queued()
            return queued

    def _changes(self, device: Device, items: list[dict[str, Any]], previous: dict[str, dict[str, Any]]) -> int:
        current: dict[str, dict[str, Any]] = {}
        for item in items:
            try:
                payload = portal_alert_payload(device, item)
            except (KeyError, ValueError, TypeError) as error:
                log.warning(
                    "device %s: an alert the portal listed could not be read (%s): %r",
                    device.serial_number,
                    error,
                    item,
                )
                continue
            current[f"{payload['alertKey']}@{payload['dateTriggered']}"] = payload
        raised = [payload for key, payload in current.items() if key not in previous]
        cleared = [_clear_of(payload, self._clock()) for key, payload in previous.items() if key not in current]
        events = raised + cleared
        if not events:
            return 0
        new = self.outbox.enqueue_many([alert_event(payload) for payload in events])
        # After the outbox has them: a crash in between queues the same events again, which it ignores.
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany(
            "INSERT OR REPLACE INTO active_alerts (serial, event_key, payload) VALUES (?, ?, ?)",
            [
                (device.serial_number, key, orjson.dumps(current[key]).decode())
                for key in current
                if key not in previous
            ],
        )
        self._db.executemany(
            "DELETE FROM active_alerts WHERE serial = ? AND event_key = ?",
            [(device.serial_number, key) for key in previous if key not in current],
        )
        self._db.execute("COMMIT")
        return new

    def _known(self) -> dict[str, dict[str, dict[str, Any]]]:
        known: dict[str, dict[str, dict[str, Any]]] = {}
        for serial, key, payload in self._db.execute("SELECT serial, event_key, payload FROM active_alerts"):
            known.setdefault(serial, {})[key] = orjson.loads(payload)
        return known

    def run(self, interval: float, stop: threading.Event) -> None:
        """Poll until `stop` is set; a failed poll is logged and tried again at the next interval."""
        while not stop.is_set():
            try:
                self.poll_once()
            except (DattoError, sqlite3.Error, ValueError) as error:
                log.warning("polling the Datto portal failed: %s", error)
            except Exception:
                log.exception("polling the Datto portal failed")
            stop.wait(interval)

    def close(self) -> None:
        self._db.close()
