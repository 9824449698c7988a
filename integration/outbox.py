"""The durable outbox: every alert event a row in SQLite (WAL), moved through its delivery states by workers.

An alert is acknowledged only after `enqueue` returns: the row is committed to the write-ahead
log, which survives the process being killed (`synchronous=NORMAL` gives up only the last
transactions on a power cut, never on a crash of the process).

One row per alert event, unique on (alert key, event, occurrence): re-delivering the same event
changes nothing. `occurrence` tells repeats of one alert apart (e.g. its `numberSeen`); a raise
and a clear leave it empty. A delivery moves through

    queued ──► create_sent ──► created ──► linked ──► done
       │            │             └──────────────────► done
       ├──► done (nothing to create: email only)       failed / skipped from any active state
       └──► skipped (routed nowhere, e.g. a screenshot alert)

`create_sent` is written *before* the POST that creates the ticket or note (with the ticket's id
when it is a note). A worker that finds a delivery in `create_sent` (after a crash, a lost answer
or an expired lease) must look the record up by the alert's key before posting again: that is
how at-least-once delivery never becomes a second ticket. Workers claim rows with a lease; a
crashed worker's rows come back when it expires, or at once through `recover()`, which
`cwsim integration run` calls when it starts. Every transition is its own transaction and checks
the caller still holds the claim.

Beside its state, a row records what became of its email (`mail`: sent, held back, failed),
whether it is `held` (its device was not mapped to a company when last tried) and whether it is
`retrying` (its last try met a failure outside the integration: ConnectWise or the mail server).

An event has two parts, ordered differently: its email waits for the earlier emails of its device
and alert type (the hour's hold-back), its ticket part for the earlier events of its alert (a
repeat's note never races the raise that opens the ticket). Behind an alert that is held, a later
event is still taken for its email, then waits with the rest: an unmapped device's email is never
held up by its ticket. What is active is, at any moment, one of (see `stats`):

    todo      the integration's own work: being worked on, or ready for a worker
    held      waiting for a person to map the device (or set up a board, status or type)
    waiting   not ready for a worker: behind an earlier event (of its alert, or for its email, of its
              device and alert type), or to try again after ConnectWise or the mail server failed

Every chain of waiting events starts at an event that is to do, held, or retrying after an outside
failure; so when nothing is to do, everything left waits for something outside the integration.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .alert_kind import alert_type, device_serial
from .sqlite_connections import ConnectionPerThread

__all__ = [
    "ACTIVE_STATES",
    "MAIL_OUTCOMES",
    "STATES",
    "AlertEvent",
    "ClaimLost",
    "Delivery",
    "FinishedDelivery",
    "Outbox",
    "OutboxStats",
]

QUEUED, CREATE_SENT, CREATED, LINKED, DONE, FAILED, SKIPPED = (
    "queued",
    "create_sent",
    "created",
    "linked",
    "done",
    "failed",
    "skipped",
)
STATES = (QUEUED, CREATE_SENT, CREATED, LINKED, DONE, FAILED, SKIPPED)
ACTIVE_STATES = (QUEUED, CREATE_SENT, CREATED, LINKED)
EVENTS = ("raise", "repeat", "clear")
MAIL_OUTCOMES = ("sent", "held_back", "failed", "unwanted")  # unwanted: this event emails nobody
# A lease must outlast the longest a worker can spend in one call, or a second worker may take the
# row while the first one's POST is still being retried after a 429. With the default transport:
# 5 attempts x (5 + 30) s timeouts + ~8 s backoff + 4 x 120 s Retry-After = ~663 s.
DEFAULT_LEASE_SECONDS = 900.0
BUSY_TIMEOUT_MS = 30_000
LAG_SAMPLES = 1000
INSERT_ROWS_PER_STATEMENT = 500  # x 8 values, far under SQLite's 32,766 variables
FINISHED_PAGE = 5000

_ACTIVE = ", ".join(f"'{state}'" for state in ACTIVE_STATES)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS deliveries (
    id          INTEGER PRIMARY KEY,
    alert_key   TEXT    NOT NULL,
    event       TEXT    NOT NULL CHECK (event IN ({", ".join(f"'{event}'" for event in EVENTS)})),
    occurrence  TEXT    NOT NULL DEFAULT '',
    payload     TEXT    NOT NULL,                    -- the alert as JSON
    state       TEXT    NOT NULL DEFAULT '{QUEUED}' CHECK (state IN ({", ".join(f"'{s}'" for s in STATES)})),
    attempts    INTEGER NOT NULL DEFAULT 0,          -- how many times a worker claimed it
    ticket_id   INTEGER,
    note_id     INTEGER,
    claimed_by  TEXT,
    lease_until REAL,                                -- unix seconds; past it, another worker may claim
    not_before  REAL    NOT NULL,                    -- unix seconds; retry_later() pushes it back
    enqueued_at REAL    NOT NULL,
    updated_at  REAL    NOT NULL,
    finished_at REAL,
    last_error  TEXT,
    mail        TEXT,                                -- what became of its email: sent, held_back, failed
    held        INTEGER NOT NULL DEFAULT 0,          -- 1 while waiting for its device to be mapped
    UNIQUE (alert_key, event, occurrence)
);
CREATE INDEX IF NOT EXISTS deliveries_ready ON deliveries (id) WHERE state IN ({_ACTIVE});
CREATE INDEX IF NOT EXISTS deliveries_by_alert ON deliveries (alert_key, id);
CREATE INDEX IF NOT EXISTS deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_by_outcome ON deliveries (mail, state);
"""
# Added after the first release: files written before them get the columns on open.
_LATER_COLUMNS = {
    "mail": "TEXT",
    "held": "INTEGER NOT NULL DEFAULT 0",
    "mail_group": "TEXT NOT NULL DEFAULT ''",
    "retrying": "INTEGER NOT NULL DEFAULT 0",  # 1 while its last try met a failure outside the integration
}
# The claim asks, for each candidate, whether an earlier event of its alert is still active; this
# index holds only active rows, so the answer costs a probe whatever the alert's history. Its WHERE
# is the same text as the claim's, which is what lets SQLite use it.
_ACTIVE_BY_ALERT = (
    f"CREATE INDEX IF NOT EXISTS deliveries_active_by_alert ON deliveries (alert_key, id) WHERE state IN ({_ACTIVE})"
)
# The claim's exception (an earlier event of the alert is held) and the split's held test probe
# this one, which holds only the few held rows, instead of walking every earlier active event.
_HELD_BY_ALERT = (
    "CREATE INDEX IF NOT EXISTS deliveries_held_by_alert ON deliveries (alert_key, id)"
    f" WHERE held = 1 AND state IN ({_ACTIVE})"
)
# Email hold-back is per device and alert type: the events of one such group decide their emails in
# order (see _CLAIM), so the hour's first email is always the earliest event's, however workers interleave.
_MAIL_PENDING_BY_GROUP = (
    "CREATE INDEX IF NOT EXISTS deliveries_mail_pending ON deliveries (mail_group, id)"
    f" WHERE state IN ({_ACTIVE}) AND mail IS NULL"
)
_DUE = f"CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (not_before, id) WHERE state IN ({_ACTIVE})"

