"""Everything one `cwsim serve` process holds: the tenant's ConnectWise, the clock, the Datto fleet,
the journal, the mailbox, the fault rules, the stubs, and the state they make together."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from .callbacks import CallbackDispatcher
from .clock import ClockMode, SimClock
from .clock_state import ClockPart
from .connectwise.backend import Backend
from .connectwise.tenant import DEFAULT_COMPANIES, default_tenant
from .connectwise.tenant_file import load_tenant_file
from .datto.fleet_state import FleetState
from .datto.portal import Portal
from .datto.settings import FleetSpec, PortalSettings
from .datto.simulation import FleetSimulation
from .datto.sinks import DiscardSink, HttpSink, Sink
from .fault_triggers import StoreDomain
from .faults import FaultBook, FaultSpec
from .journal import Journal
from .mail import Mailbox, MailState
from .state import ConnectWiseState, WorldState
from .stats import SimStats
from .stubs import StubBook, StubSpec
from .timekeeping import TimeKeeper
from .views import FaultsView, JournalView, StubsView


@dataclass
class WorldOptions:
    seed: int = 0
    companies: int = DEFAULT_COMPANIES
    journal_size: int = 10_000
    tenant: str | Path | None = None  # a tenant file (path or built-in name); None: the generated tenant
    faults: tuple[FaultSpec, ...] = ()  # rules in place from the start, and again after each reset
    stubs: tuple[StubSpec, ...] = ()  # stubs in place from the start (`--replay`), ahead of the tenant file's
    # The simulated clock, the Datto fleet and its portal API (simulator/datto/).
    clock_mode: str = ClockMode.WALL
    clock_rate: float = 1.0
    clock_start: datetime | None = None  # None: the real time when the world is made
    fleet: FleetSpec | None = None  # None: the default spec, seeded with `seed`
    fleet_sink_url: str | None = None  # where the fleet POSTs its alert events; None: nowhere
    portal: PortalSettings = field(default_factory=PortalSettings)


class World:
    """The shared state behind every face of the server (ConnectWise API, portal API, admin, mail).

    Requests read `backend` once and keep using what they read, so swapping in another backend
    (a new tenant, a restored state) is one assignment: atomic for them.
    """

    def __init__(self, options: WorldOptions | None = None, clock: SimClock | None = None) -> None:
        self.options = options or WorldOptions()
        self.clock = clock or SimClock(self.options.clock_mode, self.options.clock_start, self.options.clock_rate)
        self.faults = FaultBook(simulated=lambda: self.clock.now(), default_seed=self.options.seed)
        self.faults.set_initial(self.options.faults)
        self.faults.domain = StoreDomain(lambda: self.backend)
        self.stats = SimStats()
        self.journal = Journal(self.options.journal_size)
        self.callbacks = CallbackDispatcher(lambda: self.backend, self.journal, self.faults, self.clock)
        # Store listeners (fault triggers, stats, callbacks) belong to the world, not to one tenant's store.
        self.store_listeners = [self.faults.on_store_event, self.stats.on_store_event, self.callbacks.on_store_event]
        if self.options.tenant is not None:
            self.backend = load_tenant_file(self.options.tenant, self.clock)
        else:
            self.backend = default_tenant(self.options.seed, self.options.companies, self.clock)
        self.stubs = StubBook()
        self._use_tenant_stubs()
        self.mailbox = Mailbox(self.clock)
        self.mailbox.listeners.append(lambda mail: self.stats.mail_caught.add())
        self.errors: list[str] = []  # tracebacks of unexpected server errors, for tests to surface
        self._lock = threading.RLock()
        self._tenant = self._startup = (self.backend, self.backend.store.snapshot())
        self._add_fleet()
        self.state = WorldState(still=self._still)
        self.state.register(ConnectWiseState(self))
        self.state.register(MailState(self.mailbox))
        self.state.register(ClockPart(self.time))
        self.state.register(FleetState(self.fleet))
        self.state.register_view(JournalView(self.journal))
        self.state.register_view(FaultsView(self.faults))
        self.state.register_view(StubsView(self.stubs))

    def _use_tenant_stubs(self) -> None:
        """The stubs a reset goes back to: the server's own (`--replay`), then the served tenant file's."""
        self.stubs.set_initial((*self.options.stubs, *self.backend.stubs))

    def _add_fleet(self) -> None:
        spec = self.options.fleet or FleetSpec(seed=self.options.seed)
        start = self.clock.now().replace(microsecond=0)
        self.fleet = FleetSimulation(spec, company_names(self.backend), start, sink=self._serve_sink())
        self.portal = Portal(self.options.portal)
        self.time = TimeKeeper(self.clock, self.fleet, on_error=self.errors.append)
        self._initial_clock = self.clock.state()

    @contextmanager
    def _still(self) -> Iterator[None]:
        """Nothing else changes the world, and neither clock nor fleet moves (a wall clock's time aside), while
        its state is dumped or a restored one goes in."""
        with self._lock, self.time.moving:
            yield

    def _serve_sink(self) -> Sink:
        url = self.options.fleet_sink_url
        return HttpSink(url) if url else DiscardSink()

    @property
    def backend(self) -> Backend:
        return self._backend

    @backend.setter
    def backend(self, backend: Backend) -> None:
        """Serve `backend`; the world's store listeners go with it."""
        for listener in self.store_listeners:
            if listener not in backend.store.listeners:
                backend.store.listeners.append(listener)
        self._backend = backend

    def start(self) -> None:
        """Start what runs by itself: the fleet following a running clock."""
        self.time.start()

    def close(self) -> None:
        self.callbacks.close()
        self.time.stop()
        self.fleet.sink.close(timeout=2.0)

    def reset(self, startup: bool = False) -> None:
        """Back to the start: the tenant's seed state (from the snapshot taken when it was loaded,
        not regenerated), the clock and the fleet, an empty journal and mailbox, the start faults and stubs.

        `startup=True` goes back to the tenant the server started with, even after a new one was loaded.
        """
        with self._lock:
            if startup:
                self._tenant = self._startup
            backend, snapshot = self._tenant
            backend.store.restore(snapshot)
            self.backend = backend
            self.journal.clear()
            self.mailbox.clear()
            self.stats.reset()
            self.faults.reset()
            self._use_tenant_stubs()
            with self.time.moving:
                self.clock.restore(self._initial_clock)
                self.fleet.client_names = company_names(backend)
                self.fleet.restore()
                previous = self.fleet.replace_sink(self._serve_sink())
            previous.close(timeout=1.0)
            self.portal.settings = self.options.portal
            self.portal.limiter.reset()

    def load_tenant(self, backend: Backend) -> None:
        """Serve a new tenant: it becomes what `reset` goes back to; the journal starts afresh."""
        with self._lock:
            self.backend = backend
            self._tenant = (backend, backend.store.snapshot())
            self.journal.clear()
            self._use_tenant_stubs()

    def use_seed(self, seed: int) -> None:
        """A generated tenant and a fleet from another seed (until `reset(startup=True)`)."""
        with self._lock:
            self.load_tenant(default_tenant(seed, self.options.companies, self.clock))
            self.fleet.client_names = company_names(self.backend)
            self.fleet.regenerate(replace(self.fleet.fleet.spec, seed=seed))

    def use_backend(self, backend: Backend) -> None:
        """Serve `backend` from now on (a restored state); `reset` still goes back to the tenant."""
        with self._lock:
            self.backend = backend


def company_names(backend: Backend) -> list[str]:
    """The tenant's company names in id order: the fleet draws its clients from them."""
    records = backend.store.table("company/companies").records
    return [records[record_id]["name"] for record_id in sorted(records)]
