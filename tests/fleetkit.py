"""Helpers for the fleet's tests: a quiet fleet (no spontaneous incidents) and a record of what it sent."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from cwsim.simulator.datto.fleet import Asset, Device
from cwsim.simulator.datto.settings import FleetRates, FleetSpec
from cwsim.simulator.datto.simulation import FleetSimulation
from cwsim.simulator.datto.sinks import CallbackSink

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
HOUR = 3600
DAY = 86400
CLIENTS = ["Acme Manufacturing Inc", "Globex LLC", "Initech Group", "Umbrella Health", "Stark Logistics"]


def quiet_spec(**changes: Any) -> FleetSpec:
    """A small fleet where nothing happens unless a test makes it happen, every device in service and alerting."""
    rates = dataclasses.replace(
        FleetRates().quiet(), screenshots_disabled_share=0.0, encrypted_share=0.0, chronic_screenshot_share=0.0
    )
    spec = FleetSpec(
        seed=7,
        siris=6,
        alto=2,
        unmatched_share=0.0,
        hidden_share=0.0,
        out_of_service_share=0.0,
        silent_share=0.0,
        no_screenshot_email_share=0.0,
        local_only_share=0.0,
        paused_share=0.0,
        archived_share=0.0,
        drift_share=0.0,
        devices_per_site=2,
        rates=rates,
    )
    return dataclasses.replace(spec, **changes)


class Run:
    """A fleet simulation and every event it sent, with ways to ask about them."""

    def __init__(self, spec: FleetSpec | None = None, start: datetime = START) -> None:
        self.events: list[dict[str, Any]] = []
        self.simulation = FleetSimulation(spec or quiet_spec(), CLIENTS, start, sink=CallbackSink(self.events.append))

    @property
    def engine(self) -> Any:
        return self.simulation.engine

    @property
    def now(self) -> int:
        return self.simulation.now

    def device(self, family: str = "SIRIS", index: int = 0) -> Device:
        return [device for device in self.simulation.fleet.devices if device.family == family][index]

    def device_with_agents(self, count: int) -> Device:
        return next(device for device in self.simulation.fleet.devices if len(device.agents()) >= count)

    def device_in_a_shared_site(self) -> Device:
        sites = self.simulation.fleet.sites
        return next(device for device in self.simulation.fleet.devices if len(sites[device.site]) >= 2)

    def agent(self, device: Device | None = None, index: int = 0) -> Asset:
        return (device or self.device()).agents()[index]

    def patch(self, device: Device, **changes: Any) -> dict[str, Any]:
        """`PATCH /_sim/fleet/devices/{serial}`, with the Python names its schema loads into."""
        return self.simulation.patch_device(device.serial, changes)

    def advance(self, seconds: int) -> None:
        self.simulation.advance_to(self.now + seconds)

    def inject(self, kind: str, device: Device, asset: Asset | None = None, **params: Any) -> dict[str, Any]:
        return self.simulation.inject(kind, device.serial, asset.volume if asset else None, params)

    def alerts(self, kind: str | None = None, event: str | None = None, serial: str | None = None) -> list[dict]:
        return [
            item
            for item in self.events
            if item["event"] != "usage"
            and (kind is None or item["alertType"] == kind)
            and (event is None or item["event"] == event)
            and (serial is None or item["serialNumber"] == serial)
        ]

    def story(self, kind: str | None = None, serial: str | None = None) -> list[tuple[str, int]]:
        """(event, numberSeen) of each alert event, in order."""
        return [(item["event"], item["numberSeen"]) for item in self.alerts(kind, serial=serial)]


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())
