"""Where the fleet's events go: an HTTP endpoint, a JSON Lines file, or a Python callback.

Nothing is dropped silently: every sink counts what it took, what it delivered and what it
could not (a full queue, a failed delivery, a callback that raised), and says so in `stats()`.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
import requests

log = logging.getLogger("cwsim.fleet.sinks")

ALERT_EVENTS = frozenset({"raise", "repeat", "clear"})
ALL_EVENTS = frozenset({"raise", "repeat", "clear", "usage"})
KEPT_FAILURES = 100
Event = dict[str, Any]


class Sink(Protocol):
    """What the fleet hands its events to."""

    def deliver(self, events: list[Event]) -> None:
        """Take `events` (in order); may block while a bounded queue is full."""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything taken so far is delivered or counted as failed; False on timeout."""

    def stats(self) -> dict[str, Any]: ...

    def close(self, timeout: float = 5.0) -> None: ...


class _Counted:
    """The counters every sink keeps."""

    kind = "none"

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        self.kinds = frozenset(kinds) if kinds is not None else ALL_EVENTS
        self.lock = threading.Lock()
        self.taken = 0
        self.skipped = 0  # events of kinds this sink does not take (e.g. daily usage for an HTTP intake)
        self.delivered = 0
        self.failed = 0
        self.last_error: str | None = None
        self.failures: deque[Event] = deque(maxlen=KEPT_FAILURES)

    def _wanted(self, events: list[Event]) -> list[Event]:
        if self.kinds >= ALL_EVENTS:
            return events
        wanted = [event for event in events if event.get("event") in self.kinds]
        self.skipped += len(events) - len(wanted)
        return wanted

    def _fail(self, events: list[Event], error: str) -> None:
        with self.lock:
            self.failed += len(events)
            self.last_error = error
            self.failures.extend(events)
        log.warning("fleet sink %s could not deliver %d event(s): %s", self.kind, len(events), error)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "kind": self.kind,
                "taken": self.taken,
                "skipped": self.skipped,
                "delivered": self.delivered,
                "failed": self.failed,
                "lastError": self.last_error,
            }

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float = 5.0) -> None:
        return None


class DiscardSink(_Counted):
    """No sink configured: events are counted, not sent (the portal API still shows the alerts)."""

    kind = "none"

    def deliver(self, events: list[Event]) -> None:
        with self.lock:
            self.taken += len(events)


class CallbackSink(_Counted):
    """Calls `callback(event)` for each event, in the fleet's thread; a raising callback counts as a failure."""

    kind = "callback"

    def __init__(self, callback: Callable[[Event], Any], kinds: Iterable[str] | None = None) -> None:
        super().__init__(kinds)
        self.callback = callback

    def deliver(self, events: list[Event]) -> None:
        for event in self._wanted(events):
            self.taken += 1
            try:
                self.callback(event)
            except Exception as error:  # the callback is someone else's code: count it, keep going
                self._fail([event], f"{type(error).__name__}: {error}")
            else:
                self.delivered += 1


class JsonLinesSink(_Counted):
    """One JSON object per line, in event order, to a file (written through a buffer; `flush` syncs it)."""

    kind = "jsonl"

    def __init__(self, target: str | Path | IO[bytes], kinds: Iterable[str] | None = None, append: bool = False):
        super().__init__(kinds)
        if isinstance(target, str | Path):
            self.path: Path | None = Path(target)
            self.handle: IO[bytes] = self.path.open("ab" if append else "wb")
            self._owned = True
        else:
            self.path, self.handle, self._owned = None, target, False

    def deliver(self, events: list[Event]) -> None:
        events = self._wanted(events)
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        self.write_serialized(b"".join([dumps(event, option=newline) for event in events]), len(events))

    def write_serialized(self, lines: bytes, count: int) -> None:
        """Append `count` already serialized lines (the offline runner's fast path)."""
        self.taken += count
        try:
            self.handle.write(lines)
        except OSError as error:
            with self.lock:
                self.failed += count
                self.last_error = f"{type(error).__name__}: {error}"
            log.warning("fleet sink jsonl could not write %d event(s): %s", count, error)
        else:
            self.delivered += count

    def flush(self, timeout: float | None = None) -> bool:
        self.handle.flush()
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.handle.flush()
        if self._owned:
            self.handle.close()

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "path": str(self.path) if self.path else None}


