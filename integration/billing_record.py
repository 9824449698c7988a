"""The billing record in the state folder: which months are billed, and since when the service has watched month ends.

`cwsim-integration bill` and the running service share it, and share its lock: a billing run
holds SQLite's write lock on this file (`BEGIN IMMEDIATE`) from before it reads ConnectWise until
it has recorded the month, so two runs (the service at month end, a person's `bill`) never
settle the same additions at once, and the second run sees the first one's record. The lock is
the operating system's, so a killed run leaves nothing to clean up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

__all__ = ["BillingBusy", "BillingClaim", "BillingRecord", "month_key"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS months (
    month     TEXT PRIMARY KEY,   -- 2026-10
    billed_at TEXT NOT NULL,      -- when a run settled every device of it (UTC, ISO 8601)
    billed_by TEXT NOT NULL       -- service | bill
);
CREATE TABLE IF NOT EXISTS watch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    since TEXT NOT NULL           -- when the service began billing month ends (UTC, ISO 8601)
);
"""


class BillingBusy(Exception):
    """Another billing run holds the record's lock."""


def month_key(month: date) -> str:
    return f"{month:%Y-%m}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class BillingClaim:
    """The record while a billing run holds its lock: read and mark months in that one transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def is_billed(self, month: date) -> bool:
        row = self._connection.execute("SELECT 1 FROM months WHERE month = ?", (month_key(month),)).fetchone()
        return row is not None

    def mark_billed(self, month: date, *, by: str, at: datetime) -> None:
        self._connection.execute(
            "INSERT INTO months (month, billed_at, billed_by) VALUES (?, ?, ?)"
            " ON CONFLICT (month) DO UPDATE SET billed_at = excluded.billed_at, billed_by = excluded.billed_by",
            (month_key(month), _iso(at), by),
        )


class BillingRecord:
    """`state_dir/billing.sqlite3`; each call opens its own short connection (any thread, any process)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect(busy_timeout_seconds=30.0)) as connection:
            connection.execute("PRAGMA journal_mode = WAL")  # readers never wait for a billing run
            connection.executescript(SCHEMA)

    def _connect(self, *, busy_timeout_seconds: float) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_seconds)
        connection.execute("PRAGMA synchronous = FULL")  # a month recorded stays recorded
        return connection

    def billed(self) -> dict[str, str]:
        """Month (`2026-10`) -> who billed it (`service` or `bill`)."""
        with closing(self._connect(busy_timeout_seconds=30.0)) as connection:
            return dict(connection.execute("SELECT month, billed_by FROM months ORDER BY month"))

    def watching_since(self) -> datetime | None:
        with closing(self._connect(busy_timeout_seconds=30.0)) as connection:
            row = connection.execute("SELECT since FROM watch WHERE id = 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def watch_from(self, moment: datetime) -> datetime:
        """Start watching month ends at `moment`, unless already watching: returns since when."""
        # Read before writing: a service restarting while `bill` holds the billing lock must not wait on it.
        since = self.watching_since()
        if since is not None:
            return since
        with closing(self._connect(busy_timeout_seconds=30.0)) as connection:
            connection.execute("INSERT OR IGNORE INTO watch (id, since) VALUES (1, ?)", (_iso(moment),))
            return datetime.fromisoformat(connection.execute("SELECT since FROM watch WHERE id = 1").fetchone()[0])

    def stop_watching(self) -> None:
        """Month-end billing is off: months ending from now on are a person's to bill."""
        if self.watching_since() is None:
            return  # nothing to end, and no write to wait for while `bill` holds the lock
        with closing(self._connect(busy_timeout_seconds=30.0)) as connection:
            connection.execute("DELETE FROM watch")

    @contextmanager
    def claim(self, wait_seconds: float) -> Iterator[BillingClaim]:
        """Hold the billing lock (waiting up to `wait_seconds` for another run); commit what was marked."""
        connection = self._connect(busy_timeout_seconds=wait_seconds)
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                raise BillingBusy(
                    f"another billing run has held {self.path} for over {wait_seconds:g} s; try again when it ends"
                ) from error
            try:
                yield BillingClaim(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()
