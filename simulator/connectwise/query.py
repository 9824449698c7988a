"""List queries over a collection: field paths and joins, index planning, conditions, ordering, fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from marshmallow import fields as mm

from . import conditions
from .conditions import And, Comparison, ConditionError, Field, Node
from .errors import bad_request
from .fields import CwDateTime, Flag, Int, Nested, Number, Ref

if TYPE_CHECKING:
    from .backend import Backend
    from .model import Collection

Record = dict[str, Any]
MATCHING_IDS_CACHE_SIZE = 1024  # condition terms on referenced tables kept per backend
META_FIELDS = {
    "lastupdated": ("_lastUpdated", "datetime"),
    "dateentered": ("_dateEntered", "datetime"),
    "enteredby": ("_enteredBy", "str"),
    "updatedby": ("_updatedBy", "str"),
}
EMPTY: Record = {}


@dataclass
class ListQuery:
    """A list request's filters and shape, parsed and checked."""

    conditions: Node | None = None
    child_conditions: Node | None = None
    custom_field_conditions: Node | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    fields: list[str] | None = None
    page: int = 1
    page_size: int = 25
    forward_only: bool = False
    page_id: int | None = None


def kind_of(schema_field: mm.Field) -> str:
    if isinstance(schema_field, Ref | Int):
        return "int"
    if isinstance(schema_field, Number):
        return "float"
    if isinstance(schema_field, Flag):
        return "bool"
    if isinstance(schema_field, CwDateTime):
        return "datetime"
    if isinstance(schema_field, mm.String):
        return "str"
    return "any"


def _schema_field(collection: Collection, name: str) -> tuple[str, mm.Field] | None:
    return collection.queryable_fields.get(name.casefold())


def _walk(keys: list[str]) -> Callable[[Any], Any]:
    def get(value: Any) -> Any:
        for key in keys:
            if isinstance(value, dict):
                value = value.get(key)
            else:
                return None
        return value

    return get


class FieldResolver:
    """Turns `company/name`-style paths into getters over stored records of one collection.

    A reference path past `id` joins the referenced table (`board/name` reads the board's name).
    """

    def __init__(self, backend: Backend, collection: Collection) -> None:
        self.backend = backend
        self.collection = collection

    def __call__(self, path: str, position: int = 0) -> Field:
        return self.resolve(path.split("/"), path, position)

    def resolve(self, segments: list[str], path: str, position: int) -> Field:
        head, rest = segments[0], segments[1:]
        if head.casefold() == "id" and not rest:
            return Field(lambda record: record.get("id"), "int")
        if head == "_info" and len(rest) == 1 and rest[0].casefold() in META_FIELDS:
            key, kind = META_FIELDS[rest[0].casefold()]
            return Field(lambda record: record.get(key), kind)
        found = _schema_field(self.collection, head)
        if found is None:
            if head.casefold() in META_FIELDS and not rest:
                key, kind = META_FIELDS[head.casefold()]
                return Field(lambda record: record.get(key), kind)
            display = self._display_field(head, rest)
            if display is not None:
                return display
            raise ConditionError(f'Unknown field "{path}" on {self.collection.resource}', position)
        name, schema_field = found
        if schema_field.load_only:
            # Passwords are write-only: filtering or sorting on one would reveal it a guess at a time.
            raise ConditionError(
                f'"{name}" is write-only on {self.collection.resource}; it cannot be queried', position
            )
        if isinstance(schema_field, Ref):
            return self._reference(name, schema_field, rest, path, position)
        if rest:
            if isinstance(schema_field, Nested | mm.Raw):
                return Field(_walk([name, *rest]), "any")
            raise ConditionError(f'"{name}" has no field "{"/".join(rest)}" (in "{path}")', position)
        return Field(lambda record: record.get(name), kind_of(schema_field))

    def _display_field(self, head: str, rest: list[str]) -> Field | None:
        """Fields a reference shows that are computed, not stored (a contact's `name`)."""
        describe = self.collection.display
        if rest or describe is None:
            return None
        shown = {key.casefold(): key for key in describe({})}
        key = shown.get(head.casefold())
        if key is None:
            return None
        return Field(lambda record: describe(record).get(key), "str")

    def _reference(self, name: str, ref: Ref, rest: list[str], path: str, position: int) -> Field:
        if not rest or (len(rest) == 1 and rest[0].casefold() == "id"):
            return Field(lambda record: record.get(name), "int")
        target = self.backend.collection(ref.target)
        inner = FieldResolver(self.backend, target).resolve(rest, path, position)
        records = self.backend.store.table(target.table).records
        get_inner = inner.getter

        def joined(record: Record) -> Any:
            target_id = record.get(name)
            if target_id is None:
                return None
            return get_inner(records.get(target_id, EMPTY))

        return Field(joined, inner.kind)