class HttpSink(_Counted):
    """POSTs events as JSON arrays of up to `batch_size` to `url`, from one sender thread.

    The queue holds at most `queue_size` events: `deliver` waits up to `put_timeout` seconds for
    room, then counts what still does not fit as dropped. A batch is retried on connection errors,
    timeouts, 429 and 5xx (up to `max_attempts`, backing off exponentially and honouring
    Retry-After, seconds or an HTTP-date, up to `backoff_max`); any other answer, or running out
    of attempts, counts its events as failed. Any 2xx acknowledges the batch.
    """

    kind = "http"

    def __init__(
        self,
        url: str,
        batch_size: int = 100,
        queue_size: int = 10_000,
        max_attempts: int = 4,
        backoff: float = 0.2,
        backoff_max: float = 5.0,
        timeout: float = 10.0,
        put_timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        kinds: Iterable[str] | None = ALERT_EVENTS,
    ) -> None:
        super().__init__(kinds)
        if batch_size < 1 or queue_size < 1 or max_attempts < 1:
            raise ValueError("batch_size, queue_size and max_attempts must be at least 1")
        self.url = url
        self.batch_size = batch_size
        self.queue_size = queue_size
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.put_timeout = put_timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.queue: deque[Event] = deque()
        self.changed = threading.Condition(self.lock)
        self.pending = 0  # queued or in flight, not yet delivered or failed
        self.dropped = 0
        self.retries = 0
        self.batches = 0
        self.last_status: int | None = None
        self.closing = threading.Event()
        self.sender = threading.Thread(target=self._send_forever, name="cwsim-fleet-http-sink", daemon=True)
        self.sender.start()

    def deliver(self, events: list[Event]) -> None:
        events = self._wanted(events)
        deadline = time.monotonic() + self.put_timeout
        with self.changed:
            self.taken += len(events)
            for index, event in enumerate(events):
                while len(self.queue) >= self.queue_size and not self.closing.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        lost = len(events) - index
                        self.dropped += lost
                        self.last_error = f"queue full ({self.queue_size} events) for {self.put_timeout} s"
                        log.warning("fleet sink http dropped %d event(s): %s", lost, self.last_error)
                        return
                    self.changed.wait(remaining)
                self.queue.append(event)
                self.pending += 1
                self.changed.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within `timeout`), then stop; anything left counts as dropped."""
        self.flush(timeout)
        self.closing.set()
        with self.changed:
            self.changed.notify_all()
        self.sender.join(self.timeout + 1)  # a batch in flight ends within its request timeout, then counts
        with self.changed:
            if self.queue:
                self.dropped += len(self.queue)
                self.pending -= len(self.queue)
                self.last_error = f"{len(self.queue)} event(s) still queued when the sink closed"
                self.queue.clear()

    def stats(self) -> dict[str, Any]:
        counts = super().stats()
        with self.lock:
            return {
                **counts,
                "url": self.url,
                "queued": len(self.queue),
                "pending": self.pending,
                "dropped": self.dropped,
                "batches": self.batches,
                "retries": self.retries,
                "lastStatus": self.last_status,
            }

    def _send_forever(self) -> None:
        session = requests.Session()
        try:
            while True:
                with self.changed:
                    self.changed.wait_for(lambda: self.queue or self.closing.is_set())
                    if not self.queue:
                        return
                    batch = [self.queue.popleft() for _ in range(min(self.batch_size, len(self.queue)))]
                    self.changed.notify_all()  # room in the queue
                error = self._post(session, batch)
                with self.changed:
                    self.pending -= len(batch)
                    if error is None:
                        self.delivered += len(batch)
                        self.batches += 1
                    self.changed.notify_all()
                if error is not None:
                    self._fail(batch, error)
        finally:
            session.close()

    def _post(self, session: requests.Session, batch: list[Event]) -> str | None:
        """Send one batch with retries; None once acknowledged, else why it failed."""
        body = orjson.dumps(batch)
        error = "not sent"
        for attempt in range(self.max_attempts):
            if attempt:
                with self.lock:
                    self.retries += 1
            delay: float | None = None
            try:
                response = session.post(self.url, data=body, headers=self.headers, timeout=self.timeout)
            except requests.RequestException as failure:
                error = f"{type(failure).__name__}: {failure}"
            else:
                with self.lock:
                    self.last_status = response.status_code
                if 200 <= response.status_code < 300:
                    return None
                error = f"HTTP {response.status_code} from {self.url}: {response.text[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    return error  # the receiver rejected these events: sending them again will not help
                delay = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt + 1 < self.max_attempts:
                wait = min(self.backoff_max, delay if delay is not None else self.backoff * 2**attempt)
                if self.closing.wait(wait):
                    return f"{error} (sink closed while retrying)"
        return f"{error} (gave up after {self.max_attempts} attempts)"


# The same parser stands in integration/transport.py (the integration's client):
# the layering rule lets the two parts share no code, so tests/test_retry_after.py runs both over
# one table of cases to keep them alike.
# delta-seconds (RFC 9110 says whole seconds; a decimal is read too, as it is unambiguous)
_DELTA_SECONDS = re.compile(r"[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header's wait in seconds, as delta-seconds or an HTTP-date; None when absent or unreadable.

    A date in the past waits 0 s; `now` (default: the wall clock) is what the date is measured from.
    """
    if value is None:
        return None
    match = _DELTA_SECONDS.fullmatch(value)
    if match:
        return float(match[1])
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # `-0000`: UTC by RFC 5322
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
