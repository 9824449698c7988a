"""The ConnectWise fake's tables: records, ids, equality indexes, locking, snapshots. No Flask here.

Records are plain dicts and are never changed in place once stored: an update stores a new
dict. That makes a snapshot a shallow copy of each table, and lets readers render records
outside the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]


def index_key(value: Any) -> Hashable:
    """Indexes compare like conditions do: strings case-insensitively."""
    if isinstance(value, str):
        return value.casefold()
    return value


@dataclass(frozen=True)
class StoreEvent:
    """A committed write, for listeners (fault triggers, stats)."""

    kind: str  # "insert" | "update" | "delete"
    table: str
    record: Record | None
    previous: Record | None


class Table:
    """One collection's records by id, with equality indexes on chosen top-level fields."""

    def __init__(self, name: str, indexed_fields: Iterable[str] = ()) -> None:
        self.name = name
        self.records: dict[int, Record] = {}
        self.next_id = 1
        self.id_group: list[Table] = [self]  # tables no id may be in two of (see Store.share_ids)
        self.version = 0  # bumped on every write, so callers can cache what they derive from it
        self.indexes: dict[str, dict[Hashable, set[int]]] = {field: {} for field in indexed_fields}

    def get(self, record_id: int) -> Record | None:
        return self.records.get(record_id)

    def lookup(self, field: str, value: Any) -> set[int]:
        """Ids whose `field` equals `value` (the caller checks the field is indexed)."""
        return self.indexes[field].get(index_key(value), set())

    def _index(self, record: Record) -> None:
        for field, index in self.indexes.items():
            index.setdefault(index_key(record.get(field)), set()).add(record["id"])

    def _unindex(self, record: Record) -> None:
        for field, index in self.indexes.items():
            key = index_key(record.get(field))
            ids = index.get(key)
            if ids is not None:
                ids.discard(record["id"])
                if not ids:
                    del index[key]

    def rebuild_indexes(self) -> None:
        for index in self.indexes.values():
            index.clear()
        for record in self.records.values():
            self._index(record)


class Store:
    """All tables of one tenant, behind one re-entrant lock.

    Writers take `lock` around their whole read-check-write so no update is lost and no id is
    given twice; the backend holds it across validation of references and rules too.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {}
        self.listeners: list[Callable[[StoreEvent], None]] = []

    def add_table(self, name: str, indexed_fields: Iterable[str] = ()) -> Table:
        table = Table(name, indexed_fields)
        self.tables[name] = table
        return table

    def table(self, name: str) -> Table:
        return self.tables[name]

    def share_ids(self, name: str, other: str) -> None:
        """No id is in both tables: a new record of either skips the ids the other holds."""
        group = self.tables[name].id_group + [
            t for t in self.tables[other].id_group if t not in self.tables[name].id_group
        ]
        for table in group:
            table.id_group = group

    def get(self, table: str, record_id: int) -> Record | None:
        return self.tables[table].records.get(record_id)

    def insert(self, table_name: str, record: Record) -> Record:
        """Store a new record under the next id of its table; returns the stored record."""
        with self.lock:
            table = self.tables[table_name]
            stored = dict(record)
            new_id = table.next_id
            while any(new_id in member.records for member in table.id_group):
                new_id += 1
            stored["id"] = new_id
            table.next_id = new_id + 1
            table.records[stored["id"]] = stored
            table._index(stored)
            table.version += 1
            self._emit(StoreEvent("insert", table_name, stored, None))
            return stored

    def replace(self, table_name: str, record: Record) -> Record:
        """Store a new version of an existing record (same id)."""
        with self.lock:
            table = self.tables[table_name]
            previous = table.records[record["id"]]
            stored = dict(record)
            table._unindex(previous)
            table.records[stored["id"]] = stored
            table._index(stored)
            table.version += 1
            self._emit(StoreEvent("update", table_name, stored, previous))
            return stored

    def delete(self, table_name: str, record_id: int) -> Record:
        with self.lock:
            table = self.tables[table_name]
            previous = table.records.pop(record_id)
            table._unindex(previous)
            table.version += 1
            self._emit(StoreEvent("delete", table_name, None, previous))
            return previous

    def _emit(self, event: StoreEvent) -> None:
        for listener in self.listeners:
            listener(event)

    def snapshot(self, names: Iterable[str] | None = None) -> dict[str, tuple[dict[int, Record], int]]:
        """A cheap, consistent copy of every table, or of the tables `names` (records are immutable, so
        shallow is enough)."""
        with self.lock:
            chosen = self.tables if names is None else {name: self.tables[name] for name in names}
            return {name: (dict(table.records), table.next_id) for name, table in chosen.items()}

    def restore(self, snapshot: dict[str, tuple[dict[int, Record], int]]) -> None:
        """Put every table back as it was in `snapshot`; tables it does not name are emptied."""
        with self.lock:
            for name, table in self.tables.items():
                records, next_id = snapshot.get(name, ({}, 1))
                table.records = dict(records)
                table.next_id = next_id
                table.version += 1
                table.rebuild_indexes()
