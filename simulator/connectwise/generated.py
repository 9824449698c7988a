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
from functools import cache
from typing import Any

from marshmallow import Schema, fields, validate

from . import rules, server_defaults
from .endpoints import endpoint_index
from .fields import CwDateTime, Flag, Int, Nested, Number, Ref, Text
from .fixed_lists import fixed_lists, fixed_view
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
from .views import ATTACHED_RECORD_TYPES, DOCUMENTS, all_notes, documents_attached_to, records_pointing_at, usages

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
# Parent paths that are no list of their own in the index, and the table whose records their id names
# (reviewed against the models: `ProjectBoardReference` names a service board, `myAccount` is the
# signed-in member's record, `/project/{id}/billingRates` hangs under a project).
PARENT_TABLES = {
    "finance/agreementtypes": "finance/agreements/types",
    "project/boards": "service/boards",
    "system/myaccount": "system/members",
    "project": "project/projects",
    "system/workflowactions": "system/workflows/events/actions",
    "configurations/types": "company/configurations/types",  # the spec drops `company/` on a few paths
    "configurations/types/questions": "company/configurations/types/questions",
}
# `...Info` models whose base model is named otherwise (reviewed): the scheduling member list shows the members.
INFO_BASES = {"SchedulingMemberInfo": "Member"}
# `/info/count` paths the index files under another spelling than their `/info` list, which has no count of its
# own there (reviewed against the endpoint index): misfiled path -> the served `/info` list it counts.
MISFILED_INFO_COUNTS = {
    "company/expenseTypes/info": "expense/types/info",
    "company/paymentTypes/info": "expense/paymentTypes/info",
    "sales/schedule/holidaylists/info": "schedule/holidaylists/info",
    "sales/schedule/holidaylists/{parentId}/holidays/info": "schedule/holidaylists/{parentId}/holidays/info",
    "sales/service/priority/info": "service/priority/info",
}
# List paths that share a model with another list but not its records: served as that list they would lie.
NOT_THE_SAME_RECORDS = frozenset(
    {
        "/service/tickets/calculateSla",  # an SLA computation, not the ticket list
        "/company/m365contactsync/property/included",  # the complement of `.../excluded`
        "/system/members/withSso",  # only the members signing in through SSO, which the fake does not model
    }
)


@cache
def template(path: str) -> str:
    """A spec path as a collection path: its last id `{parentId}`, the one before `{grandparentId}`.

    `/system/workflows/{grandparentId}/events/{parentId}/actions` and `/project/projectTemplates/
    {grandParentId}/projectTemplateTickets/{parentId}/tasks` come out alike.
    """
    names = ["{parentId}", "{grandparentId}", "{greatGrandparentId}"]
    found = PLACEHOLDER.findall(path)
    if len(found) > len(names):
        return collection_path(path)
    parts = collection_path(path).split("/")
    ids = iter(names[: len(found)][::-1])
    return "/".join(next(ids) if part.startswith("{") else part for part in parts)


@cache
def by_template() -> dict[str, tuple[str, Any]]:
    """The spec's list paths by their collection path, case-insensitively: template -> (spec path, entry)."""
    found: dict[str, tuple[str, Any]] = {}
    for path, entry in schema_index()["paths"].items():
        found.setdefault(template(path).casefold(), (path, entry))
    return found


def parent_table(parent_path: str, collections: dict[str, Collection]) -> str | None:
    """The served table whose records a path's parent id names: the parent path's own, or its model's home."""
    exact = table_of(parent_path)
    if exact in collections:
        return exact
    folded = {table.casefold(): table for table in collections}
    table = exact.casefold()
    if table in folded:
        return folded[table]
    found = by_template().get(template(parent_path).casefold())
    home = schema_index()["homes"].get(found[1]["item"]) if found is not None else None
    if home is not None and table_of(home).casefold() in folded:
        return folded[table_of(home).casefold()]
    alias = PARENT_TABLES.get(table)
    return alias if alias in collections else None


def ids_above(table: str | None, collections: dict[str, Collection]) -> int:
    """How many ids a path to a record of `table` carries above its own: its parent's, grandparent's, ..."""
    count = 0
    while table is not None and collections[table].parent is not None:
        table = collections[table].parent.collection
        count += 1
    return count


