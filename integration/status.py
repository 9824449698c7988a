"""`GET /status`: the intake's counters and the outbox's states, held alerts, mail outcomes and lag, as JSON."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .outbox import Outbox, OutboxStats

__all__ = ["IntakeCounters", "StatusBoard", "caught_up", "drained"]

CACHE_SECONDS = 0.5  # many pollers, one outbox query per half second


# The two documented comparisons on the /status document (docs/integration.md, "Waiting for the
# integration"); the scenario runner and the load runner use exactly these.


def caught_up(status: Mapping[str, Any]) -> bool:
    """Nothing is the integration's own to do: what is left waits for something outside it (`todo == 0`)."""
    return status["todo"] == 0


def drained(status: Mapping[str, Any]) -> bool:
    """Everything that can go has gone: what is left waits for a device to be mapped (`depth == held`)."""
    return status["depth"] == status["held"]


@dataclass
class IntakeCounters:
    """What the intake has seen since the process started (thread-safe)."""

    accepted: int = 0  # alert events acknowledged, re-deliveries included
    new: int = 0  # of those, stored for the first time
    ignored: int = 0  # usage records and other non-alerts
    rejected: int = 0  # requests refused as invalid (nothing of them stored)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def count(self, *, accepted: int = 0, new: int = 0, ignored: int = 0, rejected: int = 0) -> None:
        with self._lock:
            self.accepted += accepted
            self.new += new
            self.ignored += ignored
            self.rejected += rejected

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "accepted": self.accepted,
                "duplicates": self.accepted - self.new,
                "ignored": self.ignored,
                "rejected": self.rejected,
            }


class StatusBoard:
    """Builds the /status document, caching the outbox's numbers briefly so polling stays cheap under load.

    The cache is dropped whenever events are stored, so a depth of 0 always means every event
    acknowledged so far is finished; only progress may show up to half a second late.
    """

    def __init__(
        self,
        outbox: Outbox,
        counters: IntakeCounters,
        *,
        workers: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outbox = outbox
        self.counters = counters
        self.workers = workers
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._cached: tuple[float, OutboxStats] | None = None

    def invalidate(self) -> None:
        """New events were stored: the next report reads the outbox again (a cached depth never hides them)."""
        with self._lock:
            self._cached = None

    def _stats(self, fresh: bool = False) -> OutboxStats:
        now = self._clock()
        with self._lock:
            if fresh or self._cached is None or now - self._cached[0] >= CACHE_SECONDS:
                self._cached = (now, self.outbox.stats())
            return self._cached[1]

    def report(self, fresh: bool = False) -> dict[str, Any]:
        """The document; `fresh` reads the outbox now (for one poller waiting on a drain, not for load)."""
        stats = self._stats(fresh)
        return {
            **self.counters.snapshot(),
            "depth": stats.depth,
            "states": stats.states,
            "delivered": stats.delivered,
            "failed": stats.failed,
            "skipped": stats.states["skipped"],
            "todo": stats.todo,
            "held": stats.held,
            "waiting": stats.waiting,
            "mail": stats.mail,
            "lag_seconds": stats.lag,
            "workers": self.workers(),
            "uptime_seconds": round(self._clock() - self._started, 3),
        }
