"""One fleet inside a running server: its engine behind a lock, advanced in bounded slices, its events to a sink.

Readers (the portal API, the admin API) take `lock` for a consistent view; an advance holds it
for one slice at a time, so they keep being answered while a month is simulated. Events go to
the sink outside the lock, in order, one advance at a time.
"""

from __future__ import annotations

import pickle
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .alerts import iso
from .catalog import EMAIL_LISTS, Plan, PlanKind
from .engine import Engine, last_backup, latest_offsite
from .fleet import Asset, Device, Fleet, generate_fleet
from .settings import FleetRates, FleetSpec
from .sinks import DiscardSink, Sink

SLICE_SECONDS = 3600  # simulated time per slice
SLICE_EVENTS = 20_000  # engine events per slice at most, however much simulated time that is
RECENT_EVENTS = 10_000
HOUR = 3600


class UnknownEntity(LookupError):
    """A serial number or volume the fleet does not have."""


@dataclass
class AdvanceReport:
    """What an advance did: the events it produced, and whether the sink took them all in time."""

    events: int
    flushed: bool
    sink: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"events": self.events, "flushed": self.flushed, "sink": self.sink}


class FleetSimulation:
    """The server's fleet: generated from a spec and the tenant's company names, reset from a snapshot."""

    def __init__(
        self,
        spec: FleetSpec,
        client_names: Sequence[str],
        start: datetime,
        sink: Sink | None = None,
        slice_seconds: int = SLICE_SECONDS,
        slice_events: int = SLICE_EVENTS,
    ) -> None:
        self.lock = threading.RLock()
        self.advancing = threading.Lock()
        self.client_names = list(client_names)
        self.sink: Sink = sink or DiscardSink()
        self.slice_seconds = slice_seconds
        self.slice_events = slice_events
        self.recent: deque[tuple[int, dict[str, Any]]] = deque(maxlen=RECENT_EVENTS)
        self.sequence = 0
        self.revision = 0  # bumped by changes from outside the engine (a patch, an injection): views notice them
        self.engine = Engine(generate_fleet(spec, self.client_names, start))
        self._initial = self.snapshot()

    # -- state ------------------------------------------------------------------------------------

    @property
    def fleet(self) -> Fleet:
        return self.engine.fleet

    @property
    def now(self) -> int:
        return self.engine.now

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.engine.now, UTC)

    def snapshot(self) -> bytes:
        """The whole fleet and its engine (heap, RNGs, truth) as bytes."""
        with self.lock:
            return pickle.dumps(self.engine, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, snapshot: bytes | None = None) -> None:
        """Back to `snapshot` (by default the state the fleet started in)."""
        with self.advancing, self.lock:
            self.engine = pickle.loads(snapshot if snapshot is not None else self._initial)
            self.recent.clear()
            self.sequence = 0

    def resume(self, engine: Engine, recent: list[tuple[int, dict[str, Any]]], sequence: int, revision: int) -> None:
        """Go on from a saved state (see fleet_state.py): its engine, its recent events and their numbering."""
        with self.advancing, self.lock:
            self.engine = engine
            self.recent.clear()
            self.recent.extend(recent)
            self.sequence = sequence
            self.revision = revision  # views notice the new engine by its identity

    def regenerate(self, spec: FleetSpec) -> None:
        """A new fleet from `spec`, starting at the fleet's current time (its events and truth start afresh)."""
        start = self.now_datetime()
        fleet = generate_fleet(spec, self.client_names, start)
        with self.advancing, self.lock:
            self.engine = Engine(fleet)
            self.recent.clear()
        self.publish()

    def replace_sink(self, sink: Sink) -> Sink:
        """Send events to `sink` from now on; returns the previous sink (the caller closes it)."""
        with self.advancing:
            previous, self.sink = self.sink, sink
        return previous

    # -- time -------------------------------------------------------------------------------------

    def advance_to(
        self,
        target: int,
        on_slice: Callable[[int], None] | None = None,
        flush_timeout: float | None = 60.0,
        flush: bool = True,
    ) -> AdvanceReport:
        """Produce every event up to `target` (epoch seconds), slice by slice, and hand them to the sink.

        `on_slice(moment)` runs before each slice is produced (a stepped clock moves along with it).
        With `flush`, returns once the sink delivered everything or counted it as failed (or the
        timeout passed: `flushed` is then False).
        """
        produced = 0
        with self.advancing:
            while True:
                with self.lock:
                    engine = self.engine
                    step_end = max(engine.now, min(target, engine.now + self.slice_seconds))
                    if on_slice is not None and step_end > engine.now:
                        on_slice(step_end)
                    done = engine.run_until(step_end, self.slice_events)
                    events = self._take()
                self._deliver(events)
                produced += len(events)
                if done and step_end >= target:
                    break
            flushed = self.sink.flush(flush_timeout) if flush else True
            return AdvanceReport(produced, flushed, self.sink.stats())

    def publish(self) -> None:
        """Send events produced outside an advance (by a change or an injected incident) now, unless an advance
        is running: it sends them with its next slice."""
        if not self.advancing.acquire(blocking=False):
            return
        try:
            with self.lock:
                events = self._take()
            self._deliver(events)
        finally:
            self.advancing.release()

    def _take(self) -> list[dict[str, Any]]:
        events = self.engine.take_events()
        for event in events:
            self.sequence += 1
            self.recent.append((self.sequence, event))
        return events

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.sink.deliver(events)

    # -- reading ----------------------------------------------------------------------------------

    def device(self, serial: str) -> Device:
        device = self.fleet.device(serial)
        if device is None:
            raise UnknownEntity(f"No device has serial number {serial!r}")
        return device

    def asset(self, device: Device, volume: str) -> Asset:
        asset = device.asset(volume)
        if asset is None:
            raise UnknownEntity(f"Device {device.serial} has no asset with volume {volume!r}")
        return asset

    def events_since(self, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.lock:
            return [{"seq": seq, **event} for seq, event in self.recent if seq > since][:limit]

    def summary(self) -> dict[str, Any]:
        """Devices, assets, clients, active alerts by type, usage against plan, events so far, the sink."""
        with self.lock:
            fleet, engine = self.fleet, self.engine
            devices = fleet.devices
            assets = [asset for device in devices for asset in device.assets]
            active = Counter(alert.type.kind for device in devices for alert in device.alerts.values())
            by_plan: dict[str, dict[str, int]] = {}
            for device in devices:
                row = by_plan.setdefault(
                    device.plan.kind.value,
                    {"devices": 0, "offsiteUsedBytes": 0, "includedOffsiteBytes": 0, "overIncluded": 0},
                )
                row["devices"] += 1
                row["offsiteUsedBytes"] += device.offsite_used
                row["includedOffsiteBytes"] += device.plan.included_offsite_bytes
                if device.plan.kind is PlanKind.CAPACITY and device.offsite_used > device.plan.included_offsite_bytes:
                    row["overIncluded"] += 1
            events: dict[str, dict[str, int]] = {}
            for (event, kind), count in sorted(engine.counts.items()):
                events.setdefault(event, {})[kind] = count
            return {
                "time": iso(engine.now),
                "spec": fleet.spec.as_json(),
                "devices": {
                    "total": len(devices),
                    "byFamily": dict(sorted(Counter(device.family.value for device in devices).items())),
                    "inService": sum(device.in_service for device in devices),
                    "hidden": sum(device.hidden for device in devices),
                    "offline": sum(device.outage is not None for device in devices),
                    "silent": sum(not any(device.emails.values()) for device in devices),
                },
                "assets": {
                    "agents": sum(asset.kind == "agent" for asset in assets),
                    "shares": sum(asset.kind == "share" for asset in assets),
                    "paused": sum(asset.paused for asset in assets),
                    "archived": sum(asset.archived for asset in assets),
                },
                "organizations": {
                    "total": len(fleet.organizations),
                    "byVariant": dict(sorted(Counter(org.variant for org in fleet.organizations).items())),
                },
                "activeAlerts": {"total": sum(active.values()), "byType": dict(sorted(active.items()))},
                "usage": {
                    "byPlan": dict(sorted(by_plan.items())),
                    "localUsedBytes": sum(device.local_used or 0 for device in devices),
                    "localCapacityBytes": sum(device.local_capacity or 0 for device in devices),
                },
                "events": events,
                "suppressed": dict(sorted(engine.suppressed.items())),
                "incidents": engine.truth.count,
                "sink": self.sink.stats(),
            }

    def alerts_per_hour(self, end: int, hours: int = 24) -> list[dict[str, Any]]:
        """Alerts raised in each of the `hours` whole hours up to the one holding `end` (epoch seconds), oldest
        first; from the truth log, so a fleet that keeps no truth counts none."""
        first = end - end % HOUR - (hours - 1) * HOUR
        counts = [0] * hours
        with self.lock:
            for alert in reversed(self.engine.truth.alerts):  # raised in time order: stop at the window's start
                if alert.first_seen < first:
                    break
                index = (alert.first_seen - first) // HOUR
                if index < hours:
                    counts[index] += 1
        return [{"hour": iso(first + index * HOUR), "raised": count} for index, count in enumerate(counts)]

    def device_rows(self, family: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                device_admin_json(device, self.now, detailed=False)
                for device in self.fleet.devices
                if family is None or device.family.value == family.upper()
            ]

    def device_view(self, serial: str) -> dict[str, Any]:
        with self.lock:
            return device_admin_json(self.device(serial), self.now, detailed=True)

    def truth(self, serial: str | None = None, kind: str | None = None, limit: int = 10_000) -> dict[str, Any]:
        with self.lock:
            data = self.engine.truth.as_json(iso, serial.upper() if serial else None, kind, limit)
            data["organizations"] = [org.as_json() for org in self.fleet.organizations]
            return data

    # -- changing ---------------------------------------------------------------------------------

    def patch_device(self, serial: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Set up an exact case: usage, plan, pause, email lists, service, visibility, client name."""
        with self.lock:
            engine = self.engine
            device = self.device(serial)
            moment = engine.now
            targets = [(self.asset(device, volume), flags) for volume, flags in changes.get("assets", {}).items()]
            if "in_service" in changes:
                device.in_service = changes["in_service"]
            if "hidden" in changes:
                device.hidden = changes["hidden"]
            if "client_company_name" in changes:
                device.org = self.fleet.organization_named(changes["client_company_name"])
                device.forget_cards()
            for name, addresses in changes.get("emails", {}).items():
                device.emails[name] = list(addresses)  # a new list: events already queued keep theirs
            if "plan" in changes:
                plan = changes["plan"]
                kind = PlanKind(plan["kind"])
                included = plan.get("included_offsite_bytes", device.plan.included_offsite_bytes)
                device.plan = Plan(
                    kind,
                    included if kind is PlanKind.CAPACITY else 0,
                    plan.get("tbr_years", device.plan.tbr_years or 1) if kind is PlanKind.TBR else 0,
                )
                engine.refresh_daily_offsite(device)
            if "local_capacity_bytes" in changes and device.local_capacity is not None:
                device.local_capacity = changes["local_capacity_bytes"]
            if "local_used_bytes" in changes and device.local_capacity is not None:
                device.local_used = min(changes["local_used_bytes"], device.local_capacity)
            if "offsite_used_bytes" in changes:
                device.offsite_used = changes["offsite_used_bytes"]
            for asset in device.assets:
                paused = changes.get("paused", asset.paused)
                archived = changes.get("archived", asset.archived)
                engine.set_silenced(asset, paused, archived, moment)
            for asset, flags in targets:
                engine.set_silenced(
                    asset, flags.get("paused", asset.paused), flags.get("archived", asset.archived), moment
                )
            engine.check_space(device, moment)
            view = device_admin_json(device, moment, detailed=True)
            self.revision += 1
        self.publish()
        return view

    def inject(self, kind: str, serial: str, volume: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """Start an incident now, as the engine would have drawn it: for tests and scenarios."""
        with self.lock:
            engine = self.engine
            device = self.device(serial)
            moment = engine.now
            duration = params.get("duration_seconds")
            asset = self.asset(device, volume) if volume else None
            incident = start_incident(engine, kind, device, asset, moment, duration, params)
            view = incident.as_json(iso)
            self.revision += 1
        self.publish()
        return view


ASSET_INCIDENTS = {
    "backup_failure",
    "local_verification_error",
    "screenshot_failure",
    "backup_stall",
    "offsite_behind",
    "ransomware",
    "encrypted_agent_locked",
}
DEVICE_INCIDENTS = {"device_offline", "site_power_loss", "slow_uplink"}


def default_duration(kind: str, rates: FleetRates) -> int:
    """How long an injected incident lasts when the request does not say: the median its rates give it."""
    hours = {
        "backup_stall": rates.backup_stall_median_hours,
        "offsite_behind": 12 * (rates.offsite_behind_min_days + rates.offsite_behind_max_days),
        "ransomware": rates.ransomware_resolution_median_hours,
        "encrypted_agent_locked": rates.unlock_median_hours,
        "device_offline": rates.device_outage_median_hours,
        "site_power_loss": rates.power_loss_median_hours,
        "slow_uplink": 12 * (rates.slow_uplink_min_days + rates.slow_uplink_max_days),
    }.get(kind, 1.0)
    return max(60, int(hours * 3600))


def start_incident(
    engine: Engine,
    kind: str,
    device: Device,
    asset: Asset | None,
    moment: int,
    duration: int | None,
    params: dict[str, Any],
) -> Any:
    """Start one incident of `kind` on a device or asset at `moment` (see `FleetSimulation.inject`)."""
    if kind not in ASSET_INCIDENTS | DEVICE_INCIDENTS:
        raise ValueError(f"unknown incident kind {kind!r}")
    duration = duration if duration is not None else default_duration(kind, engine.rates)
    if kind == "device_offline":
        if device.outage is not None:
            raise ValueError(f"device {device.serial} is already offline")
        return engine.start_device_offline(device, moment, duration, bool(params.get("reboot", False)))
    if kind == "site_power_loss":
        return engine.start_power_loss(device.site, moment, duration)
    if kind == "slow_uplink":
        return engine.start_slow_uplink(device.site, moment, duration)
    if asset is None:
        raise ValueError(f"a {kind} incident happens to an asset: give its volume")
    if kind == "backup_failure":
        if asset.failure is not None:
            raise ValueError(f"asset {asset.volume} is already failing its backups")
        return engine.start_backup_failure(asset, moment, int(params.get("attempts", 3)))
    if kind == "local_verification_error":
        return engine.start_verification_error(asset, moment)
    if kind == "screenshot_failure":
        if asset.kind != "agent" or asset.screenshot_second is None:
            raise ValueError(f"asset {asset.volume} takes no screenshots")
        if asset.shot_failure is not None:
            raise ValueError(f"asset {asset.volume} is already failing its screenshots")
        return engine.start_screenshot_failure(asset, moment, int(params.get("failures", 1)))
    if kind == "backup_stall":
        return engine.start_backup_stall(asset, moment, duration)
    if kind == "offsite_behind":
        return engine.start_offsite_behind(asset, moment, duration)
    if kind == "ransomware":
        return engine.start_ransomware(asset, moment, bool(params.get("true_positive", True)), duration)
    return engine.start_lock(asset, moment, duration)


def device_admin_json(device: Device, moment: int, detailed: bool) -> dict[str, Any]:
    """The admin API's view of a device: the portal's facts plus what only the simulator knows."""
    data: dict[str, Any] = {
        "serialNumber": device.serial,
        "name": device.name,
        "model": device.model,
        "family": device.family.value,
        "plan": device.plan.as_json(),
        "clientCompanyName": device.org.name,
        "matchedCompany": device.org.matched_company,
        "nameVariant": device.org.variant,
        "site": device.site,
        "inService": device.in_service,
        "hidden": device.hidden,
        "online": device.outage is None,
        "agents": sum(asset.kind == "agent" for asset in device.assets),
        "shares": sum(asset.kind == "share" for asset in device.assets),
        "activeAlerts": len(device.alerts),
        "localUsedBytes": device.local_used,
        "localCapacityBytes": device.local_capacity,
        "offsiteUsedBytes": device.offsite_used,
        "emails": {name: device.emails[name] for name in EMAIL_LISTS},
    }
    if detailed:
        data["assets"] = [
            {
                "volume": asset.volume,
                "name": asset.name,
                "type": asset.kind,
                "paused": asset.paused,
                "archived": asset.archived,
                "encrypted": asset.encrypted,
                "screenshots": asset.screenshot_second is not None and asset.kind == "agent",
                "protectedBytes": asset.protected_bytes,
                "lastBackup": iso(last_backup(asset, moment)),
                "latestOffsite": None if (offsite := latest_offsite(asset, moment)) is None else iso(offsite),
                "backingUp": not asset.blocks,
            }
            for asset in device.assets
        ]
        data["alerts"] = [alert.truth_json() for alert in device.alerts.values()]
    return data