def fits(path: str, parent: str | None, collections: dict[str, Collection]) -> bool:
    """A path's ids are its parent's chain, or its tail (`/system/workflowActions/{parentId}/...` names an
    action by its own id); more ids than the chain has (a view of a top-level table under two) do not fit."""
    return path.count("{") <= (0 if parent is None else ids_above(parent, collections) + 1)


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
    for name in (word, f"{word}Id", f"{word}RecId", "parentId"):
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
    folded_candidates: set[str] = set()
    for model, home in _homes().items():
        home = template(home)  # `/company/contacts/{id}/portalSecurity`: under a contact
        table = table_of(home)
        if table in collections or table.casefold() in folded_candidates:
            continue
        candidates[table] = (model, home)
        folded_candidates.add(table.casefold())
    generated: list[Collection] = []
    changed = True
    while changed:  # a child is served only under a served parent
        changed = False
        for table, (model, home) in list(candidates.items()):
            parent_path = home.rsplit("/{parentId}", 1)[0] if "{parentId}" in home else None
            parent = parent_table(parent_path, collections) if parent_path is not None else None
            if parent_path is not None and (parent is None or not fits(home, parent, collections)):
                continue
            collection = _generated(model, home, parent_path, parent, builder, base_schema)
            collections[table] = collection
            generated.append(collection)
            del candidates[table]
            changed = True
    views = _aliases(paths, collections, builder, base_schema)
    views += _views(paths, collections, builder, base_schema)
    views += _usages(paths, collections, builder, base_schema)
    views += _reference_views(paths, collections, builder, base_schema)
    views += _fixed(paths, collections, builder, base_schema)
    _plural_counts(collections)
    _misfiled_info_counts(collections)
    notes = collections.get("service/tickets/allNotes")
    if notes is not None:
        notes.view = all_notes
        notes.methods = READ_ONLY
    return hand + generated + views


def _aliases(
    paths: dict[str, Any], collections: dict[str, Collection], builder: SchemaBuilder, base_schema: type[Schema]
) -> list[Collection]:
    """Second list paths of a model whose table another path owns, served from that table.

    Under the same parent (or none): an alias of the owner, written and read as the owner is. Under
    another parent: the owner's records whose field names that parent (`/company/companies/{id}/tracks`:
    the contact tracks of the company). Without a parent, a child table's records across parents.
    """
    homes = _homes()
    routed = {c.path.casefold() for c in collections.values()} | {
        alias.casefold() for c in collections.values() for alias in c.aliases
    }
    views: list[Collection] = []
    for path, entry in sorted(paths.items()):
        item: str = entry["item"]
        shown = template(path)
        table = table_of(shown)
        home = homes.get(item)
        if home is None or not _is_list_path(path) or path in NOT_THE_SAME_RECORDS or shown.casefold() in routed:
            continue
        owner = collections.get(table_of(template(home)))
        if owner is None or owner.view is not None or owner.view_of is not None:
            continue
        parent = None
        if "{parentId}" in shown:
            parent = parent_table(shown.rsplit("/{parentId}", 1)[0], collections)
            if parent is None or not fits(shown, parent, collections):
                continue
        owner_parent = owner.parent.collection if owner.parent is not None else None
        routed.add(shown.casefold())
        if parent == owner_parent:
            owner.aliases = (*owner.aliases, shown)
            continue
        if parent is None:
            view = Collection(
                shown, owner.resource, None, owner.api, methods=READ_ONLY, model=item, view_of=owner.table
            )
        else:
            links = _links_to(item, shown.rsplit("/{parentId}", 1)[0], parent, builder)
            if not links:
                continue
            view = Collection(
                shown,
                owner.resource,
                None,
                owner.api,
                parent=Parent("_parentId", parent),
                methods=READ_ONLY,
                model=item,
                view=records_pointing_at(owner.table, links),
            )
        if table in collections:
            view.table_name = f"{shown}#view"  # its path names the owner's table: a key of its own
        view.schema_factory = _view_factory(builder, view, owner, base_schema)
        collections[view.table] = view
        views.append(view)
    return views


def _is_list_path(path: str) -> bool:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return not last.endswith("}") and last != "count" and "/info" not in path and "/usages" not in path


def _links_to(model: str, parent_path: str, parent: str, builder: SchemaBuilder) -> tuple[str, ...]:
    """The fields of `model` that hold the id of a record of `parent` (named after it, or `parentId`)."""
    word = singular(parent_path.split("/")[-1])
    specs = model_fields(model)
    links = []
    for name in (word, f"{word}Id", f"{word}RecId", "parentId"):
        spec = specs.get(name)
        if spec is None:
            continue
        if spec["t"] == "integer" or (spec["t"] == "reference" and builder.reference_target(spec["ref"]) == parent):
            links.append(name)
    return tuple(links)


