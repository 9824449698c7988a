"""A sliding-window rate limiter on wall time: at most N requests per window per key."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` requests per `window` seconds per key, over a sliding window of wall time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.seen: dict[str, deque[float]] = {}

    def retry_after(self, key: str, limit: int, window: float) -> float | None:
        """Record a request by `key`; None if it is allowed, else the seconds until it would be."""
        if limit <= 0:
            return None
        now = self.clock()
        with self.lock:
            seen = self.seen.setdefault(key, deque())
            while seen and seen[0] <= now - window:
                seen.popleft()
            if len(seen) >= limit:
                return seen[0] + window - now
            seen.append(now)
            return None

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
