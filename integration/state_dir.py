"""The integration's state folder (`state_dir`): which file holds what, in one place for every command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["StateDir"]


@dataclass(frozen=True)
class StateDir:
    """`StateDir(settings.state_dir).outbox` and so on; `create()` makes the folder."""

    root: Path

    @classmethod
    def of(cls, path: str | Path) -> StateDir:
        return cls(Path(path))

    def create(self) -> StateDir:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def outbox(self) -> Path:
        """Every alert event and its delivery state (outbox.py)."""
        return self.root / "outbox.sqlite3"

    @property
    def registry(self) -> Path:
        """Device mappings, written by onboarding and read by alerts and billing (registry.py)."""
        return self.root / "devices.sqlite3"

    @property
    def holdback(self) -> Path:
        """When each device and alert type last emailed (holdback.py)."""
        return self.root / "email-holdback.sqlite3"

    @property
    def poller(self) -> Path:
        """The portal alerts the poller last saw active (poller.py)."""
        return self.root / "portal-alerts.sqlite3"

    @property
    def billing(self) -> Path:
        """The months billed, and since when the service has watched month ends (billing_record.py)."""
        return self.root / "billing.sqlite3"