def _views(
    paths: dict[str, Any], collections: dict[str, Collection], builder: SchemaBuilder, base_schema: type[Schema]
) -> list[Collection]:
    """`/info` projections: the records of the model's table, shown through the `...Info` model's fields.

    Spelled `x/info`, `section/info/x` or `x/info/y` (`/company/companies/info/types`: the company types);
    under the base's parent, or across its parents when the path names none.
    """
    homes = _homes()
    index = endpoint_index()
    routed = {c.path.casefold() for c in collections.values()} | {
        alias.casefold() for c in collections.values() for alias in c.aliases
    }
    views = []
    for path, entry in sorted(paths.items()):
        item: str = entry["item"]
        shown = template(path)
        parts = shown.split("/")
        if "info" not in parts or parts[-1].startswith("{") or shown.casefold() in routed:
            continue
        base_model = INFO_BASES.get(item) or (item[: -len("Info")] if item.endswith("Info") else item)
        base_home = homes.get(base_model) or reference_path(f"{base_model}Reference") or ""
        base = collections.get(table_of(template(base_home)))
        if base is None or base.view is not None or base.view_of is not None:
            continue
        parent = None
        if "{parentId}" in shown:
            parent = parent_table(shown.rsplit("/{parentId}", 1)[0], collections)
            if parent is None or base.parent is None or parent != base.parent.collection:
                continue
            if not fits(shown, parent, collections):
                continue
        bare = shown.removesuffix("/info")  # `x/info` whose record the index reads at `x/{id}/info`: an alias
        one_info = bare != shown and bare.casefold() not in routed and index.match(f"/{bare}/{{id}}/info") is not None
        view = Collection(
            shown,
            lower_camel(item),
            None,
            base.api,
            parent=base.parent if parent is not None else None,
            lookup=base.lookup,
            methods=READ_ONLY,
            model=item if item in schema_index()["models"] else base.model,
            view_of=base.table,
            aliases=(bare,) if one_info else (),
        )
        routed.update(alias.casefold() for alias in view.aliases)
        if table_of(view.path) in collections:  # not view.table: it is computed once, on first read
            view.table_name = f"{shown}#view"
        routed.add(shown.casefold())
        view.schema_factory = _view_factory(builder, view, base, base_schema)
        collections[view.table] = view
        views.append(view)
    return views


