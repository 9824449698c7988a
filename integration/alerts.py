"""One Datto alert event as the integration sees it: its keys, and the words its ticket, notes and email use."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .alert_kind import alert_type, device_serial
from .outbox import AlertEvent

__all__ = ["Alert", "alert_event", "parse_moment"]

SUMMARY_LIMIT = 100  # ConnectWise's ticket summary
XREF_LIMIT = 100  # ConnectWise's externalXRef
XREF_PREFIX = "Datto:"
# Every ticket description and note the integration writes ends with this line: it is how a note
# whose POST lost its answer is found again, and how a test scores which events became notes.
EVENT_MARKER = "Datto event: "
SEVERITIES = {"critical": "High", "warning": "Medium", "info": "Low"}


def parse_moment(text: str) -> datetime:
    """An ISO-8601 moment (`2026-01-05T13:00:00+00:00`, `...Z`); one without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Alert:
    """A validated alert payload (docs/alerts.md) with the integration's words for it."""

    payload: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.payload.get(name)

    # -- identity ----------------------------------------------------------------------------

    @property
    def key(self) -> str:
        return str(self.payload["alertKey"])

    @property
    def event(self) -> str:
        return str(self.payload["event"])

    @property
    def event_id(self) -> str:
        return str(self.payload["eventId"])

    @property
    def serial(self) -> str:
        return device_serial(self.payload)

    @property
    def category(self) -> str:
        return str(self.payload.get("category") or "device")

    @property
    def device_name(self) -> str:
        return str(self.payload.get("deviceName") or self.serial)

    @property
    def asset_name(self) -> str | None:
        return self.payload.get("assetName") or None

    @property
    def label(self) -> str:
        return str(self.payload.get("label") or self.payload.get("alertType") or self.payload.get("code") or "Alert")

    @property
    def alert_type(self) -> str:
        """The type its email hold-back and mail order go by (`alert_kind.alert_type`)."""
        return alert_type(self.payload)

    @property
    def severity(self) -> str:
        return str(self.payload.get("severity") or "critical")

    @property
    def number_seen(self) -> int:
        return int(self.payload.get("numberSeen") or 1)

    @property
    def recipients(self) -> list[str]:
        return [str(address) for address in self.payload.get("recipients") or []]

    @property
    def moment(self) -> datetime:
        """When this event happened by the alert's own clock (`time`, else `dateTriggered`)."""
        return parse_moment(str(self.payload.get("time") or self.payload["dateTriggered"]))

    # -- ConnectWise ----------------------------------------------------------------------------

    @property
    def ticket_xref(self) -> str:
        """The ticket's `externalXRef`: the alert key (hashed when it would not fit), so a ticket is found by it."""
        text = XREF_PREFIX + self.key
        if len(text) <= XREF_LIMIT:
            return text
        return f"{XREF_PREFIX}{self.serial}:{hashlib.sha256(self.key.encode()).hexdigest()[:40]}"

    @property
    def marker(self) -> str:
        return EVENT_MARKER + self.event_id

    @property
    def ticket_severity(self) -> str:
        return SEVERITIES.get(self.severity, "Medium")

    def summary(self) -> str:
        """`Datto SIRIS 00012E94105B: Backup failed - FS01`, at most 100 characters."""
        family = self.payload.get("family")
        device = f"Datto {family} {self.serial}" if family else f"Datto {self.serial}"
        text = f"{device}: {self.label} - {self.asset_name or 'device'}"
        return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3].rstrip() + "..."

    def description(self) -> str:
        """The new ticket's `initialDescription`: what happened, where, and since when."""
        lines = [
            f"{self.label} ({self.payload.get('code') or self.alert_type}), severity {self.severity}.",
            "",
            f"Device: {self.device_name} ({self.payload.get('model') or 'model unknown'}), serial {self.serial}",
        ]
        if self.payload.get("clientCompanyName"):
            lines.append(f"Client: {self.payload['clientCompanyName']}")
        if self.asset_name:
            kind = self.payload.get("assetType") or "asset"
            volume = f", volume {self.payload['volume']}" if self.payload.get("volume") else ""
            lines.append(f"{str(kind).capitalize()}: {self.asset_name}{volume}")
        lines += [
            f"First raised: {self.payload.get('dateTriggered')}",
            f"Seen {self.number_seen} time(s), last at {self.payload.get('lastSeen') or self.payload.get('time')}",
            "",
            self.marker,
        ]
        return "\n".join(lines)

    def note_text(self) -> str:
        """The note a repeat, a clear, or a raise on a still-open ticket adds."""
        when = self.payload.get("time") or self.payload.get("dateTriggered")
        if self.event == "clear":
            first = f"{self.label} cleared at {when}, after {self.number_seen} occurrence(s)."
        elif self.event == "repeat":
            first = f"{self.label} seen again at {when}: {self.number_seen} time(s) so far (numberSeen)."
        else:
            first = f"{self.label} raised again at {when} (first raised {self.payload.get('dateTriggered')})."
        where = f"{self.device_name} ({self.serial})" + (f", {self.asset_name}" if self.asset_name else "")
        return f"{first}\n{where}\n\n{self.marker}"


def alert_event(payload: Mapping[str, Any]) -> AlertEvent:
    """The outbox row for an alert payload: unique per event (`eventId`), grouped by `alertKey`."""
    return AlertEvent(
        str(payload["alertKey"]), str(payload["event"]), dict(payload), occurrence=str(payload["eventId"])
    )
