"""Everything one `cwsim serve` process holds: the tenant's ConnectWise, the clock, the journal."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock, WallClock
from .connectwise.backend import Backend
from .connectwise.tenant import DEFAULT_COMPANIES, default_tenant
from .journal import Journal
from .mail import Mailbox


@dataclass
class WorldOptions:
    seed: int = 0
    companies: int = DEFAULT_COMPANIES
    journal_size: int = 10_000


class World:
    """The shared state behind every face of the server (API, admin, later the fleet)."""

    def __init__(self, options: WorldOptions | None = None, clock: Clock | None = None) -> None:
        self.options = options or WorldOptions()
        self.clock: Clock = clock or WallClock()
        self.backend: Backend = default_tenant(self.options.seed, self.options.companies, self.clock)
        self.journal = Journal(self.options.journal_size)
        self.mailbox = Mailbox(self.clock)
        self.errors: list[str] = []  # tracebacks of unexpected server errors, for tests to surface
        self._initial = self.backend.store.snapshot()

    def reset(self) -> None:
        """Back to the tenant's seed state, from the snapshot taken at start (not regenerated)."""
        self.backend.store.restore(self._initial)
        self.journal.clear()
        self.mailbox.clear()