def _generated(
    model: str,
    home: str,
    parent_path: str | None,
    parent_table_name: str | None,
    builder: SchemaBuilder,
    base_schema: type[Schema],
) -> Collection:
    entry = by_template()[home.casefold()][1]
    specs = model_fields(model)
    parent = None
    if parent_path is not None and parent_table_name is not None:
        parent = Parent(parent_field(model, parent_path), parent_table_name)
    methods = frozenset(entry["methods"]) | frozenset(entry.get("byIdMethods", ())) | _real_methods(home)
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
        owner_table = table_of("/".join(parts[:-2]))
        owner_collection = collections.get(owner_table)
        if owner_collection is None or owner_collection.view_of or owner_collection.view:
            continue
        path_here = template(path)
        if not fits(path_here, owner_table, collections):
            continue
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
    at the parent (by a reference named after it, `chargeToId` or `objectId`); a ticket's `/documents`: the
    uploads attached to it."""
    homes = schema_index()["homes"]
    views = []
    for spec_path, entry in paths.items():
        item: str = entry["item"]
        path = template(spec_path)  # `/marketing/campaigns/{id}/activities`: under a campaign
        home = homes.get(item[: -len("Reference")]) if item.endswith("Reference") else None
        home = home or (reference_path(item) if item.endswith("Reference") else None)
        if home is None or path.count("{") != 1 or "{parentId}" not in path or table_of(path) in collections:
            continue
        source = collections.get(table_of(home))
        parent_table = table_of(path.split("/{parentId}")[0])
        if source is None or parent_table not in collections or source.parent is not None:
            continue
        word = singular(parent_table.split("/")[-1])
        links = tuple(name for name in (word, "chargeToId", "objectId") if name in model_fields(source.model or ""))
        attached = source.table == DOCUMENTS and parent_table in ATTACHED_RECORD_TYPES
        if not links and not attached:
            continue
        shown = (
            documents_attached_to(parent_table) if attached else records_pointing_at(source.table, links, parent_table)
        )
        view = Collection(
            path,
            lower_camel(item),
            None,
            source.api,
            parent=Parent("_parentId", parent_table),
            methods=READ_ONLY,
            model=item,
            view=shown,
        )
        view.schema_factory = _factory(builder, view, base_schema, None)
        collections[view.table] = view
        views.append(view)
    return views


def _plural_counts(collections: dict[str, Collection]) -> None:
    """A `/count` the index spells in the plural beside a list it spells in the singular
    (`/procurement/changeorders/count` beside `/procurement/changeorder`): the count of that list."""
    by_path = {c.path.casefold(): c for c in collections.values() if c.view is None and c.view_of is None}
    routed = set(by_path) | {alias.casefold() for c in collections.values() for alias in c.aliases}
    for endpoint in endpoint_index().endpoints:
        if not endpoint.template.endswith("s/count"):
            continue
        plural = template(endpoint.template.removesuffix("/count")).strip("/")
        owner = by_path.get(plural[:-1].casefold())
        if owner is not None and plural.casefold() not in routed:
            owner.aliases = (*owner.aliases, plural)
            routed.add(plural.casefold())


def _misfiled_info_counts(collections: dict[str, Collection]) -> None:
    """The `/info/count` the index files under another spelling (MISFILED_INFO_COUNTS): the count of that list."""
    by_path = {c.path: c for c in collections.values()}
    for misfiled, counted in MISFILED_INFO_COUNTS.items():
        view = by_path.get(counted)
        if view is not None:
            view.aliases = (*view.aliases, misfiled)


def _fixed(
    paths: dict[str, Any], collections: dict[str, Collection], builder: SchemaBuilder, base_schema: type[Schema]
) -> list[Collection]:
    """Lists ConnectWise answers from its own code (fixed_lists.py), read-only, with `/count` and `/{id}`; a list
    spelled `x/info` whose record the index reads at `x/{id}/info` takes that spelling as an alias."""
    views = []
    for spec_path in fixed_lists():
        path = spec_path.strip("/")
        if spec_path not in paths or table_of(path) in collections:
            continue
        bare = path.removesuffix("/info")
        one_info = bare != path and endpoint_index().match(f"/{bare}/{{id}}/info") is not None
        view = Collection(
            path,
            lower_camel(paths[spec_path]["item"]),
            None,
            api_for(path),
            methods=READ_ONLY,
            model=paths[spec_path]["item"],
            view=fixed_view(spec_path),
            aliases=(bare,) if one_info else (),
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


def _real_methods(path: str) -> frozenset[str]:
    """What the endpoint index lists on a list path and on its `{id}` (the schema's entry can miss the latter)."""
    index = endpoint_index()
    found = [index.match(f"{path}/{{id}}"), index.match(path)]
    return frozenset(method for endpoint in found if endpoint is not None for method in endpoint.methods)


@cache
def _homes() -> dict[str, str]:
    """Each item model's home path: the index's, unless a path under a grandparent id is the one that takes
    a POST (`/system/workflows/{grandparentId}/events/{parentId}/actions`) or the index's home is the same
    list shown across parents of records that hold their parent's id; for a model listed only under a
    grandparent id, that path."""
    homes = dict(schema_index()["homes"])
    models = schema_index()["models"]
    paths = schema_index()["paths"]
    for path, entry in sorted(paths.items()):
        item = entry["item"]
        if item not in models or item.endswith("Reference") or path.count("{") != 2 or not _is_list_path(path):
            continue
        home = homes.get(item)
        if home is None or ("POST" in entry["methods"] and "POST" not in paths[home]["methods"]):
            homes[item] = path
    for path, entry in sorted(paths.items(), key=lambda pair: pair[0].count("{")):
        item, home = entry["item"], homes.get(entry["item"])
        if home is None or not _is_list_path(path) or "parentId" not in models.get(item, {}):
            continue
        # The same list shown per parent (`/system/workflows/{parentId}/triggers` beside `.../triggers`), its
        # records holding the parent's id in `parentId`: the table lives under the parent.
        deeper = home.count("{") < path.count("{") <= 2 and table_of(path) == table_of(home)
        if deeper and "POST" not in paths[home]["methods"]:
            homes[item] = path
    return homes


def _factory(builder: SchemaBuilder, collection: Collection, base: Any, parent: Parent | None, refine: bool = False):
    def build() -> type[Schema]:
        return builder.schema(collection.model or "", base, parent, refine)

    return build
