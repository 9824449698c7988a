"""The ground truth: every incident the fleet suffered and every alert it raised for it.

Kept in the simulator, never in an alert payload: a test scores an integration against it
(`GET /_sim/truth`) without handing the integration the answers.
"""

from __future__ import annotations

from typing import Any


class Incident:
    """A cause: an agent going offline, a site losing power, a slow uplink, a screenshot run failing..."""

    __slots__ = (
        "alerts",
        "cause",
        "count",
        "detail",
        "end",
        "kind",
        "number",
        "owner",
        "scope",
        "serials",
        "start",
        "suppressed",
        "volume",
    )

    def __init__(
        self, owner: str, number: int, kind: str, scope: str, start: int, serials: list[str], volume: str | None
    ) -> None:
        self.owner = owner  # the device's serial, or the site
        self.number = number  # its number among its owner's incidents
        self.kind = kind
        self.scope = scope  # asset | device | site
        self.start = start
        self.end: int | None = None
        self.serials = serials
        self.volume = volume
        self.detail: dict[str, Any] | None = None  # what else the truth should tell (see `note`)
        self.alerts = 0  # alerts raised for it
        self.count = 1  # how often it has shown itself so far (failed screenshots, ...)
        self.cause: Incident | None = None  # the incident that led to this one (a reboot locking an agent)
        self.suppressed: dict[str, int] | None = None  # alerts it would have raised, by why not

    @property
    def incident_id(self) -> str:
        return f"{self.owner}-{self.number:05d}"

    def root(self) -> Incident:
        """The first cause: a site's power loss, not the agent lock it led to."""
        incident = self
        while incident.cause is not None:
            incident = incident.cause
        return incident

    def note(self, **facts: Any) -> None:
        if self.detail is None:
            self.detail = {}
        self.detail.update(facts)

    def suppress(self, reason: str) -> None:
        if self.suppressed is None:
            self.suppressed = {}
        self.suppressed[reason] = self.suppressed.get(reason, 0) + 1

    def as_json(self, iso: Any) -> dict[str, Any]:
        return {
            "incidentId": self.incident_id,
            "kind": self.kind,
            "scope": self.scope,
            "serialNumbers": self.serials,
            "volume": self.volume,
            "start": iso(self.start),
            "end": None if self.end is None else iso(self.end),
            "causeId": None if self.cause is None else self.cause.incident_id,
            "detail": self.detail or {},
            "alertsRaised": self.alerts,
            "alertsSuppressed": dict(sorted((self.suppressed or {}).items())),
        }


class TruthLog:
    """Incidents in the order they began and alerts in the order they were raised."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.incidents: list[Incident] = []
        self.alerts: list[Any] = []  # engine `Alert`s: each knows its incident, when it was raised and cleared
        self.numbers: dict[str, int] = {}
        self.count = 0

    def incident(
        self, kind: str, scope: str, start: int, serials: list[str], volume: str | None = None, owner: str | None = None
    ) -> Incident:
        """A new incident, numbered per device (or site), so its id does not depend on what else the fleet holds."""
        owner = owner or serials[0]
        number = self.numbers.get(owner, 0) + 1
        self.numbers[owner] = number
        self.count += 1
        incident = Incident(owner, number, kind, scope, start, serials, volume)
        if self.keep:
            self.incidents.append(incident)
        return incident

    def raised(self, alert: Any) -> None:
        alert.incident.alerts += 1
        if self.keep:
            self.alerts.append(alert)

    def as_json(
        self, iso: Any, serial: str | None = None, kind: str | None = None, limit: int = 10_000
    ) -> dict[str, Any]:
        """Incidents and alerts, optionally of one device and one incident kind (alerts: their incident's kind)."""

        def wanted(incident: Incident) -> bool:
            return (serial is None or serial in incident.serials) and (kind is None or incident.kind == kind)

        incidents = [incident for incident in self.incidents if wanted(incident)]
        alerts = [
            alert
            for alert in self.alerts
            if wanted(alert.incident) and (serial is None or alert.device.serial == serial)
        ]
        return {
            "incidents": [incident.as_json(iso) for incident in incidents[:limit]],
            "alerts": [alert.truth_json(iso) for alert in alerts[:limit]],
            "counts": {"incidents": len(incidents), "alerts": len(alerts)},
            "truncated": len(incidents) > limit or len(alerts) > limit,
        }
