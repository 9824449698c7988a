"""Everything one `cwsim serve` process holds: the tenant's ConnectWise, the clock, the journal."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock, WallClock
from .connectwise.backend import Backend
from .connectwise.tenant import DEFAULT_COMPANIES, default_tenant
from .faults import FaultBook, FaultSpec
from .journal import Journal


@dataclass
class WorldOptions:
    seed: int = 0
    companies: int = DEFAULT_COMPANIES
    journal_size: int = 10_000
    faults: tuple[FaultSpec, ...] = ()  # rules in place from the start, and again after each reset


class World:
    """The shared state behind every face of the server (API, admin, later the fleet)."""

    def __init__(self, options: WorldOptions | None = None, clock: Clock | None = None) -> None:
        self.options = options or WorldOptions()
        self.clock: Clock = clock or WallClock()
        self.faults = FaultBook(simulated=lambda: self.clock.now(), default_seed=self.options.seed)
        self.faults.set_initial(self.options.faults)
        self.backend = default_tenant(self.options.seed, self.options.companies, self.clock)
        self.journal = Journal(self.options.journal_size)
        self.errors: list[str] = []  # tracebacks of unexpected server errors, for tests to surface
        self._initial = self.backend.store.snapshot()

    @property
    def backend(self) -> Backend:
        return self._backend

    @backend.setter
    def backend(self, backend: Backend) -> None:
        """A new backend (another tenant) gets the fault book's store listener too."""
        self._backend = backend
        if self.faults.on_store_event not in backend.store.listeners:
            backend.store.listeners.append(self.faults.on_store_event)

    def reset(self) -> None:
        """Back to the start: the tenant's seed state (from the snapshot taken at start, not
        regenerated), an empty journal, and the fault rules given at start (usually none)."""
        self.backend.store.restore(self._initial)
        self.journal.clear()
        self.faults.reset()
