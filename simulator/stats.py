"""Throughput counters for `GET /_sim/stats`: requests served, tickets created, notes added, mail caught.

Each is counted where it happens (a request hook, a store listener, the mailbox), so reading
them costs the same however many records the fake holds: a load test may poll every second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .connectwise.store import StoreEvent

WINDOW_SECONDS = 5  # the per-second rates are over the last whole seconds of this window
TICKETS = "service/tickets"
NOTES = "service/tickets/notes"


class RateCounter:
    """A count in total and per whole second, with the rate over a short sliding window; `add` is O(1)."""

    def __init__(self, window: int = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        # A ring of one-second buckets: slot `second % size` holds that second's count (one spare
        # slot for the second in progress, which the rate leaves out).
        self._seconds = [-1] * (window + 1)
        self._counts = [0] * (window + 1)
        self.total = 0

    def add(self, count: int = 1) -> None:
        second = int(self._clock())
        slot = second % len(self._counts)
        with self._lock:
            if self._seconds[slot] != second:
                self._seconds[slot] = second
                self._counts[slot] = 0
            self._counts[slot] += count
            self.total += count

    def per_second(self) -> float:
        """The mean per second over the last `window` whole seconds (the one in progress left out)."""
        now = int(self._clock())
        with self._lock:
            recent = sum(
                count
                for second, count in zip(self._seconds, self._counts, strict=True)
                if now - self.window <= second < now
            )
        return recent / self.window

    def reset(self) -> None:
        with self._lock:
            self._seconds = [-1] * len(self._seconds)
            self._counts = [0] * len(self._counts)
            self.total = 0

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "per_second": round(self.per_second(), 3)}


class SimStats:
    """What the fake has served and made since it started (or was last reset)."""

    def __init__(self, window: int = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.requests = RateCounter(window, clock)  # ConnectWise and portal API requests (not /_sim)
        self.tickets_created = RateCounter(window, clock)
        self.notes_added = RateCounter(window, clock)  # a ticket's initialDescription becomes a note too
        self.mail_caught = RateCounter(window, clock)

    def on_store_event(self, event: StoreEvent) -> None:
        """A store listener: every committed insert into tickets or notes."""
        if event.kind != "insert":
            return
        if event.table == TICKETS:
            self.tickets_created.add()
        elif event.table == NOTES:
            self.notes_added.add()

    def reset(self) -> None:
        for counter in (self.requests, self.tickets_created, self.notes_added, self.mail_caught):
            counter.reset()

    def as_json(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window,
            "requests": self.requests.as_json(),
            "tickets_created": self.tickets_created.as_json(),
            "notes_added": self.notes_added.as_json(),
            "mail_caught": self.mail_caught.as_json(),
        }