# Which states each transition may start from.
_FROM: dict[str, tuple[str, ...]] = {
    CREATE_SENT: (QUEUED, CREATE_SENT),
    CREATED: (CREATE_SENT,),
    LINKED: (CREATED,),
    DONE: (QUEUED, CREATED, LINKED),  # and from create_sent with the note made: see mark_done
    SKIPPED: (QUEUED,),
    FAILED: ACTIVE_STATES,
}

# A worker takes the ready rows that have been due longest (a row put back by retry_later goes to
# the back of the line, so rows failing again and again never starve the rest). An alert's later
# events wait until its earlier ones are finished, so a repeat's note never races the raise that
# opens the ticket; except that while an earlier event of the alert is held (its device has no
# company yet), a later one whose email is undecided is taken for its email (it then waits with the
# rest). That exception looks for *any* held earlier event, not the one just before it: an event
# taken for its email and put back after a failure is not held itself, and must not stop the events
# behind it from being emailed. An event's email waits until the earlier events of its device and
# alert type have decided theirs, so the hour's hold-back never depends on which worker ran first.
# Events that can email nobody (a clear, no recipients) have no mail group and wait for nobody's email.
_EARLIER_ACTIVE = f"""SELECT 1 FROM deliveries AS earlier
                       WHERE earlier.alert_key = d.alert_key AND earlier.id < d.id AND earlier.state IN ({_ACTIVE})"""
