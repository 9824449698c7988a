"""What a ConnectWise collection is, declared: path, schema, references, rules. The machinery serves it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, missing

from .fields import Ref

if TYPE_CHECKING:
    from .auth import Principal
    from .backend import Backend

Record = dict[str, Any]
ALL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
PATH_IDS = re.compile(r"/\{[^}]+\}")
READ_ONLY = frozenset({"GET"})


@dataclass
class WriteContext:
    """What a rule sees while a write is checked, inside the store lock.

    A rule may change `record` (the new version), raise a CwError, and queue work in
    `after_commit` (run once the record is stored, still inside the lock).
    """

    backend: Backend
    collection: Collection
    record: Record
    previous: Record | None
    principal: Principal
    touched: set[str]
    transient: dict[str, Any]
    after_commit: list[Callable[[Record], None]] = field(default_factory=list)

    @property
    def is_create(self) -> bool:
        return self.previous is None


Rule = Callable[[WriteContext], None]


@dataclass
class Parent:
    """A child collection's link to its parent: the field holding the parent's id."""

    field: str
    collection: str


@dataclass
class Collection:
    """One ConnectWise collection, declared. Everything else comes from the machinery."""

    path: str  # URL template under /apis/3.0, e.g. "service/boards/{parentId}/statuses"
    resource: str  # singular name for messages and hrefs: "ticket" -> "Ticket 17 not found", "ticket_href"
    schema: type[Schema] | None  # None: built from `model` alone (generated.py)
    api: str  # the integrator-login API that guards it, e.g. "ServiceTicket"
    parent: Parent | None = None
    lookup: tuple[str, ...] = ("name",)  # fields a reference may name a record by
    display: Callable[[Record], dict[str, Any]] | None = None  # what a reference shows beside the id
    indexes: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()  # fields no two records may share (case-insensitively)
    rules: tuple[Rule, ...] = ()
    delete_rules: tuple[Rule, ...] = ()  # called with the record about to go as `previous`
    link_field: str | None = None  # a link collection: `/{id}` names the linked record, not the row
    methods: frozenset[str] = ALL_METHODS
    forward_only: bool = False  # supports `pagination-type: forward-only`
    links: dict[str, str] = field(default_factory=dict)  # extra _info hrefs: name -> path with {id}
    success: dict[str, int] = field(default_factory=dict)  # filled from the endpoint index
    model: str | None = None  # the ConnectWise model of its records (set by generated.py)
    schema_factory: Callable[[], type[Schema]] | None = None  # the schema refined by the model, built on first use
    view_of: str | None = None  # a read-only view of another table's records (an `/info` projection)
    view: Callable[[Backend, int | None], list[Record]] | None = None  # records computed per parent (allNotes)
    aliases: tuple[str, ...] = ()  # other paths that show this table under the same parent (`system/myAccount/...`)
    table_name: str | None = None  # a view's own key where its path would name the table it shows

    @property
    def source_table(self) -> str:
        """The table its records are read from: its own, or the one it is a view of."""
        return self.view_of or self.table

    @cached_property
    def table(self) -> str:
        """The store table: the path without its ids (read on every request: computed once, so set
        `table_name` before anything reads it)."""
        return self.table_name or PATH_IDS.sub("", self.path)

    @cached_property
    def schema_class(self) -> type[Schema]:
        """The schema records are checked with: the declared one refined by the model's fields."""
        if self.schema_factory is not None:
            return self.schema_factory()
        assert self.schema is not None, f"{self.path} declares neither a schema nor a model"
        return self.schema

    @cached_property
    def loader(self) -> Schema:
        return self.schema_class()

    @cached_property
    def required_on_updates(self) -> frozenset[str]:
        """Fields a PUT must carry (the model's `requiredOnUpdates`)."""
        return frozenset(
            name for name, f in self.loader.fields.items() if f.metadata.get("required_on_updates") and not f.dump_only
        )

    @cached_property
    def refs(self) -> dict[str, Ref]:
        return {name: f for name, f in self.loader.fields.items() if isinstance(f, Ref)}

    @cached_property
    def transient_fields(self) -> frozenset[str]:
        """Fields read on POST but never stored or returned (ticket `initialDescription`)."""
        return frozenset(name for name, f in self.loader.fields.items() if f.metadata.get("transient"))

    @cached_property
    def queryable_fields(self) -> dict[str, tuple[str, Any]]:
        """The fields a condition or orderBy may name, by case-folded name -> (name, schema field).

        Transient fields are left out; where two names fold alike, the first declared wins.
        """
        found: dict[str, tuple[str, Any]] = {}
        for name, schema_field in self.loader.fields.items():
            if not schema_field.metadata.get("transient"):
                found.setdefault(name.casefold(), (name, schema_field))
        return found

    @cached_property
    def post_only_fields(self) -> frozenset[str]:
        return frozenset(name for name, f in self.loader.fields.items() if f.metadata.get("post_only"))

    def load(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a body with the schema (raises marshmallow's ValidationError).

        Only the fields the body names (and the required ones) go through marshmallow; the
        defaults of the rest are filled in afterwards. Same result, a fraction of the cost on
        schemas with many optional fields.
        """
        names = frozenset(name for name in body if name in self._loadable) | self._required
        loaded = self._schema_for(names).load(body)
        for name, default in self._defaults.items():
            if name not in loaded:
                loaded[name] = default
        return loaded

    @cached_property
    def _loadable(self) -> frozenset[str]:
        return frozenset(name for name, f in self.loader.fields.items() if not f.dump_only)

    @cached_property
    def _required(self) -> frozenset[str]:
        return frozenset(name for name, f in self.loader.fields.items() if f.required and not f.dump_only)

    @cached_property
    def _defaults(self) -> dict[str, Any]:
        return {
            name: f.load_default
            for name, f in self.loader.fields.items()
            if not f.dump_only and f.load_default is not missing and not callable(f.load_default)
        }

    @cached_property
    def _schema_for(self) -> Any:
        @lru_cache(maxsize=256)
        def schema_for(names: frozenset[str]) -> Schema:
            return self.schema_class(only=sorted(names)) if names else self.schema_class(only=())

        return schema_for

    def describe(self, record: Record) -> dict[str, Any]:
        """The fields a reference to `record` shows beside its id."""
        if self.display is not None:
            return self.display(record)
        return {"name": record.get("name")}
