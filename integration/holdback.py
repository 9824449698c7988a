"""Email hold-back: after an alert email, the next for the same device and alert type waits an hour of alert time.

Alert time is the event's own moment (`time`, else `dateTriggered`), not the wall clock, so a
scenario that runs a simulated day in seconds holds mail back exactly as a real day would. The
state is a small SQLite table, so a restart keeps it.

A slot is reserved *before* the email is sent, by the delivery that sends it: if that delivery
is retried (its send failed, or the process died mid-send) it still owns the slot and sends
again, while other deliveries inside the hour are held back.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from .sqlite_connections import ConnectionPerThread

__all__ = ["EmailHoldback"]

BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS holdback (
    serial      TEXT    NOT NULL,
    alert_type  TEXT    NOT NULL,
    sent_at     REAL    NOT NULL,   -- alert time (unix seconds) of the email that opened the hold-back
    delivery_id INTEGER NOT NULL,   -- the outbox delivery that sent it
    PRIMARY KEY (serial, alert_type)
);
"""


class EmailHoldback:
    """Which device and alert type may email now; one SQLite file, a connection per thread."""

    def __init__(self, path: str | Path, window: timedelta = timedelta(hours=1)) -> None:
        self.path = Path(path)
        self.window = window.total_seconds()
        self._connections = ConnectionPerThread(self.path, busy_timeout_ms=BUSY_TIMEOUT_MS)
        connection = self._connection()
        connection.execute("PRAGMA journal_mode = WAL")  # kept in the file: once is enough
        connection.executescript(SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    def reserve(self, serial: str, alert_type: str, moment: datetime, delivery_id: int) -> bool:
        """True if this delivery may send now (and the hour starts at `moment`); False to hold its email back.

        One statement, so one transaction: the slot is taken when it is free, its hour is over, or
        it is this delivery's own. An event from before the last email (a late delivery) is inside
        the hour too.
        """
        # One statement and no RETURNING, so SQLite's write lock is held only while it runs in C: no
        # Python lock to queue on (see Outbox._statement). rowcount: 1 taken (inserted or updated), 0 not.
        taken = (
            self._connection()
            .execute(
                "INSERT INTO holdback (serial, alert_type, sent_at, delivery_id) VALUES (:serial, :type, :at, :id)"
                " ON CONFLICT (serial, alert_type) DO UPDATE SET sent_at = excluded.sent_at,"
                " delivery_id = excluded.delivery_id"
                " WHERE holdback.delivery_id = excluded.delivery_id"
                " OR excluded.sent_at >= holdback.sent_at + :window",
                {
                    "serial": serial,
                    "type": alert_type,
                    "at": moment.timestamp(),
                    "id": delivery_id,
                    "window": self.window,
                },
            )
            .rowcount
        )
        return taken == 1

    def close(self) -> None:
        self._connections.close()
