"""The ConnectWise fake as JSON and back: tenant settings and every table (records and next id).

Records are stored as plain dicts; the only values JSON cannot carry are datetimes, which live
in the schema's CwDateTime fields and in the `_dateEntered` / `_lastUpdated` stamps. They are
written as ISO 8601 (UTC, `Z`) and read back from the same fields. A rule that stores a
datetime anywhere else must add the field to INTERNAL_DATETIMES, or dumping refuses it.

The view (`/_sim/data.json`, the dashboard) is the same JSON with stored secrets masked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from ..clock import Clock
from ..journal import REDACTED
from ..state_problems import StateProblems
from .backend import Backend, TenantSettings
from .errors import flatten_messages
from .fields import CwDateTime, Flag, Int, Number, Ref, Text
from .model import Collection
from .settings import StateSettingsSchema, settings_as_json, settings_from
from .store import Record, index_key

INTERNAL_DATETIMES = ("_dateEntered", "_lastUpdated")
INTERNAL_TEXT = ("_enteredBy", "_updatedBy")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class IsoDateTime(fields.Field):
    """An ISO 8601 datetime with a zone, read back as an aware UTC datetime."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("must be an ISO 8601 datetime string like 2026-01-31T12:00:00Z.")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise ValidationError(f"{value!r} is not an ISO 8601 datetime like 2026-01-31T12:00:00Z.") from error
        if moment.tzinfo is None:
            raise ValidationError(f"{value!r} has no time zone; write Z for UTC.")
        return moment.astimezone(UTC)


def datetime_fields(collection: Collection) -> frozenset[str]:
    declared = {name for name, f in collection.loader.fields.items() if isinstance(f, CwDateTime)}
    return frozenset(declared | set(INTERNAL_DATETIMES))


# -- dumping ----------------------------------------------------------------------------------


def settings_state(backend: Backend) -> dict[str, Any]:
    return settings_as_json(backend.settings)


def secret_fields(collection: Collection) -> frozenset[str]:
    """Secrets the store keeps (write-only fields that are not transient: passwords)."""
    return frozenset(
        name
        for name, schema_field in collection.loader.fields.items()
        if schema_field.load_only and not schema_field.metadata.get("transient")
    )


