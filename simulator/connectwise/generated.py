"""Collections derived from ConnectWise's models: one table per item model, served by the same machinery.

The hand-declared collections (collections.py) refine what is derived here: where a declaration
names a path, its schema's fields, rules and options win, and the model's other fields are added
to it. Every other item model gets a collection from its home path (data/cw-manage-schema.json).
Schemas are built on first use, so a server that never touches a collection never pays for it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from marshmallow import Schema, fields, validate

from . import rules, server_defaults
from .fields import CwDateTime, Flag, Int, Nested, Number, Ref, Text
from .model import READ_ONLY, Collection, Parent
from .schema_index import (
    FieldSpec,
    collection_path,
    model_fields,
    reference_path,
    reference_shape,
    schema_index,
    table_of,
)
from .views import all_notes, records_pointing_at, usages

# The integrator-login API that guards a path, by its longest matching prefix.
API_BY_PREFIX = {
    "company/contacts": "Contact",
    "company/configurations": "Configuration",
    "company/managedDevicesIntegrations": "ManagedServices",
    "company/managedservice": "ManagedServices",
    "company": "Company",
    "service": "ServiceTicket",
    "finance/agreements": "Agreement",
    "finance/agreementTypes": "Agreement",
    "finance": "Invoice",
    "procurement/purchaseorders": "Purchasing",
    "procurement/purchaseorderstatuses": "Purchasing",
    "procurement": "Product",
    "sales/activities": "Activity",
    "sales": "Opportunity",
    "marketing": "Marketing",
    "project": "Project",
    "time": "TimeEntry",
    "expense": "TimeEntry",
    "schedule": "Schedule",
    "system/members": "Member",
    "system/documents": "Document",
    "system/reports": "Reporting",
    "system": "System",
}
DATE = r"^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$"
PLACEHOLDER = re.compile(r"\{[^}]+\}")
# References whose "default" is per owner (a company's default contact), never a tenant-wide row.
OWNED_DEFAULTS = frozenset({"company/contacts"})
# The flag that marks a table's default row (a work type's is its "overall" default).
DEFAULT_FLAGS = ("defaultFlag", "overallDefaultFlag")


def api_for(path: str) -> str:
    folded = path.casefold()
    for prefix in sorted(API_BY_PREFIX, key=len, reverse=True):
        if folded == prefix.casefold() or folded.startswith(prefix.casefold() + "/"):
            return API_BY_PREFIX[prefix]
    return "System"


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "uses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


class SchemaBuilder:
    """Builds marshmallow schemas from model fields, against the set of tables that are served."""

    def __init__(self, collections: dict[str, Collection]) -> None:
        self.collections = collections

    def reference_target(self, reference_model: str) -> str | None:
        path = reference_path(reference_model)
        if path is None:
            return None
        table = table_of(path)
        return table if table in self.collections else None

    def field(self, name: str, spec: FieldSpec, parent_table: str | None) -> fields.Field:
        """A marshmallow field for one model field; `parent_table`: it holds the parent's id (server-set)."""
        kind = spec["t"]
        options: dict[str, Any] = {"allow_none": True}
        if parent_table is not None:
            if kind == "reference":
                return Ref(parent_table, dump_only=True, shape=reference_shape(spec["ref"]))
            options["dump_only"] = True
        elif spec.get("post"):
            return Text(load_only=True, allow_none=True, metadata={"transient": True, "post_only": True})
        elif spec.get("req"):
            options["required"] = True
        if spec.get("upd"):
            options["metadata"] = {"required_on_updates": True}
        if kind == "integer":
            return Int(**options)
        if kind == "number":
            return Number(**options)
        if kind == "boolean":
            if not options.get("required"):
                options["load_default"] = False  # ConnectWise always answers its flags, false by default
            return Flag(**options)
        if kind == "datetime":
            return CwDateTime(**options)
        if kind == "string":
            validators: list[Any] = []
            if spec.get("max"):
                validators.append(validate.Length(max=spec["max"]))
            if spec.get("enum"):
                validators.append(validate.OneOf(spec["enum"]))
            if spec.get("fmt") == "date":
                validators.append(validate.Regexp(DATE, error="Not a valid date; expected YYYY-MM-DD."))
                options.setdefault("metadata", {})["fmt"] = "date"
            return Text(validate=validators, **options)
        if kind == "reference":
            target = self.reference_target(spec["ref"])
            if target is not None:
                default = None
                target_collection = self.collections[target]
                target_fields = model_fields(target_collection.model or "")
                flag = next((name for name in DEFAULT_FLAGS if name in target_fields), None)
                if target_collection.parent is None and target not in OWNED_DEFAULTS and flag is not None:
                    default = rules.default_row(target, flag)
                ref = Ref(target, default=default, **options)
                ref.shape = reference_shape(spec["ref"])
                return ref
        return Nested(**options)

    def schema(self, model: str, base: type[Schema], parent: Parent | None, refine: bool) -> type[Schema]:
        """`base` (a hand-declared schema, or the plain one) plus every model field it does not declare.

        `refine`: `base` is a declaration, which says alone what a POST requires.
        """
        declared = base._declared_fields
        attrs: dict[str, Any] = {}
        specs = model_fields(model)
        for name, spec in specs.items():
            if name == "id":
                continue
            existing = declared.get(name)
            if existing is None:
                if refine:
                    spec = {key: value for key, value in spec.items() if key not in ("req", "upd")}
                holds_parent = parent is not None and name == parent.field
                attrs[name] = self.field(name, spec, parent.collection if holds_parent else None)
            elif isinstance(existing, Ref) and spec["t"] == "reference" and getattr(existing, "shape", None) is None:
                existing.shape = reference_shape(spec["ref"])
        return type(f"{model}Schema", (base,), attrs)


