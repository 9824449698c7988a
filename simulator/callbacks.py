"""ConnectWise callbacks that really fire: a write the fake commits is POSTed to every `system/callbacks`
registration that watches it, from a worker thread, with a bounded timeout, journaled, subject to the
fault rules (a rule on path `callbacks/<type>` delays or drops the delivery).

The store listener only queues; a slow or dead receiver holds up the worker, never a request.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import requests

from .clock import Clock
from .connectwise.backend import Backend
from .connectwise.callback_entries import ACTIONS, CALLBACKS, callback_body, delivery_url, watches
from .connectwise.store import Record, StoreEvent
from .faults import FaultBook, FaultRequest
from .journal import Journal

log = logging.getLogger("cwsim.callbacks")
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
QUEUE_SIZE = 1000  # deliveries waiting; past it a delivery is journaled as dropped (status 0), not queued
MAX_FAULT_DELAY_S = 30.0  # a fault's delay holds the worker this long at most
DEFAULT_BASE_URL = "http://127.0.0.1/v4_6_release/apis/3.0"
DROPPED = 0  # the journal's status for a delivery that never got an answer


@dataclass(frozen=True)
class Delivery:
    backend: Backend
    callback: Record
    action: str
    table: str
    record: Record


class CallbackDispatcher:
    """Queues a delivery per watching registration for each committed write; one worker thread sends them."""

    def __init__(
        self,
        backend_of: Callable[[], Backend],
        journal: Journal,
        faults: FaultBook,
        clock: Clock,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
    ) -> None:
        self.backend_of = backend_of
        self.journal = journal
        self.faults = faults
        self.clock = clock
        self.timeout = timeout
        self.base_url = DEFAULT_BASE_URL  # the server sets its own once it knows its port
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[Delivery | None] = queue.Queue(QUEUE_SIZE)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._session = requests.Session()

    # -- inside the store lock: cheap ------------------------------------------------------

    def on_store_event(self, event: StoreEvent) -> None:
        if event.table == CALLBACKS:
            return
        backend = self.backend_of()
        callbacks = backend.store.tables.get(CALLBACKS)
        if callbacks is None or not callbacks.records:
            return
        record = event.record if event.record is not None else event.previous
        if record is None:
            return
        for callback in list(callbacks.records.values()):
            if watches(callback, event.table, record):
                self._enqueue(Delivery(backend, callback, ACTIONS[event.kind], event.table, record))

    def _enqueue(self, delivery: Delivery) -> None:
        self._start()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            self.failed += 1
            self._journal(delivery, delivery_url(delivery.callback, delivery.record["id"]), DROPPED, 0.0, b"", None)

    def _start(self) -> None:
        if self._worker is not None or self._stopped.is_set():
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="cwsim-callbacks", daemon=True)
                self._worker.start()

    # -- on the worker thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self.deliver(delivery)
            except Exception:  # a bug here must not end deliveries for the rest of the run
                log.exception("callback delivery failed")
                self.failed += 1

    def deliver(self, delivery: Delivery) -> int:
        """Send one callback POST (or drop it as a fault rule says); journaled either way. Returns the status."""
        backend, record = delivery.backend, delivery.record
        rendered = None
        if delivery.action != "deleted" and delivery.table in backend.collections:
            rendered = backend.renderer(backend.collection(delivery.table)).render(record, self.base_url)
        body = callback_body(
            backend, delivery.callback, delivery.action, delivery.table, record, rendered, self.base_url
        )
        raw = orjson.dumps(body)
        url = delivery_url(delivery.callback, record["id"])
        kind = str(delivery.callback.get("type") or "").casefold()
        decision = self.faults.decide(FaultRequest("POST", f"/callbacks/{kind}")) if self._faulted() else None
        fault = decision.rule.id if decision is not None else None
        started = time.perf_counter()
        if decision is not None and decision.delay_s:
            self._stopped.wait(min(decision.delay_s, MAX_FAULT_DELAY_S))
        answer = decision.answer_now if decision is not None else None
        if answer is not None:  # the fault stands for ConnectWise failing to call: nothing is sent
            self.failed += 1
            self._journal(delivery, url, answer.status, time.perf_counter() - started, raw, fault)
            return answer.status
        try:
            response = self._session.post(
                url, data=raw, headers={"Content-Type": "application/json"}, timeout=self.timeout
            )
            status = response.status_code
            self.sent += 1
        except requests.RequestException as error:
            log.info("callback to %s failed: %s", url, error)
            status = DROPPED
            self.failed += 1
        self._journal(delivery, url, status, time.perf_counter() - started, raw, fault)
        return status

    def _faulted(self) -> bool:
        """Whether any fault rule names callbacks in its path: only then are deliveries put to the rules, so a
        rule meant for API requests (no path, or `*`) is never spent on a callback."""
        rules = self.faults.rules
        return any((rule.selector.path or "").strip("/").casefold().startswith("callbacks") for rule in rules)

    def _journal(
        self, delivery: Delivery, url: str, status: int, seconds: float, raw: bytes, fault: int | None
    ) -> None:
        self.journal.record(self.clock.now(), "CALLBACK", url, "", status, 0, seconds * 1000, raw, fault)

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "queued": self._queue.qsize()}

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker (what is still queued is not sent)."""
        self._stopped.set()
        worker = self._worker
        if worker is not None:
            with contextlib.suppress(queue.Empty):
                while True:  # what is still queued is dropped, so the stop signal always fits
                    self._queue.get_nowait()
            self._queue.put_nowait(None)
            worker.join(timeout)
        self._session.close()
