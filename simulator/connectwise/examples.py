"""Schema-valid request bodies built from a collection's model: what seeding and the sweep tests post."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import fields as mm
from marshmallow import validate

from .auth import SYSTEM
from .fields import CwDateTime, Flag, Int, Nested, Number, Ref
from .schema_index import model_fields

if TYPE_CHECKING:
    from .backend import Backend
    from .model import Collection

EXAMPLE_MOMENT = "2026-01-05T09:00:00Z"
MAX_DEPTH = 12  # a required reference to an empty table makes one example there, this deep at most
# What a declaration's rules ask for beyond its schema's required fields.
RULE_EXTRAS: dict[str, dict[str, Any]] = {
    "company/companies": {"city": "Springfield"},
    "service/tickets/notes": {"text": "Example note", "detailDescriptionFlag": True},
    "service/boards": {"location": {"id": 1, "name": "Main"}, "department": {"id": 1, "name": "Services"}},
    # Callbacks go to loopback only; port 9 (discard) answers nothing, so a delivery just fails, journaled.
    "system/callbacks": {"url": "http://127.0.0.1:9/callback", "type": "ticket", "level": "owner"},
}


def example_text(schema_field: mm.Field, label: str) -> str:
    if schema_field.metadata.get("fmt") == "date":
        return EXAMPLE_MOMENT[:10]
    limit = None
    for validator in schema_field.validators:
        if isinstance(validator, validate.OneOf):
            return str(next(iter(validator.choices)))
        if isinstance(validator, validate.Length) and validator.max:
            limit = validator.max
    return label[:limit] if limit else label


def example_body(backend: Backend, collection: Collection, label: str, depth: int = 0) -> dict[str, Any]:
    """Every field a POST requires, with a valid value; references name an existing record (made if needed)."""
    specs = model_fields(collection.model or "")
    body: dict[str, Any] = dict(RULE_EXTRAS.get(collection.table, {}))
    for name, schema_field in collection.loader.fields.items():
        wanted = schema_field.required or specs.get(name, {}).get("resp")  # resp: clients fail without it
        if schema_field.dump_only or schema_field.load_only or not wanted or name in body:
            continue
        body[name] = example_value(backend, schema_field, specs.get(name, {}), label, depth)
    return body


def example_value(backend: Backend, schema_field: mm.Field, spec: dict[str, Any], label: str, depth: int) -> Any:
    if isinstance(schema_field, Ref):
        return {"id": any_record(backend, schema_field.target, depth + 1)}
    if isinstance(schema_field, Flag):
        return False
    if isinstance(schema_field, Int):
        return 1
    if isinstance(schema_field, Number):
        return 1.0
    if isinstance(schema_field, CwDateTime):
        return EXAMPLE_MOMENT
    if isinstance(schema_field, Nested):
        return [] if spec.get("t") == "array" else {"id": 1, "name": label}
    return example_text(schema_field, label)


def any_record(backend: Backend, table: str, depth: int = 0) -> int:
    """The lowest id of a table, after making one example record there when it is empty."""
    records = backend.store.table(table).records
    if records:
        return min(records)
    if depth > MAX_DEPTH:
        raise ValueError(f"{table}: required references nest too deep to build an example")
    return create_example(backend, backend.collection(table), f"Example {table.rsplit('/', 1)[-1]}", {}, depth)["id"]


def create_example(
    backend: Backend, collection: Collection, label: str, overrides: dict[str, Any], depth: int = 0
) -> dict[str, Any]:
    """Create a record from the example body with `overrides` on top (under the first parent, if a child)."""
    overrides = dict(overrides)
    parent_id = None
    if collection.parent is not None:
        parent_id = overrides.pop("parentId", None) or any_record(backend, collection.parent.collection, depth + 1)
    body = {**example_body(backend, collection, label, depth), **overrides}
    return backend.create(collection, body, SYSTEM, parent_id=parent_id)
