"""One SQLite connection per thread on one file, for the integration's durable state (outbox, hold-back)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ConnectionPerThread:
    """Hands each thread its own connection: autocommit (callers say BEGIN themselves), NORMAL sync under WAL."""

    def __init__(self, path: Path, *, busy_timeout_ms: int, rows: bool = False) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.rows = rows  # sqlite3.Row results instead of tuples
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []

    def get(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # isolation_level=None: no implicit transactions.
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            if self.rows:
                connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            connection.execute("PRAGMA synchronous = NORMAL")
            self._local.connection = connection
            with self._lock:
                self._all.append(connection)
        return connection

    def close(self) -> None:
        """Close every thread's connection; a thread that asks again later gets a fresh one."""
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
        self._local = threading.local()