def _coerce_for_index(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(value)
        return int(value)
    if kind == "str":
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError(value)
    raise ValueError(value)


class Planner:
    """Makes a condition cheap to run: joins become id sets, and an index picks the candidates."""

    def __init__(self, backend: Backend, collection: Collection) -> None:
        self.backend = backend
        self.collection = collection
        self.table = backend.store.table(collection.source_table)

    def rewrite(self, node: Node | None) -> Node | None:
        """Replace `board/name = "X"`-style terms by `board/id in (ids of boards named X)`.

        Exact, not approximate: the referenced table is filtered once per request instead of
        once per record. Kept as a join when that table is the bigger one, or for `= null`,
        which is also true of records without the reference.
        """
        if node is None:
            return None
        if isinstance(node, Comparison):
            return self._rewrite_term(node)
        items = tuple(
            self._rewrite_term(item) if isinstance(item, Comparison) else self.rewrite(item) for item in node.items
        )
        return type(node)(items)

    def _rewrite_term(self, term: Comparison) -> Comparison:
        head, *rest = term.path.split("/")
        found = _schema_field(self.collection, head)
        if found is None or term.value is None or not rest:
            return term
        name, schema_field = found
        if not isinstance(schema_field, Ref) or (len(rest) == 1 and rest[0].casefold() == "id"):
            return term
        target = self.backend.collection(schema_field.target)
        records = self.backend.store.table(target.table).records
        if len(records) > len(self.table.records):
            return term
        inner = Comparison("/".join(rest), term.op, term.value, term.position)
        return Comparison(f"{name}/id", "in", self._matching_ids(target, inner), term.position)

    def _matching_ids(self, target: Collection, inner: Comparison) -> tuple[int, ...]:
        """The ids of `target`'s records matching `inner`, kept on the backend until that table changes:
        a client polling `status/name != "Closed"` does not rescan the statuses every time. Only a term on
        the target's own fields is kept; one that joins further (`board/location/name`) reads other tables."""
        table = self.backend.store.table(target.table)
        key: tuple[Any, ...] | None = (target.table, inner.path, inner.op, inner.value)
        try:
            cached = self.backend.matching_ids.get(key) if "/" not in inner.path else None
        except TypeError:  # a value that cannot be a key: computed every time
            key, cached = None, None
        if "/" in inner.path:
            key = None
        if cached is not None and cached[0] == table.version:
            return cached[1]
        version = table.version
        matches = conditions.compile_condition(inner, FieldResolver(self.backend, target))
        ids = tuple(record_id for record_id, record in list(table.records.items()) if matches(record))
        if key is not None:
            if len(self.backend.matching_ids) > MATCHING_IDS_CACHE_SIZE:
                self.backend.matching_ids.clear()
            self.backend.matching_ids[key] = (version, ids)
        return ids

    def plan(self, node: Node | None) -> tuple[set[int] | None, Node | None]:
        """(candidate ids or None for a scan, what is left to check on each candidate).

        The AND-ed `=` / `in` terms on indexed fields pick and narrow the candidates; those on
        whole-number fields (ids, references) are then fully answered and left out of the rest.
        """
        terms = conditions.conjunctive_terms(node)
        lookups = []
        for term in terms:
            lookup = self._index_lookup(term) if term.op in ("=", "in") else None
            if lookup is not None:
                name, kind, keys = lookup
                buckets = [self.table.lookup(name, key) for key in keys]
                lookups.append((sum(map(len, buckets)), term, kind, buckets))
        if not lookups:
            return None, node
        lookups.sort(key=lambda item: item[0])
        _, first, first_kind, first_buckets = lookups[0]
        candidates = set().union(*first_buckets)
        answered = {id(first)} if first_kind == "int" else set()
        for _, term, kind, buckets in lookups[1:]:
            candidates = set().union(*(candidates & bucket for bucket in buckets))
            if kind == "int":
                answered.add(id(term))
        rest = tuple(term for term in terms if id(term) not in answered)
        if isinstance(node, Comparison) or (isinstance(node, And) and len(terms) == len(_flat_and(node))):
            residual: Node | None = None if not rest else rest[0] if len(rest) == 1 else And(rest)
        else:
            residual = node
        return candidates, residual

    def _index_lookup(self, term: Comparison) -> tuple[str, str, list[Any]] | None:
        head, *rest = term.path.split("/")
        found = _schema_field(self.collection, head)
        if found is None:
            return None
        name, schema_field = found
        if name not in self.table.indexes:
            return None
        if rest and not (isinstance(schema_field, Ref) and len(rest) == 1 and rest[0].casefold() == "id"):
            return None
        values = list(term.value) if term.op == "in" else [term.value]
        kind = kind_of(schema_field)
        if kind not in ("int", "str") or any(value is None for value in values):
            return None
        try:
            return name, kind, [_coerce_for_index(value, kind) for value in values]
        except (TypeError, ValueError):
            return None


def _flat_and(node: And) -> list[Node]:
    """The items of nested ANDs, flattened: `(a and b) and c` -> [a, b, c]."""
    items: list[Node] = []
    for item in node.items:
        items.extend(_flat_and(item) if isinstance(item, And) else [item])
    return items


def sort_key(getter: Callable[[Record], Any]) -> Callable[[Record], tuple[bool, Any]]:
    """SQL Server order: NULLs first ascending; strings case-insensitively."""

    def key(record: Record) -> tuple[bool, Any]:
        value = getter(record)
        if value is None:
            return (False, 0)
        if isinstance(value, str):
            return (True, value.casefold())
        if isinstance(value, dict | list):
            return (True, str(value))
        return (True, value)

    return key


def order(records: list[Record], order_by: list[tuple[str, bool]], resolver: FieldResolver) -> list[Record]:
    """Sort by each `orderBy` key in turn; ties stay in id order."""
    if not order_by:
        return records
    for path, descending in reversed(order_by):
        if path.casefold() == "id":
            records.sort(key=itemgetter("id"), reverse=descending)
            continue
        try:
            getter = resolver(path).getter
        except ConditionError as error:
            raise bad_request(f"orderBy: {error}", "orderBy") from error
        records.sort(key=sort_key(getter), reverse=descending)
    return records


def project(rendered: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    """Keep only the `fields=` paths, rebuilding nested objects (`company/id`)."""
    tree: dict[str, Any] = {}
    for path in wanted:
        node = tree
        parts = [part for part in path.split("/") if part]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is None:
                break
        else:
            if parts:
                node[parts[-1]] = None  # the whole field wins over some of its parts
    return _project(rendered, tree)


def _project(value: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    by_fold = {key.casefold(): key for key in value}
    result: dict[str, Any] = {}
    for wanted, subtree in tree.items():
        key = by_fold.get(wanted.casefold())
        if key is None:
            continue
        if subtree is None or not isinstance(value[key], dict):
            result[key] = value[key]
        else:
            result[key] = _project(value[key], subtree)
    return result
