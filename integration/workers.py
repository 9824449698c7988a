"""The delivery workers: N threads that claim alerts from the outbox and deliver them, retrying what fails.

What happens to a delivery that fails:

- a transient ConnectWise failure (429, 5xx, a lost or refused connection, an outage, 401/403
  while credentials are being fixed) keeps its state and is retried later, with exponential
  backoff (jittered, honouring Retry-After), for as long as it takes: it is never dropped. It also
  trips the circuit breaker: until its pause is over, no delivery calls ConnectWise (each sends
  its email and puts its ticket part back), so an outage is probed, not hammered;
- a device nobody mapped yet, or a board/status/type ConnectWise lacks, is *held*: retried every
  `hold_retry_seconds` and counted in /status, so nothing is lost once it is set up;
- a permanent error (400 InvalidObject from bad data, 404) fails the delivery with the reason;
- an email that failed for now is retried the same way (the ticket is not held up by it).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from .boards import SetupProblem
from .connectwise import AuthenticationError, ConnectWiseError, PermissionDenied, RateLimited, ServerError
from .connectwise_errors import TransportError
from .delivery import AlertDeliverer, ConnectWiseResting, MailPending
from .outbox import ClaimLost, Delivery, Outbox
from .settings import AlertSettings
from .targets import DeviceUnmapped

__all__ = ["CircuitBreaker", "DeliveryWorkers", "Doorbell"]

log = logging.getLogger("cwsim.integration.workers")

IDLE_SECONDS = 0.25  # an idle worker looks again this often (retries come due) unless the doorbell rings
CLAIM_BATCH = 4
UNEXPECTED_ATTEMPTS = 5  # a bug (not a ConnectWise failure) fails the delivery after this many tries
TRANSIENT_STATUSES = frozenset({408, 409, 423, 425})
BREAKER_CAP_SECONDS = 10.0  # during an outage, the workers look again at least this often


class Doorbell:
    """The intake rings it when new alerts are stored, so an idle worker claims them at once.

    A ring wakes one idle worker; one that then claims a full batch rings again, so a big batch
    wakes as many workers as it needs, one after the other. Waking every idle worker for each
    POST made each of them run a claim (an outbox write) that mostly found nothing: at a steady
    rate of single-alert POSTs below capacity, that is several empty claims per alert.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.rings = 0

    def ring(self) -> None:
        with self._condition:
            self.rings += 1
            self._condition.notify()

    def ring_all(self) -> None:
        """Wake every waiting worker (to stop)."""
        with self._condition:
            self.rings += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Until it rings after `seen` (the value of `rings` read before looking for work), or the timeout."""
        with self._condition:
            self._condition.wait_for(lambda: self.rings != seen, timeout)


class CircuitBreaker:
    """After `threshold` transient ConnectWise failures in a row, nobody calls ConnectWise for a pause.

    The pause doubles with each further failure in a row (up to `cap`); a 429's Retry-After opens
    it at once, for that long. A success closes it. Scattered failures (a flaky 30%) never open it:
    their deliveries just retry.
    """

    @classmethod
    def for_settings(cls, settings: AlertSettings) -> CircuitBreaker:
        return cls(base=settings.retry_base_seconds, cap=min(BREAKER_CAP_SECONDS, settings.retry_max_seconds))

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 10.0,
        threshold: int = 3,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.cap = cap
        self.threshold = threshold
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0

    def trip(self, retry_after: float | None = None) -> float:
        """Record a failure; returns the pause it starts (0 while under the threshold)."""
        with self._lock:
            self._failures += 1
            beyond = self._failures - self.threshold
            pause = min(self.cap, self.base * 2 ** min(beyond, 16)) if beyond >= 0 else 0.0
            if retry_after:
                pause = max(pause, min(retry_after, self.cap))
            self._open_until = max(self._open_until, self._clock() + pause)
            return pause

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0

    @property
    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._open_until - self._clock())


def is_transient(error: ConnectWiseError) -> bool:
    """A failure that may pass by itself (or once someone fixes the credentials): retry, never drop."""
    if isinstance(error, RateLimited | ServerError | TransportError | AuthenticationError | PermissionDenied):
        return True
    return error.status is None or error.status in TRANSIENT_STATUSES


class DeliveryWorkers:
    """`count` threads delivering from the outbox until `stop()`."""

    def __init__(
        self,
        outbox: Outbox,
        deliverer: AlertDeliverer,
        settings: AlertSettings,
        *,
        count: int | None = None,
        doorbell: Doorbell | None = None,
        breaker: CircuitBreaker | None = None,
        name: str = "worker",
    ) -> None:
        self.outbox = outbox
        self.deliverer = deliverer
        self.settings = settings
        self.count = settings.workers if count is None else count
        self.doorbell = doorbell or Doorbell()
        self.breaker = breaker or CircuitBreaker.for_settings(settings)
        self.name = name
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._random = random.Random()

    def start(self) -> DeliveryWorkers:
        for number in range(1, self.count + 1):
            thread = threading.Thread(target=self._run, args=(f"{self.name}-{number}",), name=f"delivery-{number}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask every worker to finish its current delivery and give back the rest; False if one did not in time."""
        self._stop.set()
        self.doorbell.ring_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            log.warning("still delivering at stop: %s (their claims come back through recover())", ", ".join(alive))
        return not alive

    @property
    def running(self) -> int:
        return sum(thread.is_alive() for thread in self._threads)

    def _run(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                rung = self.doorbell.rings
                batch = self.outbox.claim(worker, limit=CLAIM_BATCH)
            except Exception:
                log.exception("%s could not claim from the outbox", worker)
                self._stop.wait(1.0)
                continue
            if not batch:
                self.doorbell.wait(rung, IDLE_SECONDS)
                continue
            if len(batch) == CLAIM_BATCH:
                self.doorbell.ring()  # there may be more: wake the next idle worker
            for index, delivery in enumerate(batch):
                if self._stop.is_set():
                    self._give_back(batch[index:], worker)
                    return
                self._attempt(delivery, worker)

    def _attempt(self, delivery: Delivery, worker: str) -> None:
        try:
            if self.deliverer.deliver(delivery, worker):
                self.breaker.succeeded()
        except (DeviceUnmapped, SetupProblem) as error:
            (log.info if not delivery.held else log.debug)("alert delivery %s held: %s", delivery.id, error)
            self._settle(self.outbox.hold, delivery, worker, f"held: {error}", self.settings.hold_retry_seconds)
        except ConnectWiseResting as error:
            delay = error.pause * self._random.uniform(1.0, 1.5)  # spread the probes when the pause ends
            self._settle(self.outbox.retry_later, delivery, worker, str(error), delay)
        except MailPending as error:
            self._settle(self.outbox.retry_later, delivery, worker, f"email: {error}", self._backoff(delivery))
        except ClaimLost as error:
            log.warning("%s", error)
        except ConnectWiseError as error:
            if is_transient(error):
                pause = self.breaker.trip(error.retry_after)
                delay = self._backoff(delivery, error.retry_after)
                log.info(
                    "alert delivery %s will be retried in %.2f s (workers pause %.2f s): %s",
                    delivery.id,
                    delay,
                    pause,
                    error,
                )
                self._settle(self.outbox.retry_later, delivery, worker, str(error), delay)
            else:
                log.warning("alert delivery %s failed: %s", delivery.id, error)
                self._settle(self.outbox.mark_failed, delivery, worker, str(error))
        except Exception as error:
            log.exception("alert delivery %s: unexpected error", delivery.id)
            reason = f"unexpected {type(error).__name__}: {error}"
            if delivery.attempts >= UNEXPECTED_ATTEMPTS:
                self._settle(self.outbox.mark_failed, delivery, worker, reason)
            else:  # our own failure, not ConnectWise's: it stays the integration's work to do
                self._settle(self.outbox.retry_later, delivery, worker, reason, self._backoff(delivery), outside=False)

    def _settle(
        self, move: Callable[..., None], delivery: Delivery, worker: str, *args: object, **kwargs: object
    ) -> None:
        """Record the outcome; if even that fails, the lease brings the delivery back later."""
        try:
            move(delivery.id, worker, *args, **kwargs)
        except ClaimLost as error:
            log.warning("%s", error)
        except Exception:
            log.exception("could not record the outcome of alert delivery %s", delivery.id)

    def _backoff(self, delivery: Delivery, retry_after: float | None = None) -> float:
        base, cap = self.settings.retry_base_seconds, self.settings.retry_max_seconds
        delay = min(cap, base * 2 ** min(max(delivery.attempts - 1, 0), 30)) * self._random.uniform(0.5, 1.0)
        return max(delay, min(retry_after or 0.0, cap))

    def _give_back(self, deliveries: list[Delivery], worker: str) -> None:
        for delivery in deliveries:
            self._settle(self.outbox.release, delivery, worker)
