"""Where a device's alert tickets go: its mapping from onboarding, else its configuration found by serial number.

A device onboarding mapped (the registry) has its company, contact, board, status, types and
configuration. A device it did not map is looked up the way ConnectWise's managed-device
integration matches one: a configuration with the device's serial number, which names the
company; board and status then come from the settings. Neither: the device is unmapped, and its
alerts wait (held) until it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .conditions import where
from .connectwise import ConnectWiseClient
from .registry import DeviceMapping, DeviceRegistry
from .settings import AlertSettings

__all__ = ["DeviceDirectory", "DeviceUnmapped", "TicketTarget"]

FOUND_SECONDS = 300.0  # a configuration found by serial is trusted this long
MISSING_SECONDS = 10.0  # a serial with no configuration is asked about again after this


class DeviceUnmapped(LookupError):
    """Neither onboarding nor a ConnectWise configuration maps this device to a company."""


@dataclass(frozen=True)
class TicketTarget:
    """The ConnectWise records one device's tickets go to."""

    serial: str
    company_id: int
    contact_id: int | None
    configuration_id: int | None
    board: str
    status: str
    device_type: str | None
    agent_type: str | None
    subtype: str | None
    source: str  # "registry" or "configuration"

    def ticket_type(self, category: str) -> str | None:
        return self.agent_type if category == "agent" else self.device_type


class DeviceDirectory:
    """Mappings from the registry, configurations by serial from ConnectWise (cached); safe between threads."""

    def __init__(
        self,
        registry: DeviceRegistry | None,
        cw: ConnectWiseClient,
        defaults: AlertSettings,
        *,
        configuration_type: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.cw = cw
        self.defaults = defaults
        self.configuration_type = configuration_type
        self._clock = clock
        self._lock = threading.Lock()
        self._configurations: dict[str, tuple[float, dict[str, Any] | None]] = {}

    def mapping(self, serial: str) -> DeviceMapping | None:
        return self.registry.get(serial) if self.registry is not None else None

    def target(self, serial: str) -> TicketTarget:
        """The device's ticket target; raises DeviceUnmapped when nothing maps it yet."""
        mapping = self.mapping(serial)
        if mapping is not None:
            configuration_id = mapping.configuration_id
            if configuration_id is None:
                found = self.configuration(serial)
                configuration_id = int(found["id"]) if found else None
            return TicketTarget(
                serial,
                mapping.company_id,
                mapping.contact_id,
                configuration_id,
                mapping.board or self.defaults.board,
                mapping.status or self.defaults.status,
                mapping.device_type or self.defaults.device_type or None,
                mapping.agent_type or self.defaults.agent_type or None,
                mapping.subtype or self.defaults.subtype or None,
                "registry",
            )
        found = self.configuration(serial)
        if found is None or not (found.get("company") or {}).get("id"):
            raise DeviceUnmapped(
                f"device {serial} is not onboarded and no ConnectWise configuration has serial number {serial}"
            )
        return TicketTarget(
            serial,
            int(found["company"]["id"]),
            int(found["contact"]["id"]) if (found.get("contact") or {}).get("id") else None,
            int(found["id"]),
            self.defaults.board,
            self.defaults.status,
            self.defaults.device_type or None,
            self.defaults.agent_type or None,
            self.defaults.subtype or None,
            "configuration",
        )

    def configuration(self, serial: str) -> dict[str, Any] | None:
        """The device's ConnectWise configuration by serial number (of the Datto type when several match)."""
        now = self._clock()
        with self._lock:
            cached = self._configurations.get(serial)
        if cached is not None:
            moment, found = cached
            if now - moment < (FOUND_SECONDS if found is not None else MISSING_SECONDS):
                return found
        matches = list(
            self.cw.iterate(
                "company/configurations",
                conditions=where("serialNumber", "=", serial),
                fields=["id", "name", "type", "company", "contact", "activeFlag"],
            )
        )
        matches.sort(key=lambda item: (not self._preferred(item), not item.get("activeFlag", True), item["id"]))
        found = matches[0] if matches else None
        with self._lock:
            self._configurations[serial] = (now, found)
        return found

    def _preferred(self, configuration: dict[str, Any]) -> bool:
        name = str((configuration.get("type") or {}).get("name") or "")
        return bool(self.configuration_type) and name.casefold() == self.configuration_type.casefold()