_IN_ORDER = f"""
          (NOT EXISTS ({_EARLIER_ACTIVE})
           OR (d.mail IS NULL AND d.mail_group != '' AND EXISTS ({_EARLIER_ACTIVE} AND earlier.held = 1)))
          AND (d.mail IS NOT NULL OR d.mail_group = ''
               OR NOT EXISTS (SELECT 1 FROM deliveries AS earlier
                               WHERE earlier.mail_group = d.mail_group AND earlier.id < d.id
                                 AND earlier.state IN ({_ACTIVE}) AND earlier.mail IS NULL))"""
_CLAIM = f"""
UPDATE deliveries
   SET claimed_by = :worker, lease_until = :lease_until, attempts = attempts + 1, updated_at = :now
 WHERE id IN (
       SELECT d.id FROM deliveries AS d
        WHERE d.state IN ({_ACTIVE})
          AND d.not_before <= :now
          AND (d.claimed_by IS NULL OR d.lease_until <= :now)
          AND {_IN_ORDER}
        ORDER BY d.not_before, d.id
        LIMIT :limit)
RETURNING *
"""
# The active rows split three ways (see the module's docstring). To do: being worked on now, or
# ready for a worker by the order above and waiting for nothing outside: neither retrying, nor held
# with its email decided. Held: not to do, and its device's mapping is what it waits for (it, or an
# earlier event of its alert, is held and not retrying). Waiting: the rest.
_SPLIT = f"""
SELECT coalesce(sum(todo), 0), coalesce(sum(waits_for_mapping), 0) FROM (
  SELECT todo,
         CASE WHEN todo THEN 0 ELSE
              (d.held = 1 AND d.retrying = 0)
              OR EXISTS ({_EARLIER_ACTIVE} AND earlier.held = 1 AND earlier.retrying = 0) END AS waits_for_mapping
    FROM (SELECT d.id, d.alert_key, d.held, d.retrying,
                 ((d.claimed_by IS NOT NULL AND d.lease_until > :now)
                  OR (d.retrying = 0 AND NOT (d.held = 1 AND (d.mail IS NOT NULL OR d.mail_group = ''))
                      AND {_IN_ORDER})) AS todo
            FROM deliveries AS d
           WHERE d.state IN ({_ACTIVE})) AS d)
"""


@dataclass(frozen=True)
class AlertEvent:
    """What the intake or the poller hands to the outbox: one raise, repeat or clear of one alert."""

    alert_key: str
    event: str
    payload: dict[str, Any]
    occurrence: str = ""

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"event must be one of {', '.join(EVENTS)}, not {self.event!r}")
        if not self.alert_key:
            raise ValueError("an alert event needs its alert's key")

    @property
    def mail_group(self) -> str:
        """The device and alert type whose emails share one hour's hold-back; '' when it emails nobody."""
        payload = self.payload
        if self.event == "clear" or not payload.get("recipients"):
            return ""
        return f"{device_serial(payload)}:{alert_type(payload)}"  # the email hold-back's key, exactly


