"""Steps several actions share: reading an action body, moving references, copying a record with its
children, a new record as the server fills it in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .actions import ActionCall
from .errors import FieldProblem, invalid_object
from .model import Collection, Record

if TYPE_CHECKING:
    from .backend import Backend

COPY_SUFFIX = " (copy)"


def success(message: str) -> dict[str, Any]:
    return {"success": True, "message": message}


def body_object(call: ActionCall, model: str) -> dict[str, Any]:
    if call.body is None:
        return {}
    if not isinstance(call.body, dict):
        raise invalid_object(model, [FieldProblem("body", f"The request body must be a JSON object ({model}).")])
    return call.body


def required_int(body: dict[str, Any], name: str, model: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_object(model, [FieldProblem(name, f"{name} is required (a record id).", "MissingRequiredField")])
    return value


def id_list(body: dict[str, Any], name: str, model: str) -> list[int]:
    value = body.get(name)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise invalid_object(model, [FieldProblem(name, f"{name} must be a non-empty list of record ids.")])
    return value


def children_of(backend: Backend, table: str) -> list[Collection]:
    return [
        c
        for c in backend.collections.values()
        if c.parent is not None and c.parent.collection == table and c.view is None and c.view_of is None
    ]


def repoint(backend: Backend, table: str, old_id: int, new_id: int) -> int:
    """Every stored reference to record `old_id` of `table` (and every child under it) now names `new_id`."""
    moved = 0
    for collection in backend.collections.values():
        if collection.view is not None or collection.view_of is not None:
            continue
        names = [name for name, ref in collection.refs.items() if ref.target == table and not ref.dump_only]
        if collection.parent is not None and collection.parent.collection == table:
            names.append(collection.parent.field)
        if not names:
            continue
        stored = backend.store.table(collection.table)
        for record in list(stored.records.values()):
            changed = {name: new_id for name in names if record.get(name) == old_id}
            if changed:
                backend.store.replace(collection.table, {**record, **changed})
                moved += 1
    return moved


def unique_value(backend: Backend, collection: Collection, name: str, value: Any) -> Any:
    """`value`, or `value (copy)`, `value (copy 2)`... where the collection keeps `name` unique."""
    if name not in collection.unique or not isinstance(value, str):
        return value
    table = backend.store.table(collection.table)
    limit = _max_length(collection, name)
    candidate, number = value, 1
    while table.lookup(name, candidate):
        suffix = COPY_SUFFIX if number == 1 else f" (copy {number})"
        candidate = (value[: limit - len(suffix)] if limit else value) + suffix
        number += 1
    return candidate


def _max_length(collection: Collection, name: str) -> int | None:
    for validator in collection.loader.fields[name].validators:
        maximum = getattr(validator, "max", None)
        if isinstance(maximum, int):
            return maximum
    return None


def copy_record(
    call: ActionCall,
    table: str,
    source_id: int,
    overrides: dict[str, Any] | None = None,
    parent_id: int | None = None,
    with_children: bool = True,
) -> Record:
    """A new record made from another one (its children copied under it): what every `/copy` does."""
    backend = call.backend
    collection = backend.collection(table)
    with backend.store.lock:
        source = backend.get(collection, source_id, parent_id, call.principal)
        document = backend.as_input(collection, source)
        if "defaultFlag" in document:
            document["defaultFlag"] = False  # the copy never takes the default from its original
        document.update(overrides or {})
        for name in collection.unique:
            if name in document:
                document[name] = unique_value(backend, collection, name, document[name])
        created = backend.create(collection, document, call.principal, parent_id)
        if with_children:
            for child in children_of(backend, table):
                rows = backend.store.table(child.table)
                for row_id in sorted(rows.lookup(child.parent.field, source_id)):
                    backend.create(child, backend.as_input(child, rows.records[row_id]), call.principal, created["id"])
    return created


def template_record(backend: Backend, collection: Collection) -> Record:
    """A new record as the server would fill it in before the caller sets anything: its `/default`."""
    record: Record = dict(collection._defaults)
    for name, ref in collection.refs.items():
        if ref.default is not None and not ref.dump_only:
            record[name] = ref.default(backend, record)
    return record