class RecordViews:
    """Each record's masked JSON, kept while the store holds that very record.

    Records are never changed in place (an update stores a new dict), so a record seen before is
    known by identity: viewing a table of thousands again costs only what changed since. Callers
    must not change what they get.
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[int, tuple[Record, dict[str, Any]]]] = {}

    def records(self, collection: Collection, records: dict[int, Record]) -> list[dict[str, Any]]:
        name = collection.table
        seen = self._tables.get(name, {})
        times, secrets = datetime_fields(collection), secret_fields(collection)
        kept: dict[int, tuple[Record, dict[str, Any]]] = {}
        out = []
        for record_id, record in sorted(records.items()):
            hit = seen.get(record_id)
            shown = hit[1] if hit is not None and hit[0] is record else _record_json(name, record, times, secrets)
            kept[record_id] = (record, shown)
            out.append(shown)
        self._tables[name] = kept  # drops what the store no longer holds
        return out


def store_state(
    backend: Backend, names: Iterable[str] | None = None, views: RecordViews | None = None
) -> dict[str, Any]:
    """Every table (or the tables `names`) as `{"nextId": n, "records": [...]}`, records in id order.

    With `views`, secrets are masked and each record's JSON is reused while it is unchanged.
    """
    snapshot = backend.store.snapshot(names)
    tables = {}
    for name, (records, next_id) in snapshot.items():
        collection = backend.collection(name)
        if views is not None:
            shown = views.records(collection, records)
        else:
            times = datetime_fields(collection)
            shown = [_record_json(name, record, times) for _, record in sorted(records.items())]
        tables[name] = {"nextId": next_id, "records": shown}
    return tables


def _record_json(
    table: str, record: Record, times: frozenset[str], secrets: frozenset[str] = frozenset()
) -> dict[str, Any]:
    out = {}
    for name, value in record.items():
        if isinstance(value, datetime):
            if name not in times:
                raise TypeError(
                    f"{table} record {record.get('id')}: {name} holds a datetime but is not a CwDateTime field; "
                    "declare it (schemas.py) or add it to snapshot.INTERNAL_DATETIMES"
                )
            value = iso(value)
        elif name in secrets and value is not None:
            value = REDACTED
        out[name] = value
    return out


def connectwise_state(backend: Backend) -> dict[str, Any]:
    return {"settings": settings_state(backend), "tables": store_state(backend)}


def connectwise_view(
    backend: Backend, names: Iterable[str] | None = None, views: RecordViews | None = None
) -> dict[str, Any]:
    """The state without its secrets (API private keys, passwords): for data.json and the dashboard."""
    settings = settings_state(backend)
    settings["apiKeys"] = [{**key, "privateKey": REDACTED} for key in settings["apiKeys"]]
    return {"settings": settings, "tables": store_state(backend, names, views or RecordViews())}


# -- restoring --------------------------------------------------------------------------------


class _TableSchema(Schema):
    nextId = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    records = fields.List(fields.Dict(), required=True)


_TABLE_SCHEMA = _TableSchema()  # one instance: a state has hundreds of tables, and a Schema costs to build


class _ConnectWiseSchema(Schema):
    settings = fields.Raw(required=True)
    tables = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


def _stored_field(schema_field: fields.Field) -> fields.Field:
    """How a stored value of this schema field looks in JSON (references are ids)."""
    if isinstance(schema_field, Ref | Int):
        return fields.Integer(strict=True, allow_none=True)
    if isinstance(schema_field, CwDateTime):
        return IsoDateTime(allow_none=True)
    if isinstance(schema_field, Flag):
        return fields.Boolean(allow_none=True)
    if isinstance(schema_field, Number):
        return fields.Float(allow_none=True)
    if isinstance(schema_field, Text):
        return fields.String(allow_none=True)
    return fields.Raw(allow_none=True)


_RECORD_SCHEMAS: dict[int, Schema] = {}


def _record_schema(collection: Collection) -> Schema:
    """What a stored record of `collection` looks like in JSON (built once per declaration)."""
    schema = _RECORD_SCHEMAS.get(id(collection))
    if schema is None:
        schema = _RECORD_SCHEMAS[id(collection)] = _build_record_schema(collection)
    return schema


def _build_record_schema(collection: Collection) -> Schema:
    declared: dict[str, fields.Field] = {
        name: _stored_field(schema_field) for name, schema_field in collection.loader.fields.items()
    }
    declared["id"] = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    for name in INTERNAL_DATETIMES:
        declared[name] = IsoDateTime(allow_none=True)
    for name in INTERNAL_TEXT:
        declared[name] = fields.String(allow_none=True)
    return Schema.from_dict(declared, name=f"Stored{collection.resource}")(unknown=INCLUDE)


def _where(*path: Any) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif "/" in str(step):
            text += f'["{step}"]'
        else:
            text += f".{step}" if text else str(step)
    return text


def backend_from_state(
    data: Any, collections: Iterable[Collection], clock: Clock | None = None, where: str = "connectwise"
) -> Backend:
    """A new backend holding exactly what `data` (from `connectwise_state`) describes; raises StateProblems."""
    if not isinstance(data, dict):
        raise StateProblems([f"{where}: must be an object with settings and tables."])
    errors = _ConnectWiseSchema().validate(data)
    problems = [f"{_where(where, *path)}: {message}" for path, message in flatten_messages(errors)]
    if problems:
        raise StateProblems(problems)
    settings = TenantSettings()
    try:
        settings = settings_from(StateSettingsSchema().load(data["settings"]))
    except ValidationError as error:
        for path, message in flatten_messages(error.messages):
            problems.append(f"{_where(where, 'settings', *path)}: {message}")
    backend = Backend(collections, clock=clock, settings=settings)
    snapshot = {}
    for name, table in data["tables"].items():
        collection = backend.collections.get(name)
        if collection is None:
            close = difflib.get_close_matches(name, backend.collections, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            problems.append(f"{_where(where, 'tables', name)}: no such table{hint}")
            continue
        snapshot[name] = _table(collection, table, problems, (where, "tables", name))
    if problems:
        raise StateProblems(problems)
    backend.store.restore(snapshot)
    return backend


def _table(collection: Collection, table: Any, problems: list[str], path: tuple[Any, ...]) -> tuple[dict, int]:
    if not isinstance(table, dict):
        problems.append(f"{_where(*path)}: must be an object with nextId and records.")
        return {}, 1
    errors = _TABLE_SCHEMA.validate(table)
    if errors:
        problems += [f"{_where(*path, *sub)}: {message}" for sub, message in flatten_messages(errors)]
        return {}, 1
    schema = _record_schema(collection)
    records: dict[int, Record] = {}
    for index, raw in enumerate(table["records"]):
        try:
            record = schema.load(raw)
        except ValidationError as error:
            for sub, message in flatten_messages(error.messages):
                problems.append(f"{_where(*path, 'records', index, *sub)}: {message}")
            continue
        if record["id"] in records:
            problems.append(f"{_where(*path, 'records', index, 'id')}: id {record['id']} appears twice.")
        elif record["id"] >= table["nextId"]:
            problems.append(
                f"{_where(*path, 'records', index, 'id')}: id {record['id']} is not below nextId {table['nextId']}."
            )
        records[record["id"]] = record
    for name in collection.unique:
        seen: dict[Any, int] = {}
        for record in records.values():
            key = index_key(record.get(name))
            if record.get(name) is not None and key in seen:
                problems.append(
                    f'{_where(*path, "records")}: {name} "{record[name]}" is used by records {seen[key]} and '
                    f"{record['id']}; it must be unique."
                )
            seen.setdefault(key, record["id"])
    return records, table["nextId"]