@dataclass(frozen=True)
class Delivery:
    """One row of the outbox as a worker sees it."""

    id: int
    alert_key: str
    event: str
    occurrence: str
    payload: dict[str, Any] = field(repr=False)
    state: str
    attempts: int
    ticket_id: int | None
    note_id: int | None
    claimed_by: str | None
    lease_until: float | None
    not_before: float
    enqueued_at: float
    updated_at: float
    finished_at: float | None
    last_error: str | None
    mail: str | None = None
    held: bool = False
    retrying: bool = False

    @property
    def needs_lookup(self) -> bool:
        """A create may already have happened: find the record by the alert's key before posting again."""
        return self.state == CREATE_SENT

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Delivery:
        values = dict(row)
        values.pop("mail_group", None)  # derived from the payload; only the claim's ordering reads it
        values["payload"] = orjson.loads(values["payload"])
        values["held"] = bool(values["held"])
        values["retrying"] = bool(values["retrying"])
        return cls(**values)


@dataclass(frozen=True)
class OutboxStats:
    """What `/status` reports: rows per state, how the active ones split, mail outcomes, and lag percentiles (s).

    The active rows (`depth`) are `todo + held + waiting`: the integration's own work, what waits
    for a device to be mapped, and what is not ready for a worker (behind an earlier event, or to
    try again after ConnectWise or the mail server failed).
    """

    states: dict[str, int]
    lag: dict[str, float | None]
    held: int = 0
    mail: dict[str, int] = field(default_factory=dict)
    todo: int = 0

    @property
    def depth(self) -> int:
        return sum(self.states[state] for state in ACTIVE_STATES)

    @property
    def waiting(self) -> int:
        return self.depth - self.todo - self.held

    @property
    def delivered(self) -> int:
        return self.states[DONE]

    @property
    def failed(self) -> int:
        return self.states[FAILED]


@dataclass(frozen=True)
class FinishedDelivery:
    """One finished delivery as `/status/finished` reports it: when, how long after its intake, and how."""

    id: int
    finished_at: float  # unix seconds
    lag: float  # seconds from intake to finished
    state: str  # done, failed or skipped
    ticket: bool  # it made, or added to, a ticket

    def as_row(self) -> list[Any]:
        return [self.id, self.finished_at, round(self.lag, 6), self.state, self.ticket]


class ClaimLost(RuntimeError):
    """The delivery is no longer this worker's to move (another worker took it after the lease ran out)."""