def parent_field(model: str, parent_path: str) -> str:
    """The field of a child record holding its parent's id: `board`, `boardId`, or a hidden one."""
    word = singular(collection_path(parent_path).split("/")[-1])
    specs = model_fields(model)
    for name in (word, f"{word}Id", f"{word}RecId"):
        spec = specs.get(name)
        if spec is not None and spec["t"] in ("reference", "integer"):
            return name
    return "_parentId"


def with_generated(hand: Iterable[Collection], base_schema: type[Schema]) -> list[Collection]:
    """The hand-declared collections, refined by their models, then one generated collection per other item model."""
    index = schema_index()
    paths: dict[str, Any] = index["paths"]
    hand = list(hand)
    collections: dict[str, Collection] = {c.table: c for c in hand}
    builder = SchemaBuilder(collections)
    for collection in hand:
        entry = paths.get("/" + collection.path)
        if entry is not None and collection.link_field is None and entry["item"] in index["models"]:
            collection.model = entry["item"]
            collection.schema_factory = _factory(builder, collection, collection.schema, None, refine=True)
    candidates: dict[str, tuple[str, str]] = {}
    folded: set[str] = set()  # the candidates' tables, case-folded
    for model, home in index["homes"].items():
        home = PLACEHOLDER.sub("{parentId}", home)  # `/company/contacts/{id}/portalSecurity`: under a contact
        table = table_of(home)
        if table in collections or table in candidates or table.casefold() in folded:
            continue
        candidates[table] = (model, home)
        folded.add(table.casefold())
    generated: list[Collection] = []
    changed = True
    while changed:  # a child is served only under a served parent
        changed = False
        for table, (model, home) in list(candidates.items()):
            parent_path = home.split("/{parentId}")[0] if "{parentId}" in home else None
            if parent_path is not None and table_of(parent_path) not in collections:
                continue
            collection = _generated(model, home, parent_path, builder, base_schema)
            collections[table] = collection
            generated.append(collection)
            del candidates[table]
            changed = True
    views = _views(paths, collections, builder, base_schema)
    views += _usages(paths, collections, builder, base_schema)
    views += _reference_views(paths, collections, builder, base_schema)
    notes = collections.get("service/tickets/allNotes")
    if notes is not None:
        notes.view = all_notes
        notes.methods = READ_ONLY
    return hand + generated + views


def _views(
    paths: dict[str, Any], collections: dict[str, Collection], builder: SchemaBuilder, base_schema: type[Schema]
) -> list[Collection]:
    """`/info` projections: the records of the model's table, shown through the `...Info` model's fields."""
    homes = schema_index()["homes"]
    views = []
    for path, entry in paths.items():
        item: str = entry["item"]
        parts = collection_path(path).split("/")
        projection = parts[-1] == "info" or (len(parts) == 3 and parts[1] == "info")
        base_home = homes.get(item[: -len("Info")]) if item.endswith("Info") else None
        if not projection or base_home is None or table_of(base_home) not in collections:
            continue
        base = collections[table_of(base_home)]
        if ("{parentId}" in path) != (base.parent is not None) or table_of(path) in collections:
            continue
        view = Collection(
            collection_path(path),
            lower_camel(item),
            None,
            base.api,
            parent=base.parent,
            lookup=base.lookup,
            methods=READ_ONLY,
            model=item,
            view_of=base.table,
        )
        view.schema_factory = _view_factory(builder, view, base, base_schema)
        collections[view.table] = view
        views.append(view)
    return views


