"""Everything one `cwsim serve` process holds: the tenant's ConnectWise, the clock, the journal, the Datto fleet."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .clock import ClockMode, SimClock
from .connectwise.backend import Backend
from .connectwise.tenant import DEFAULT_COMPANIES, default_tenant
from .datto.portal import Portal
from .datto.settings import FleetSpec, PortalSettings
from .datto.simulation import FleetSimulation
from .datto.sinks import DiscardSink, HttpSink, Sink
from .journal import Journal
from .timekeeping import TimeKeeper


@dataclass
class WorldOptions:
    seed: int = 0
    companies: int = DEFAULT_COMPANIES
    journal_size: int = 10_000
    # The simulated clock, the Datto fleet and its portal API (simulator/datto/).
    clock_mode: str = ClockMode.WALL
    clock_rate: float = 1.0
    clock_start: datetime | None = None  # None: the real time when the world is made
    fleet: FleetSpec | None = None  # None: the default spec, seeded with `seed`
    fleet_sink_url: str | None = None  # where the fleet POSTs its alert events; None: nowhere
    portal: PortalSettings = field(default_factory=PortalSettings)


class World:
    """The shared state behind every face of the server (ConnectWise API, portal API, admin)."""

    def __init__(self, options: WorldOptions | None = None, clock: SimClock | None = None) -> None:
        self.options = options or WorldOptions()
        self.clock = clock or SimClock(self.options.clock_mode, self.options.clock_start, self.options.clock_rate)
        self.backend: Backend = default_tenant(self.options.seed, self.options.companies, self.clock)
        self.journal = Journal(self.options.journal_size)
        self.errors: list[str] = []  # tracebacks of unexpected server errors, for tests to surface
        self._initial = self.backend.store.snapshot()
        self._add_fleet()

    def _add_fleet(self) -> None:
        spec = self.options.fleet or FleetSpec(seed=self.options.seed)
        start = self.clock.now().replace(microsecond=0)
        self.fleet = FleetSimulation(spec, company_names(self.backend), start, sink=self._serve_sink())
        self.portal = Portal(self.options.portal)
        self.time = TimeKeeper(self.clock, self.fleet, on_error=self.errors.append)
        self._initial_clock = self.clock.state()

    def _serve_sink(self) -> Sink:
        url = self.options.fleet_sink_url
        return HttpSink(url) if url else DiscardSink()

    def start(self) -> None:
        """Start what runs by itself: the fleet following a running clock."""
        self.time.start()

    def close(self) -> None:
        self.time.stop()
        self.fleet.sink.close(timeout=2.0)

    def reset(self) -> None:
        """Back to the start: the tenant's seed state, the clock and the fleet, from snapshots taken at start."""
        self.backend.store.restore(self._initial)
        self.journal.clear()
        with self.time.moving:
            self.clock.restore(self._initial_clock)
            self.fleet.restore()
            previous = self.fleet.replace_sink(self._serve_sink())
        previous.close(timeout=1.0)
        self.portal.settings = self.options.portal
        self.portal.limiter.reset()


def company_names(backend: Backend) -> list[str]:
    """The tenant's company names in id order: the fleet draws its clients from them."""
    records = backend.store.table("company/companies").records
    return [records[record_id]["name"] for record_id in sorted(records)]