class Outbox:
    """The outbox in one SQLite file; safe to use from many threads (each gets its own connection)."""

    def __init__(
        self,
        path: str | Path,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._connections = ConnectionPerThread(self.path, busy_timeout_ms=BUSY_TIMEOUT_MS, rows=True)
        self._writing = threading.Lock()
        connection = self._connection()
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"{self.path}: SQLite would not use WAL (journal mode {mode})")
        connection.executescript(SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(deliveries)")}
        for name, kind in _LATER_COLUMNS.items():
            if name not in columns:
                connection.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {kind}")
        connection.execute(_ACTIVE_BY_ALERT)
        connection.execute(_HELD_BY_ALERT)
        connection.execute(_MAIL_PENDING_BY_GROUP)
        connection.execute(_DUE)

    def __repr__(self) -> str:
        return f"<Outbox {self.path}>"

    def close(self) -> None:
        """Close every thread's connection."""
        self._connections.close()

    # -- connections and transactions -----------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front, so it waits instead of failing.

        Threads of this process queue on a Python lock first: SQLite's own busy handler waits by
        sleeping 1, 2, 5, 10... ms, far longer than a transaction here holds the lock (tens of
        microseconds), which starved the workers. Other processes still meet the busy timeout.
        """
        connection = self._connection()
        with self._writing:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def _statement(self) -> Iterator[sqlite3.Connection]:
        """For a write that is one statement, which SQLite makes a transaction of its own (autocommit).

        No Python lock here: SQLite holds its write lock only while the statement runs in C (some
        15 µs), whereas a Python lock is held until the thread has the GIL back, often a
        millisecond with the workers and the intake busy, and that queue is what limited alert
        throughput. A thread that does meet SQLite's lock sleeps a millisecond in its busy handler,
        which is rare at these durations.
        """
        yield self._connection()

    # -- intake ---------------------------------------------------------------------------

    def enqueue(self, event: AlertEvent) -> bool:
        """Store one alert event durably; False if it was already there (a re-delivery)."""
        return self.enqueue_many([event]) == 1

    def enqueue_many(self, events: Iterable[AlertEvent]) -> int:
        """Store a batch atomically; returns how many were new. Acknowledge only after it returns.

        Up to INSERT_ROWS_PER_STATEMENT events are one INSERT, which SQLite makes a transaction of
        its own: one call into SQLite under the write lock instead of three (see `_statement`).
        """
        rows = self._rows(events)
        if len(rows) <= INSERT_ROWS_PER_STATEMENT:
            with self._statement() as connection:
                return self._insert(connection, rows)
        with self._transaction() as connection:
            return sum(
                self._insert(connection, rows[start : start + INSERT_ROWS_PER_STATEMENT])
                for start in range(0, len(rows), INSERT_ROWS_PER_STATEMENT)
            )

    def _rows(self, events: Iterable[AlertEvent]) -> list[tuple[Any, ...]]:
        now = self._clock()
        return [
            (e.alert_key, e.event, e.occurrence, orjson.dumps(e.payload).decode(), now, now, now, e.mail_group)
            for e in events
        ]

    def _insert(self, connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        before = connection.total_changes
        connection.execute(
            "INSERT INTO deliveries"
            " (alert_key, event, occurrence, payload, not_before, enqueued_at, updated_at, mail_group)"
            f" VALUES {', '.join(['(?, ?, ?, ?, ?, ?, ?, ?)'] * len(rows))}"
            " ON CONFLICT (alert_key, event, occurrence) DO NOTHING",
            [value for row in rows for value in row],
        )
        return connection.total_changes - before

    # -- workers --------------------------------------------------------------------------

    def claim(self, worker: str, limit: int = 1) -> list[Delivery]:
        """Up to `limit` ready deliveries, now leased to `worker`; no other worker gets them meanwhile."""
        now = self._clock()
        # One statement, but its RETURNING rows keep SQLite's write lock taken while they are read
        # (a step each, each giving up the GIL): claims queue on the Python lock, not in SQLite's sleeps.
        with self._writing, self._statement() as connection:
            rows = connection.execute(
                _CLAIM, {"worker": worker, "lease_until": now + self.lease_seconds, "now": now, "limit": limit}
            ).fetchall()
        return sorted((Delivery.from_row(row) for row in rows), key=lambda delivery: delivery.id)

    def waits_for_earlier(self, delivery: Delivery) -> bool:
        """True while an earlier event of the same alert is unfinished (it is held): this one's ticket part waits."""
        row = (
            self._connection()
            .execute(
                f"SELECT 1 FROM deliveries WHERE alert_key = ? AND id < ? AND state IN ({_ACTIVE}) LIMIT 1",
                (delivery.alert_key, delivery.id),
            )
            .fetchone()
        )
        return row is not None

    def recover(self) -> int:
        """On start: release every claim left by the last run; returns how many deliveries need a lookup first."""
        with self._transaction() as connection:
            connection.execute(
                f"UPDATE deliveries SET claimed_by = NULL, lease_until = NULL"
                f" WHERE claimed_by IS NOT NULL AND state IN ({_ACTIVE})"
            )
            return connection.execute("SELECT count(*) FROM deliveries WHERE state = ?", (CREATE_SENT,)).fetchone()[0]

    # Each transition may also record what became of the delivery's email (`mail`, with `error` for
    # a failure), so sending it costs no transaction of its own.

    def mark_create_sent(
        self,
        delivery_id: int,
        worker: str,
        *,
        ticket_id: int | None = None,
        mail: str | None = None,
        error: str | None = None,
    ) -> None:
        """Say so before the POST that creates the ticket, or (given the ticket's id) a note on it."""
        self._move(delivery_id, worker, CREATE_SENT, ticket_id=ticket_id, mail=mail, error=error)

    def mark_created(
        self,
        delivery_id: int,
        worker: str,
        *,
        ticket_id: int | None = None,
        note_id: int | None = None,
        mail: str | None = None,
        error: str | None = None,
    ) -> None:
        """The ticket or note exists (created now, or found by the lookup)."""
        self._move(delivery_id, worker, CREATED, ticket_id=ticket_id, note_id=note_id, mail=mail, error=error)

    def mark_linked(self, delivery_id: int, worker: str) -> None:
        """The ticket is linked to the device's configuration."""
        self._move(delivery_id, worker, LINKED)

    def mark_done(
        self,
        delivery_id: int,
        worker: str,
        *,
        ticket_id: int | None = None,
        note_id: int | None = None,
        mail: str | None = None,
        error: str | None = None,
    ) -> None:
        """Delivered; releases the claim and records the delivery's lag.

        Straight from create_sent only with the id of what the create made (the note, or the
        ticket once it is linked): what a create made is always recorded.
        """
        made = note_id is not None or ticket_id is not None
        sources = (*_FROM[DONE], CREATE_SENT) if made else _FROM[DONE]
        self._move(
            delivery_id, worker, DONE, ticket_id=ticket_id, note_id=note_id, mail=mail, error=error, sources=sources
        )

    def mark_skipped(self, delivery_id: int, worker: str, reason: str) -> None:
        """Routed nowhere (e.g. a screenshot alert); the reason is kept in last_error."""
        self._move(delivery_id, worker, SKIPPED, error=reason)

    def mark_failed(self, delivery_id: int, worker: str, error: str) -> None:
        """Given up on (a permanent error, or too many attempts); `requeue` brings it back."""
        self._move(delivery_id, worker, FAILED, error=error)

    def retry_later(self, delivery_id: int, worker: str, error: str, delay: float, *, outside: bool = True) -> None:
        """Keep the state, release the claim, and let no worker take it again for `delay` seconds.

        `outside`: the failure was ConnectWise's or the mail server's (the delivery counts as
        retrying, not as the integration's own work, until it moves on or is tried again). Whether
        its device is mapped is left as last known: the try may have failed before finding out.
        """
        self._release(delivery_id, worker, delay, error, held=None, retrying=outside)

    def hold(self, delivery_id: int, worker: str, reason: str, delay: float) -> None:
        """As retry_later, and count it as held (its device has no company yet) until it moves on."""
        self._release(delivery_id, worker, delay, reason, held=True, retrying=False)

    def release(self, delivery_id: int, worker: str) -> None:
        """Give a claimed delivery back untouched (a worker stopping), for any worker to take at once."""
        self._release(delivery_id, worker, 0.0, None, held=None, retrying=None)

    def _release(
        self,
        delivery_id: int,
        worker: str,
        delay: float,
        error: str | None,
        *,
        held: bool | None,
        retrying: bool | None,
    ) -> None:
        now = self._clock()
        with self._statement() as connection:
            changed = connection.execute(
                "UPDATE deliveries SET claimed_by = NULL, lease_until = NULL, not_before = ?,"
                " last_error = coalesce(?, last_error), held = coalesce(?, held), retrying = coalesce(?, retrying),"
                " updated_at = ?"
                " WHERE id = ? AND claimed_by = ? AND state IN (?, ?, ?, ?)",
                (now + delay, error, held, retrying, now, delivery_id, worker, *ACTIVE_STATES),
            ).rowcount
            if not changed:
                raise self._why_not(connection, delivery_id, worker, "retry later")

    def release_held(self, serials: Iterable[str]) -> int:
        """These devices are mapped now: their held deliveries are due at once and no longer held.

        Onboarding calls it (from its own process) for the devices it mapped, so their alerts go at
        once rather than at the next hold retry, and no caller ever sees them held after onboarding
        returned. Returns how many deliveries it released.
        """
        wanted = sorted({serial.upper() for serial in serials})
        if not wanted:
            return 0
        now = self._clock()
        with self._statement() as connection:
            return connection.execute(
                f"UPDATE deliveries SET held = 0, not_before = ?, updated_at = ?"
                f" WHERE held = 1 AND state IN ({_ACTIVE})"
                f" AND upper(json_extract(payload, '$.serialNumber')) IN ({', '.join('?' for _ in wanted)})",
                (now, now, *wanted),
            ).rowcount

    def mark_mail(self, delivery_id: int, worker: str, mail: str, error: str | None = None) -> None:
        """Record what became of the delivery's email (when no move records it), so a retry never sends it twice."""
        if mail not in MAIL_OUTCOMES:
            raise ValueError(f"mail outcome must be one of {', '.join(MAIL_OUTCOMES)}, not {mail!r}")
        outcome, detail = mail, error
        now = self._clock()
        with self._statement() as connection:
            changed = connection.execute(
                "UPDATE deliveries SET mail = ?, last_error = coalesce(?, last_error), updated_at = ?"
                " WHERE id = ? AND claimed_by = ? AND state IN (?, ?, ?, ?)",
                (outcome, detail, now, delivery_id, worker, *ACTIVE_STATES),
            ).rowcount
            if not changed:
                raise self._why_not(connection, delivery_id, worker, "record its mail")

    def requeue(self, delivery_id: int) -> None:
        """An operator's second chance for a failed delivery: back to queued, attempts kept."""
        now = self._clock()
        with self._statement() as connection:
            changed = connection.execute(
                "UPDATE deliveries SET state = ?, not_before = ?, finished_at = NULL, updated_at = ?"
                " WHERE id = ? AND state = ?",
                (QUEUED, now, now, delivery_id, FAILED),
            ).rowcount
            if not changed:
                raise ValueError(f"delivery {delivery_id} is not failed; only failed deliveries are requeued")

    def _move(
        self,
        delivery_id: int,
        worker: str,
        state: str,
        *,
        ticket_id: int | None = None,
        note_id: int | None = None,
        error: str | None = None,
        mail: str | None = None,
        sources: tuple[str, ...] | None = None,
    ) -> None:
        if mail is not None and mail not in MAIL_OUTCOMES:
            raise ValueError(f"mail outcome must be one of {', '.join(MAIL_OUTCOMES)}, not {mail!r}")
        now = self._clock()
        finished = state not in ACTIVE_STATES
        sources = sources or _FROM[state]
        with self._statement() as connection:
            changed = connection.execute(
                f"UPDATE deliveries SET state = ?, ticket_id = coalesce(?, ticket_id), note_id = coalesce(?, note_id),"
                f" last_error = coalesce(?, last_error), mail = coalesce(?, mail), updated_at = ?,"
                f" held = 0, retrying = 0,"
                f" claimed_by = CASE WHEN ? THEN NULL ELSE claimed_by END,"
                f" lease_until = CASE WHEN ? THEN NULL ELSE ? END,"
                f" finished_at = CASE WHEN ? THEN ? ELSE NULL END"
                f" WHERE id = ? AND claimed_by = ? AND state IN ({', '.join('?' for _ in sources)})",
                (
                    state,
                    ticket_id,
                    note_id,
                    error,
                    mail,
                    now,
                    finished,
                    finished,
                    now + self.lease_seconds,
                    finished,
                    now,
                    delivery_id,
                    worker,
                    *sources,
                ),
            ).rowcount
            if not changed:
                raise self._why_not(connection, delivery_id, worker, state)

    def _why_not(self, connection: sqlite3.Connection, delivery_id: int, worker: str, target: str) -> Exception:
        row = connection.execute("SELECT state, claimed_by FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        if row is None:
            return KeyError(f"no delivery {delivery_id}")
        if row["state"] not in ACTIVE_STATES:
            return ValueError(f"delivery {delivery_id} is already {row['state']}; it cannot go to {target}")
        if row["claimed_by"] != worker:
            return ClaimLost(f"delivery {delivery_id} is claimed by {row['claimed_by'] or 'nobody'}, not {worker}")
        return ValueError(f"delivery {delivery_id} cannot go from {row['state']} to {target}")

    # -- reading --------------------------------------------------------------------------

    def get(self, delivery_id: int) -> Delivery | None:
        row = self._connection().execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return None if row is None else Delivery.from_row(row)

    def find(self, alert_key: str) -> list[Delivery]:
        """Every event of one alert, oldest first."""
        rows = self._connection().execute("SELECT * FROM deliveries WHERE alert_key = ? ORDER BY id", (alert_key,))
        return [Delivery.from_row(row) for row in rows]

    def stats(self, samples: int = LAG_SAMPLES) -> OutboxStats:
        """Rows per state, how the active ones split, mail outcomes, and the lag of the last `samples` deliveries.

        Reads the state and mail index and the active rows, never the payloads.
        """
        connection = self._connection()
        counts: dict[str, int] = dict.fromkeys(STATES, 0)
        mail: dict[str, int] = dict.fromkeys(MAIL_OUTCOMES, 0)
        connection.execute("BEGIN")  # one snapshot: the split always adds up to the depth
        try:
            for state, outcome, count in connection.execute(
                "SELECT state, mail, count(*) FROM deliveries GROUP BY state, mail"
            ):
                counts[state] += count
                if outcome in mail:
                    mail[outcome] += count
            todo, held = connection.execute(_SPLIT, {"now": self._clock()}).fetchone()
        finally:
            connection.execute("COMMIT")
        return OutboxStats(counts, _percentiles(self.lag_samples(samples)), held, mail, todo)

    def lag_samples(self, limit: int = LAG_SAMPLES) -> list[float]:
        """Seconds from intake to done of the last `limit` deliveries, newest first."""
        rows = self._connection().execute(
            "SELECT finished_at - enqueued_at FROM deliveries WHERE state = ? ORDER BY finished_at DESC LIMIT ?",
            (DONE, limit),
        )
        return [row[0] for row in rows]

    def finished_since(self, after: float, limit: int = FINISHED_PAGE) -> list[FinishedDelivery]:
        """Deliveries finished after a moment (unix seconds), oldest first, at most `limit`: for a poller
        that turns each into a measurement. Reads the finished-at index, never the payloads."""
        rows = self._connection().execute(
            "SELECT id, finished_at, finished_at - enqueued_at, state, ticket_id IS NOT NULL FROM deliveries"
            " WHERE finished_at > ? ORDER BY finished_at, id LIMIT ?",
            (after, limit),
        )
        return [FinishedDelivery(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows]

    def purge(self, finished_before: float) -> int:
        """Forget finished deliveries older than a moment (unix seconds); a re-delivery after that is new again."""
        with self._statement() as connection:
            return connection.execute(
                f"DELETE FROM deliveries WHERE finished_at < ? AND state NOT IN ({_ACTIVE})", (finished_before,)
            ).rowcount


def _percentiles(samples: list[float]) -> dict[str, float | None]:
    ordered = sorted(samples)

    def rank(fraction: float) -> float | None:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": ordered[-1] if ordered else None,
    }