def _generated(
    model: str, home: str, parent_path: str | None, builder: SchemaBuilder, base_schema: type[Schema]
) -> Collection:
    entry = schema_index()["paths"].get(home) or _entry_by_pattern(home)
    specs = model_fields(model)
    parent = None
    if parent_path is not None:
        field_name = parent_field(model, parent_path)
        parent = Parent(field_name, table_of(parent_path))
    methods = frozenset(entry["methods"]) | frozenset(entry.get("byIdMethods", ()))
    lookup = tuple(name for name in ("identifier", "name") if name in specs) or ("name",)
    one_default = ()
    if "defaultFlag" in specs:
        one_default = (rules.one_default(parent.field if parent is not None else None),)
    path = collection_path(home)
    collection = Collection(
        path,
        lower_camel(model),
        None,
        api_for(path),
        parent=parent,
        lookup=lookup,
        rules=one_default + server_defaults.rules_for(model),
        methods=methods & frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}),
        model=model,
    )
    collection.schema_factory = _factory(builder, collection, base_schema, parent)
    return collection


def _usages(
    paths: dict[str, Any], collections: dict[str, Collection], builder: SchemaBuilder, base_schema: type[Schema]
) -> list[Collection]:
    """`/{id}/usages` and `/{id}/usages/list`: what refers to a record, computed from the stored references."""
    views = []
    for path in paths:
        parts = collection_path(path).split("/")
        if parts[-1] == "list":
            parts = parts[:-1]
        if parts[-1] != "usages" or not parts[-2].startswith("{"):
            continue
        owner = "/".join(parts[:-2])
        owner_path = PLACEHOLDER.sub("{parentId}", owner)
        owner_table = table_of(owner_path)
        owner_collection = collections.get(owner_table)
        if owner_collection is None or owner_collection.view_of or owner_collection.view:
            continue
        path_here = PLACEHOLDER.sub("{parentId}", collection_path(path))
        if path_here.count("{parentId}") > 1:
            continue  # under a child record: a grandparent id the machinery does not carry
        view = Collection(
            path_here,
            "usage",
            None,
            owner_collection.api,
            parent=Parent("_parentId", owner_table),
            methods=READ_ONLY,
            model="Usage",
            view=usages(owner_table),
        )
        view.schema_factory = _factory(builder, view, base_schema, None)
        collections[view.table] = view
        views.append(view)
    return views


def _reference_views(
    paths: dict[str, Any], collections: dict[str, Collection], builder: SchemaBuilder, base_schema: type[Schema]
) -> list[Collection]:
    """`/service/tickets/{id}/timeentries` and the like: references to another model's records that point
    at the parent (by a reference named after it, `chargeToId` or `objectId`)."""
    homes = schema_index()["homes"]
    views = []
    for path, entry in paths.items():
        item: str = entry["item"]
        home = homes.get(item[: -len("Reference")]) if item.endswith("Reference") else None
        if home is None or path.count("{") != 1 or "{parentId}" not in path or table_of(path) in collections:
            continue
        source = collections.get(table_of(PLACEHOLDER.sub("{parentId}", home)))
        parent_table = table_of(path.split("/{parentId}")[0])
        if source is None or parent_table not in collections or source.parent is not None:
            continue
        word = singular(parent_table.split("/")[-1])
        links = tuple(name for name in (word, "chargeToId", "objectId") if name in model_fields(source.model or ""))
        if not links:
            continue
        view = Collection(
            collection_path(path),
            lower_camel(item),
            None,
            source.api,
            parent=Parent("_parentId", parent_table),
            methods=READ_ONLY,
            model=item,
            view=records_pointing_at(source.table, links, parent_table),
        )
        view.schema_factory = _factory(builder, view, base_schema, None)
        collections[view.table] = view
        views.append(view)
    return views


def _view_factory(builder: SchemaBuilder, view: Collection, base: Collection, base_schema: type[Schema]):
    """A projection's schema: the fields its base stores, read as the base reads them; the rest from the model."""

    def build() -> type[Schema]:
        declared = base.schema_class._declared_fields
        shared = {name: copy.deepcopy(declared[name]) for name in model_fields(view.model or "") if name in declared}
        return builder.schema(view.model or "", type("ViewBase", (base_schema,), shared), base.parent, False)

    return build


def _entry_by_pattern(home: str) -> dict[str, Any]:
    for path, entry in schema_index()["paths"].items():
        if PLACEHOLDER.sub("{parentId}", path) == home:
            return entry
    raise KeyError(home)


def _factory(builder: SchemaBuilder, collection: Collection, base: Any, parent: Parent | None, refine: bool = False):
    def build() -> type[Schema]:
        return builder.schema(collection.model or "", base, parent, refine)

    return build
