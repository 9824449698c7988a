"""The generic machinery behind every declared collection: read, create, replace, patch, delete.

No HTTP here: callers pass parsed bodies and get records back or a CwError. Validation runs
outside the store lock; references, rules and the write run inside it, so a write is checked
against the state it lands on.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from ..clock import Clock, WallClock, format_cw_datetime
from ..stubs import StubSpec
from . import conditions
from .auth import SYSTEM, ApiKey, Principal
from .conditions import ConditionError
from .errors import CwError, FieldProblem, bad_request, field_problems, invalid_object, not_found
from .fields import CwDateTime, Ref, RefInput
from .model import Collection, WriteContext
from .paging import Page, navigable_links
from .permissions import visibility
from .query import FieldResolver, ListQuery, Planner, order
from .rendering import LinkRenderer, Renderer
from .store import Record, Store, index_key

ADDITIONS = "finance/agreements/additions"
PATH_ID = re.compile(r"\{[^}]+\}")
PATCH_OPS = {"add", "replace", "remove"}
# Tables whose records ConnectWise numbers from one sequence: service and project tickets are one
# kind of record there, so a project ticket never has a service ticket's id (clients key them together).
# Each table keeps its own counter (a fresh tenant's service tickets still start at 1) and skips the
# ids the other holds.
SHARED_ID_SEQUENCES = {"project/tickets": "service/tickets"}


@dataclass
class TenantSettings:
    """What identifies a tenant and how its API answers."""

    company_id: str = "cwsim"
    company_name: str = "cwsim"
    codebase: str = "v2025_1/"
    version: str = "v2025.1.10431"
    api_keys: list[ApiKey] = field(default_factory=list)
    default_board_id: int | None = None
    seed: int = 0


class Backend:
    """One tenant's ConnectWise: its declared collections over one store."""

    def __init__(
        self,
        collections: Iterable[Collection],
        clock: Clock | None = None,
        settings: TenantSettings | None = None,
    ) -> None:
        self.clock: Clock = clock or WallClock()
        self.settings = settings or TenantSettings()
        self.store = Store()
        self.collections: dict[str, Collection] = {}
        for collection in collections:
            self.collections[collection.table] = collection
            indexed = set(collection.indexes) | set(collection.unique)
            if collection.parent is not None:
                indexed.add(collection.parent.field)
            self.store.add_table(collection.table, indexed)
        for table, owner in SHARED_ID_SEQUENCES.items():
            if table in self.store.tables and owner in self.store.tables:
                self.store.share_ids(table, owner)
        self._renderers: dict[str, Renderer] = {}
        self.auth_cache: dict[tuple[str, bool, int], Principal] = {}
        self.stubs: tuple[StubSpec, ...] = ()  # what the tenant file pins (simulator/stubs.py); served by the world
        # Planner: per referenced table and condition term, (that table's version, the ids matching it).
        self.matching_ids: dict[tuple[Any, ...], tuple[int, tuple[int, ...]]] = {}
        self.default_rows: dict[str, tuple[int, int | None]] = {}  # table -> (version, its defaultFlag row)
        self._children: dict[str, list[Collection]] = {}
        for collection in self.collections.values():
            if collection.parent is not None:
                self._children.setdefault(collection.parent.collection, []).append(collection)

    # -- lookups -------------------------------------------------------------------------

    def collection(self, table: str) -> Collection:
        return self.collections[table]

    def renderer(self, collection: Collection) -> Renderer:
        renderer = self._renderers.get(collection.table)
        if renderer is None:
            kind = LinkRenderer if collection.link_field else Renderer
            renderer = self._renderers[collection.table] = kind(self, collection)
        return renderer

    def projection(self, collection: Collection) -> Collection:
        """The `/info` view of a collection's records (its fewer fields), or the collection itself."""
        for candidate in self.collections.values():
            if candidate.view_of == collection.table and candidate.path.endswith("/info"):
                return candidate
        return collection

    def now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    # -- reads ---------------------------------------------------------------------------

    def get(
        self, collection: Collection, record_id: int, parent_id: int | None = None, principal: Principal = SYSTEM
    ) -> Record:
        """One record (for a link collection, the link to the record `record_id` names), or a 404."""
        self._check_parent(collection, parent_id, principal)
        if collection.link_field is not None:
            record = self._link(collection, record_id, parent_id)
        elif collection.view is not None:
            record = next((r for r in collection.view(self, parent_id) if r["id"] == record_id), None)
        else:
            record = self.store.get(collection.source_table, record_id)
        visible = visibility(self, principal)
        if record is None or not self._under_parent(collection, record, parent_id) or (visible and not visible(record)):
            raise not_found(collection.resource, record_id)
        return record

    def _link(self, collection: Collection, linked_id: int, parent_id: int | None) -> Record | None:
        table = self.store.table(collection.table)
        for row_id in table.lookup(collection.link_field, linked_id):
            row = table.get(row_id)
            if row is not None and self._under_parent(collection, row, parent_id):
                return row
        return None

    def query(
        self, collection: Collection, query: ListQuery, parent_id: int | None = None, principal: Principal = SYSTEM
    ) -> Page:
        """Filter, order and cut one page; `Page.links` holds what the Link header needs."""
        matches = self._filtered(collection, query, parent_id, principal)
        if query.forward_only:
            after = query.page_id or 0
            matches = sorted((r for r in matches if r["id"] > after), key=lambda r: r["id"])
            items = matches[: query.page_size]
            more = len(matches) > query.page_size
            return Page(items, len(matches), {"next": str(items[-1]["id"])} if more else {})
        if query.order_by:
            matches = order(matches, query.order_by, FieldResolver(self, collection))
        start = (query.page - 1) * query.page_size
        items = matches[start : start + query.page_size]
        return Page(items, len(matches), navigable_links(query.page, query.page_size, len(matches)))

    def count(
        self, collection: Collection, query: ListQuery, parent_id: int | None = None, principal: Principal = SYSTEM
    ) -> int:
        return len(self._filtered(collection, query, parent_id, principal))

    def _filtered(
        self, collection: Collection, query: ListQuery, parent_id: int | None, principal: Principal
    ) -> list[Record]:
        self._check_parent(collection, parent_id, principal)
        resolver = FieldResolver(self, collection)
        planner = Planner(self, collection)
        table = self.store.table(collection.source_table)
        with self.store.lock:
            try:
                if collection.view is not None:
                    candidate_ids, condition = None, query.conditions
                else:
                    candidate_ids, condition = planner.plan(planner.rewrite(query.conditions))
                predicates = [conditions.compile_condition(condition, resolver)] if condition else []
                predicates += self._array_predicates(collection, query)
                visible = visibility(self, principal)
                if visible is not None:
                    predicates.insert(0, visible)
            except ConditionError as error:
                raise bad_request(str(error), "conditions") from error
            if collection.view is not None:
                records = collection.view(self, parent_id)
            else:
                if collection.parent is not None:
                    under_parent = table.lookup(collection.parent.field, parent_id)
                    candidate_ids = under_parent if candidate_ids is None else candidate_ids & under_parent
                if candidate_ids is None:
                    records = list(table.records.values())
                else:
                    records = [table.records[i] for i in sorted(candidate_ids)]
        for predicate in predicates:
            records = [record for record in records if predicate(record)]
        return records

    def _array_predicates(self, collection: Collection, query: ListQuery) -> list[Callable[[Record], bool]]:
        """`childConditions` and `customFieldConditions`: true when any element matches."""
        predicates = []
        if query.child_conditions is not None:
            predicates.append(_any_element(query.child_conditions, None))
        if query.custom_field_conditions is not None:
            predicates.append(_any_element(query.custom_field_conditions, "customFields"))
        return predicates

    # -- writes --------------------------------------------------------------------------

    def create(
        self,
        collection: Collection,
        body: Any,
        principal: Principal = SYSTEM,
        parent_id: int | None = None,
    ) -> Record:
        loaded, transient = self._load(collection, body)
        with self.store.lock:
            self._check_parent(collection, parent_id, principal)
            record = self._with_references(collection, loaded, {}, set(loaded), principal)
            if collection.parent is not None:
                record[collection.parent.field] = parent_id
            if "mobileGuid" in collection.loader.fields:
                record["mobileGuid"] = self._mobile_guid(collection)
            return self._commit(collection, record, None, principal, set(loaded), transient)

    def replace(
        self,
        collection: Collection,
        record_id: int,
        body: Any,
        principal: Principal = SYSTEM,
        parent_id: int | None = None,
    ) -> Record:
        """PUT: a full replace of what the client may set; server-set fields are kept."""
        if isinstance(body, dict) and collection.required_on_updates:
            missing = sorted(name for name in collection.required_on_updates if body.get(name) is None)
            if missing:
                raise invalid_object(
                    collection.resource,
                    [FieldProblem(name, f"{name} is required on update.", "MissingRequiredField") for name in missing],
                )
        loaded, _ = self._load(collection, body, keep_post_only=False)
        with self.store.lock:
            previous = self.get(collection, record_id, parent_id, principal)
            return self._update(collection, previous, loaded, set(loaded), principal)

    def patch(
        self,
        collection: Collection,
        record_id: int,
        operations: Any,
        principal: Principal = SYSTEM,
        parent_id: int | None = None,
    ) -> Record:
        """PATCH with a JSON-Patch array; every operation applies or none does."""
        with self.store.lock:
            previous = self.get(collection, record_id, parent_id, principal)
            document, touched = apply_patch(collection, self.as_input(collection, previous), operations)
            loaded, _ = self._load(collection, document, keep_post_only=False)
            return self._update(collection, previous, loaded, touched, principal)

    def delete(
        self, collection: Collection, record_id: int, principal: Principal = SYSTEM, parent_id: int | None = None
    ) -> None:
        with self.store.lock:
            record = self.get(collection, record_id, parent_id, principal)
            context = WriteContext(self, collection, {}, record, principal, set(), {})
            for rule in collection.delete_rules:
                rule(context)
            self._delete_children(collection, record["id"])
            self._delete_links_to(collection, record["id"])
            self.store.delete(collection.table, record["id"])

    def mark_invoiced(self, addition_id: int) -> Record:
        """What invoicing does to an agreement addition: from now on it cannot be changed."""
        with self.store.lock:
            addition = self.store.get(ADDITIONS, addition_id)
            if addition is None:
                raise not_found("addition", addition_id)
            return self.store.replace(
                ADDITIONS, {**addition, "_invoiced": True, "billedQuantity": addition.get("quantity")}
            )

    def insert_internal(self, table: str, record: Record, principal: Principal = SYSTEM) -> Record:
        """Store a record built by a rule (already valid), stamping `_info`."""
        collection = self.collection(table)
        if "mobileGuid" in collection.loader.fields:
            record["mobileGuid"] = self._mobile_guid(collection)
        self._stamp(record, None, principal)
        return self.store.insert(table, record)

    def _update(
        self,
        collection: Collection,
        previous: Record,
        loaded: dict[str, Any],
        touched: set[str],
        principal: Principal,
    ) -> Record:
        kept = {name: value for name, value in previous.items() if self._is_server_set(collection, name)}
        record = self._with_references(collection, loaded, previous, touched, principal)
        record = {**kept, **record}
        return self._commit(collection, record, previous, principal, touched, {})

    def _commit(
        self,
        collection: Collection,
        record: Record,
        previous: Record | None,
        principal: Principal,
        touched: set[str],
        transient: dict[str, Any],
    ) -> Record:
        context = WriteContext(self, collection, record, previous, principal, touched, transient)
        for rule in collection.rules:
            rule(context)
        self._check_unique(collection, record)
        self._stamp(record, previous, principal)
        if previous is None:
            stored = self.store.insert(collection.table, record)
        else:
            stored = self.store.replace(collection.table, record)
        for effect in context.after_commit:
            effect(stored)
        return stored

    def _stamp(self, record: Record, previous: Record | None, principal: Principal) -> None:
        now = self.now()
        if previous is None:
            record["_dateEntered"] = now
            record["_enteredBy"] = principal.identifier
        else:
            record["_dateEntered"] = previous.get("_dateEntered")
            record["_enteredBy"] = previous.get("_enteredBy")
        record["_lastUpdated"] = now
        record["_updatedBy"] = principal.identifier

    def _mobile_guid(self, collection: Collection) -> str:
        table = self.store.table(collection.table)
        name = f"{self.settings.seed}/{collection.table}/{table.next_id}"
        return url_uuid5(name)

    def _is_server_set(self, collection: Collection, name: str) -> bool:
        if name.startswith("_") or name == "id":
            return True
        if collection.parent is not None and name == collection.parent.field:
            return True
        schema_field = collection.loader.fields.get(name)
        return schema_field is not None and schema_field.dump_only

    # -- validation ----------------------------------------------------------------------

    def _load(
        self, collection: Collection, body: Any, keep_post_only: bool = True
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate a body with the collection's schema -> (stored fields, transient fields)."""
        if not isinstance(body, dict):
            raise invalid_object(
                collection.resource,
                [FieldProblem("body", f"The request body must be a JSON object describing a {collection.resource}.")],
            )
        try:
            loaded = collection.load(body)
        except ValidationError as error:
            raise invalid_object(collection.resource, list(field_problems(error.messages))) from error
        transient = {name: loaded.pop(name) for name in list(loaded) if name in collection.transient_fields}
        if not keep_post_only:
            for name in collection.post_only_fields:
                loaded.pop(name, None)
        return loaded, transient

    def _with_references(
        self,
        collection: Collection,
        loaded: dict[str, Any],
        previous: Record,
        touched: set[str],
        principal: Principal,
    ) -> Record:
        """Resolve references (by id or name) to ids; apply defaults; check scopes."""
        record = {name: value for name, value in loaded.items() if name not in collection.refs}
        for name, ref in collection.refs.items():
            if ref.dump_only:
                continue
            if name in loaded:
                given = loaded[name]
                if given is not None and given.id is not None and given.id == previous.get(name):
                    record[name] = given.id  # unchanged (a PATCH document carries every reference back)
                elif given is None:
                    record[name] = None
                else:
                    record[name] = self._find(ref, given, record, name, collection, principal)
            else:
                record[name] = previous.get(name)
            if record[name] is None and ref.default is not None:
                record[name] = ref.default(self, record)
            if ref.scope and record[name] is not None and not self._in_scope(ref, record, name):
                if name in touched:
                    raise self._out_of_scope(collection, ref, record, name)
                record[name] = ref.default(self, record) if ref.default else None
        return record

    def _in_scope(self, ref: Ref, record: Record, name: str) -> bool:
        target = self.store.get(ref.target, record[name])
        return target is not None and target.get(ref.scope_field) == record.get(ref.scope)

    def _out_of_scope(self, collection: Collection, ref: Ref, record: Record, name: str) -> CwError:
        scope_target = self.collection(collection.refs[ref.scope].target)
        scope_record = self.store.get(scope_target.table, record.get(ref.scope)) or {}
        label = scope_record.get("name", record.get(ref.scope))
        return invalid_object(
            collection.resource,
            [FieldProblem(name, f'{name} {record[name]} does not belong to {ref.scope} "{label}".')],
        )

    def _find(
        self, ref: Ref, given: RefInput, record: Record, name: str, collection: Collection, principal: Principal
    ) -> int:
        """The id of the record a reference names (and the caller may see), or a 400 naming the field."""
        target = self.collection(ref.target)
        table = self.store.table(target.table)
        visible = visibility(self, principal) or (lambda candidate: True)
        if given.id is not None:
            found = table.get(given.id)
            if found is None or not visible(found):
                raise invalid_object(
                    collection.resource,
                    [FieldProblem(name, f"{name} {given.describe()} does not exist.")],
                )
            return given.id
        wanted = given.identifier if given.identifier is not None else given.name
        lookup_fields = ("identifier",) if given.identifier is not None else target.lookup
        matches = [
            candidate
            for candidate in table.records.values()
            if any(index_key(_lookup_value(target, candidate, f)) == index_key(wanted) for f in lookup_fields)
            and (not ref.scope or candidate.get(ref.scope_field) == record.get(ref.scope))
            and visible(candidate)
        ]
        if len(matches) != 1:
            problem = "does not exist" if not matches else f"matches {len(matches)} records; use its id"
            scope = f" on this {ref.scope}" if ref.scope else ""
            raise invalid_object(
                collection.resource,
                [FieldProblem(name, f"{name} {given.describe()}{scope} {problem}.")],
            )
        return matches[0]["id"]

    def _check_unique(self, collection: Collection, record: Record) -> None:
        table = self.store.table(collection.table)
        for name in collection.unique:
            clashes = table.lookup(name, record.get(name)) - {record.get("id")}
            if record.get(name) is not None and clashes:
                raise invalid_object(
                    collection.resource,
                    [FieldProblem(name, f'{name} "{record[name]}" is already in use.', "ObjectExists")],
                )

    # -- parents and children ------------------------------------------------------------

    def _check_parent(self, collection: Collection, parent_id: int | None, principal: Principal = SYSTEM) -> None:
        if collection.parent is None:
            return
        parent = self.collection(collection.parent.collection)
        record = None if parent_id is None else self.store.get(parent.table, parent_id)
        if record is None and parent_id is not None:
            # A project ticket is a ticket too: its service notes and time entries live under service/tickets/{id}.
            sharing = [table for table, owner in SHARED_ID_SEQUENCES.items() if owner == parent.table]
            record = next((found for t in sharing if (found := self.store.get(t, parent_id)) is not None), None)
        visible = visibility(self, principal)
        if record is None or (visible is not None and not visible(record)):
            raise not_found(parent.resource, parent_id)

    def check_ancestors(
        self,
        collection: Collection,
        parent_id: int | None,
        ancestor_ids: tuple[int, ...],
        principal: Principal = SYSTEM,
    ) -> None:
        """A path's chain of ids (`.../{grandparentId}/statuses/{parentId}/...`): each record exists and sits
        under the one before it, or a 404 NotFound naming the first that does not."""
        child, child_id = collection, parent_id
        for ancestor_id in reversed(ancestor_ids):
            if child.parent is None:
                return
            holder = self.collection(child.parent.collection)
            record = None if child_id is None else self.store.get(holder.table, child_id)
            if record is None or holder.parent is None:
                if record is None:
                    raise not_found(holder.resource, child_id)
                return
            grand = self.collection(holder.parent.collection)
            if self.store.get(grand.table, ancestor_id) is None:
                raise not_found(grand.resource, ancestor_id)
            if record.get(holder.parent.field) != ancestor_id:
                raise not_found(holder.resource, child_id)
            child, child_id = holder, ancestor_id
        self._check_parent(child, child_id, principal)

    def path_ids(self, collection: Collection, parent_id: int | None) -> list[int | None]:
        """The ids a path to `collection` under `parent_id` carries, outermost first (the grandparent's, ...)."""
        ids: list[int | None] = [] if collection.parent is None else [parent_id]
        holder = None if collection.parent is None else self.collection(collection.parent.collection)
        while holder is not None and holder.parent is not None:
            record = None if ids[0] is None else self.store.get(holder.source_table, ids[0])
            ids.insert(0, None if record is None else record.get(holder.parent.field))
            holder = self.collection(holder.parent.collection)
        return ids

    def concrete_path(self, collection: Collection, parent_id: int | None, path: str | None = None) -> str:
        """`path` (the collection's own by default) with its ids filled in: `service/boards/3/statuses/7/...`."""
        path = path or collection.path
        wanted = len(PATH_ID.findall(path))
        ids = iter(self.path_ids(collection, parent_id)[-wanted:] if wanted else [])
        return PATH_ID.sub(lambda _: str(next(ids, None)), path)

    def _under_parent(self, collection: Collection, record: Record, parent_id: int | None) -> bool:
        return collection.parent is None or record.get(collection.parent.field) == parent_id

    def _delete_links_to(self, collection: Collection, record_id: int) -> None:
        """Deleting a configuration detaches it from tickets and agreements."""
        for link in self.collections.values():
            if link.link_field is None or link.refs[link.link_field].target != collection.table:
                continue
            table = self.store.table(link.table)
            for row_id in list(table.lookup(link.link_field, record_id)):
                self.store.delete(link.table, row_id)

    def _delete_children(self, collection: Collection, record_id: int) -> None:
        for child in self._children.get(collection.table, []):
            table = self.store.table(child.table)
            for child_id in list(table.lookup(child.parent.field, record_id)):
                self._delete_children(child, child_id)
                self.store.delete(child.table, child_id)

    # -- shapes --------------------------------------------------------------------------

    def as_input(self, collection: Collection, record: Record) -> dict[str, Any]:
        """A stored record as a client would write it (the document a PATCH applies to)."""
        document: dict[str, Any] = {}
        for name, schema_field in collection.loader.fields.items():
            if schema_field.dump_only or name in collection.transient_fields:
                continue
            value = record.get(name)
            if value is None:
                continue
            if isinstance(schema_field, Ref):
                document[name] = {"id": value}
            elif isinstance(schema_field, CwDateTime):
                document[name] = format_cw_datetime(value)
            else:
                document[name] = copy.deepcopy(value)
        return document


URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def url_uuid5(name: str) -> str:
    """`str(uuid.uuid5(uuid.NAMESPACE_URL, name))`, a quarter of its cost (made on every create that has a
    mobileGuid): the SHA-1 of namespace and name, version 5 and the RFC 4122 variant set in its first 16 bytes."""
    digest = bytearray(hashlib.sha1(URL_NAMESPACE + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _lookup_value(collection: Collection, record: Record, field_name: str) -> Any:
    if field_name in record:
        return record.get(field_name)
    if collection.display is not None:
        return collection.display(record).get(field_name)
    return None


def _any_element(node: conditions.Node, array_field: str | None) -> Callable[[Record], bool]:
    """A predicate true when some element of an array field satisfies `node`.

    For childConditions the array is named by the first segment of the paths
    (`communicationItems/value`); for customFieldConditions it is `customFields`.
    """
    terms = conditions.conjunctive_terms(node) or []
    first = array_field or (terms[0].path.split("/")[0] if terms else "")

    def element_field(path: str, position: int) -> conditions.Field:
        parts = path.split("/")
        if array_field is None:
            if parts[0].casefold() != first.casefold() or len(parts) < 2:
                raise ConditionError(f'childConditions paths must all start with "{first}/"', position)
            parts = parts[1:]
        return conditions.Field(_walk_element(parts), "any")

    matches = conditions.compile_condition(node, element_field)
    folded = first.casefold()

    def predicate(record: Record) -> bool:
        elements = next((value for key, value in record.items() if key.casefold() == folded), None)
        return isinstance(elements, list) and any(isinstance(e, dict) and matches(e) for e in elements)

    return predicate


def _walk_element(parts: list[str]) -> Callable[[Any], Any]:
    def get(element: Any) -> Any:
        for part in parts:
            if not isinstance(element, dict):
                return None
            element = element.get(part)
        return element

    return get


def apply_patch(collection: Collection, document: dict[str, Any], operations: Any) -> tuple[dict[str, Any], set[str]]:
    """Apply a ConnectWise PATCH body (JSON-Patch array) to `document`; returns it and the fields touched."""
    resource = collection.resource
    if not isinstance(operations, list) or not operations:
        raise invalid_object(
            resource,
            [
                FieldProblem(
                    "body", 'PATCH needs a JSON array like [{"op": "replace", "path": "summary", "value": "..."}].'
                )
            ],
        )
    fields_by_fold = {name.casefold(): name for name in collection.loader.fields}
    touched: set[str] = set()
    for index, operation in enumerate(operations):
        where = f"operation {index}"
        if not isinstance(operation, dict):
            raise invalid_object(resource, [FieldProblem(where, f"{where} must be an object with op, path and value.")])
        op = str(operation.get("op", "")).lower()
        path = operation.get("path")
        if op not in PATCH_OPS:
            raise invalid_object(
                resource,
                [FieldProblem("op", f'{where}: op must be add, replace or remove, not "{operation.get("op")}".')],
            )
        if not isinstance(path, str) or not path.strip("/"):
            raise invalid_object(
                resource, [FieldProblem("path", f'{where}: a path like "summary" or "status/id" is required.')]
            )
        parts = path.strip("/").split("/")
        name = fields_by_fold.get(parts[0].casefold())
        if name is None or name in collection.transient_fields:
            raise invalid_object(resource, [FieldProblem(parts[0], f'{where}: {resource} has no field "{parts[0]}".')])
        if op != "remove" and "value" not in operation:
            raise invalid_object(resource, [FieldProblem(name, f"{where}: a value is required for {op}.")])
        touched.add(name)
        value = operation.get("value")
        if name in collection.refs and len(parts) == 2:
            # `status/id` (or `status/name`) replaces the whole reference.
            parts, value = [name], {parts[1]: value}
        _set_path(document, [name, *parts[1:]], value, op == "remove", resource, where)
    return document, touched


def _set_path(document: dict[str, Any], parts: list[str], value: Any, remove: bool, resource: str, where: str) -> None:
    """Set or remove the value at a JSON-Pointer-like path, creating missing objects on the way."""
    target: Any = document
    for part in parts[:-1]:
        if isinstance(target, list):
            if not part.isdigit() or int(part) >= len(target):
                raise invalid_object(resource, [FieldProblem("/".join(parts), f"{where}: no element {part}.")])
            target = target[int(part)]
        else:
            if not isinstance(target.get(part), dict | list):
                target[part] = {}
            target = target[part]
    last = parts[-1]
    if isinstance(target, list):
        if last == "-" and not remove:
            target.append(value)
            return
        if not last.isdigit() or int(last) >= len(target) + (0 if remove else 1):
            raise invalid_object(resource, [FieldProblem("/".join(parts), f"{where}: no element {last}.")])
        if remove:
            del target[int(last)]
        else:
            target[int(last) : int(last) + 1] = [value]
        return
    if remove:
        target.pop(last, None)
    else:
        target[last] = value
