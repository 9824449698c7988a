"""Everything one `cwsim serve` process holds: the tenant's ConnectWise, the clock, the journal, the state."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from .clock import Clock, WallClock
from .connectwise.backend import Backend
from .connectwise.tenant import DEFAULT_COMPANIES, default_tenant
from .connectwise.tenant_file import load_tenant_file
from .faults import FaultBook, FaultSpec
from .journal import Journal
from .mail import Mailbox
from .state import ConnectWiseState, WorldState


@dataclass
class WorldOptions:
    seed: int = 0
    companies: int = DEFAULT_COMPANIES
    journal_size: int = 10_000
    tenant: str | Path | None = None  # a tenant file (path or built-in name); None: the generated tenant
    faults: tuple[FaultSpec, ...] = ()  # rules in place from the start, and again after each reset


class World:
    """The shared state behind every face of the server (API, admin, fleet, mail).

    Requests read `backend` once and keep using what they read, so swapping in another backend
    (a new tenant, a restored state) is one assignment: atomic for them.
    """

    def __init__(self, options: WorldOptions | None = None, clock: Clock | None = None) -> None:
        self.options = options or WorldOptions()
        self.clock: Clock = clock or WallClock()
        self.faults = FaultBook(simulated=lambda: self.clock.now(), default_seed=self.options.seed)
        self.faults.set_initial(self.options.faults)
        # Store listeners (fault triggers, stats) belong to the world, not to one tenant's store.
        self.store_listeners = [self.faults.on_store_event]
        if self.options.tenant is not None:
            self.backend = load_tenant_file(self.options.tenant, self.clock)
        else:
            self.backend = default_tenant(self.options.seed, self.options.companies, self.clock)
        self.journal = Journal(self.options.journal_size)
        self.mailbox = Mailbox(self.clock)
        self.errors: list[str] = []  # tracebacks of unexpected server errors, for tests to surface
        self._lock = threading.RLock()
        self._tenant = self._startup = (self.backend, self.backend.store.snapshot())
        self.state = WorldState()
        self.state.register(ConnectWiseState(self))

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

    def reset(self, startup: bool = False) -> None:
        """Back to the start: the tenant's seed state (from the snapshot taken when it was loaded,
        not regenerated), an empty journal and mailbox, and the fault rules given at start.

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
            self.faults.reset()

    def load_tenant(self, backend: Backend) -> None:
        """Serve a new tenant: it becomes what `reset` goes back to; the journal starts afresh."""
        with self._lock:
            self.backend = backend
            self._tenant = (backend, backend.store.snapshot())
            self.journal.clear()

    def use_backend(self, backend: Backend) -> None:
        """Serve `backend` from now on (a restored state); `reset` still goes back to the tenant."""
        with self._lock:
            self.backend = backend
