"""Which ConnectWise records each Datto device maps to: written by onboarding, read by alerts and billing.

One SQLite file in the state folder; a connection per thread. A device the onboarding could not
match stays listed as unmatched (with the reason and the candidates) until it is mapped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .state_dir import StateDir

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    serial TEXT PRIMARY KEY,
    mapping TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unmatched (
    serial TEXT PRIMARY KEY,
    client_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    candidates TEXT NOT NULL
);
"""


def registry_path(state_dir: str | Path) -> Path:
    """Where the registry lives in the integration's state folder (`settings.state_dir`)."""
    return StateDir.of(state_dir).registry


@dataclass
class DeviceMapping:
    """Everything the integration needs to act for one appliance in ConnectWise."""

    serial: str
    family: str  # SIRIS | ALTO | CLOUD
    client_name: str  # the client as the Datto portal names it
    device_name: str
    company_id: int
    company_identifier: str
    contact_id: int | None = None
    agreement_id: int | None = None
    product_identifier: str | None = None
    configuration_id: int | None = None
    board: str = "Datto Alerts"
    status: str = "New"
    device_type: str | None = None
    agent_type: str | None = None
    subtype: str | None = None
    device_route: str = "both"  # ticket | email | both | none
    agent_route: str = "both"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> DeviceMapping:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass
class UnmatchedDevice:
    serial: str
    client_name: str
    reason: str
    candidates: list[str]


class DeviceRegistry:
    """Device mappings and the devices still waiting for one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as connection:
            connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def get(self, serial: str) -> DeviceMapping | None:
        row = self._connection().execute("SELECT mapping FROM devices WHERE serial = ?", (serial,)).fetchone()
        return DeviceMapping.from_json(row[0]) if row else None

    def put(self, mapping: DeviceMapping) -> None:
        """Store a device's mapping; it is no longer unmatched."""
        connection = self._connection()
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO devices (serial, mapping) VALUES (?, ?) "
                "ON CONFLICT(serial) DO UPDATE SET mapping = excluded.mapping",
                (mapping.serial, json.dumps(asdict(mapping), sort_keys=True)),
            )
            connection.execute("DELETE FROM unmatched WHERE serial = ?", (mapping.serial,))

    def all(self) -> list[DeviceMapping]:
        rows = self._connection().execute("SELECT mapping FROM devices ORDER BY serial").fetchall()
        return [DeviceMapping.from_json(row[0]) for row in rows]

    def mark_unmatched(self, device: UnmatchedDevice) -> None:
        connection = self._connection()
        with connection:
            connection.execute(
                "INSERT INTO unmatched (serial, client_name, reason, candidates) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(serial) DO UPDATE SET client_name = excluded.client_name, "
                "reason = excluded.reason, candidates = excluded.candidates",
                (device.serial, device.client_name, device.reason, json.dumps(device.candidates)),
            )

    def unmatched(self) -> list[UnmatchedDevice]:
        rows = (
            self._connection()
            .execute("SELECT serial, client_name, reason, candidates FROM unmatched ORDER BY serial")
            .fetchall()
        )
        return [
            UnmatchedDevice(serial, name, reason, json.loads(candidates)) for serial, name, reason, candidates in rows
        ]

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
