"""Stored records to ConnectWise JSON: references expanded, `_info` with hrefs, datetimes as `...Z`.

One renderer is built per collection from its schema, once, so responses stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..clock import format_cw_datetime
from .custom_fields import custom_fields_for
from .fields import CwDateTime, Ref
from .store import Table

if TYPE_CHECKING:
    from .backend import Backend
    from .model import Collection

Record = dict[str, Any]
Step = tuple[str, int, "Collection | None", "tuple[str, ...] | None"]  # field, kind, referenced collection, shape
PLAIN, WHEN, REFERENCE = 0, 1, 2
REFERENCE_CACHE_SIZE = 4096
LAYOUT_CACHE_SIZE = 256
RENDER_CACHE_SIZE = 4096  # rendered records kept per collection (a few MiB of tickets at most)
INFO_FIELDS = tuple((key, "_" + key) for key in ("lastUpdated", "updatedBy", "dateEntered", "enteredBy"))
SHAPE_ALIASES = {"sort": "sortOrder"}  # a reference's field stored under another name on its record


def record_path(collection: Collection, record: Record) -> str:
    """The record's path under /apis/3.0, its parent's id filled in."""
    path = collection.path
    if collection.parent is not None:
        path = path.replace("{parentId}", str(record.get(collection.parent.field)))
    return f"{path}/{record['id']}"


class Renderer:
    """Renders one collection's records for a given API base URL."""

    def __init__(self, backend: Backend, collection: Collection) -> None:
        self.backend = backend
        self.collection = collection
        self.plan: list[Step] = []
        self._references: dict[tuple[str, int, str, Any], tuple[int, dict[str, Any]]] = {}
        for name, schema_field in collection.loader.fields.items():
            if schema_field.load_only:
                continue
            if isinstance(schema_field, Ref):
                target = backend.collection(schema_field.target)
                self.plan.append((name, REFERENCE, target, schema_field.shape))
            elif isinstance(schema_field, CwDateTime):
                self.plan.append((name, WHEN, None, None))
            else:
                self.plan.append((name, PLAIN, None, None))
        # The plan cut to the fields a record has, per layout (its keys in order): records of a table
        # mostly share a handful of layouts, and a ticket holds about 50 of the 110 fields it may show.
        # Beside it, the tables its references read, whose versions say when a rendering is stale.
        self._layouts: dict[tuple[str, ...], tuple[list[Step], list[tuple[str, Table]]]] = {}
        self._links = [(name, "/" + template) for name, template in collection.links.items()]
        self._rendered: dict[int, tuple[Record, str, tuple[int, ...], dict[str, Any]]] = {}
        shows_custom = "customFields" in collection.loader.fields and not collection.view_of
        self.custom_fields = custom_fields_for(backend, collection.table, shows_custom)

    def reference(
        self, target: Collection, target_id: int, base_url: str, shape: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """A reference as ConnectWise shows it: `{id, name|identifier..., _info: {x_href}}`.

        Cached per referenced record until its table changes: a page of tickets refers to the
        same few boards and statuses over and over. Callers must not change what they get.
        """
        table = self.backend.store.table(target.table)
        key = (target.table, target_id, base_url, shape)
        cached = self._references.get(key)
        if cached is not None and cached[0] == table.version:
            return cached[1]
        rendered = self._reference(target, target_id, base_url, shape)
        if len(self._references) > REFERENCE_CACHE_SIZE:
            self._references.clear()
        self._references[key] = (table.version, rendered)
        return rendered

    def _reference(
        self, target: Collection, target_id: int, base_url: str, shape: tuple[str, ...] | None
    ) -> dict[str, Any]:
        referenced = self.backend.store.get(target.table, target_id)
        if referenced is None:
            return {"id": target_id, "_info": {f"{target.resource}_href": f"{base_url}/{target.table}/{target_id}"}}
        shown = target.describe(referenced) if shape is None else shaped(target, referenced, shape)
        return {
            "id": target_id,
            **shown,
            "_info": {f"{target.resource}_href": f"{base_url}/{record_path(target, referenced)}"},
        }

    def render(self, record: Record, base_url: str) -> dict[str, Any]:
        """The record as ConnectWise shows it. Callers must not change what they get.

        Kept per record until the record is replaced (stored records are never changed in place, so
        the same object means the same fields) or a table its references show changes: a client
        polling the same page gets the same dicts back without rendering them again.
        """
        layout = tuple(record)
        known = self._layouts.get(layout)
        if known is None:
            known = self._layout(layout)
        plan, references = known
        stamp = tuple([table.version for name, table in references if record[name] is not None])
        if self.custom_fields is not None:  # the screen's user-defined fields show on every record
            stamp += (self.custom_fields.version(),)
        record_id = record.get("id")
        cached = self._rendered.get(record_id)  # type: ignore[arg-type]
        if cached is not None and cached[0] is record and cached[1] == base_url and cached[2] == stamp:
            return cached[3]
        out = self._render(record, base_url, plan)
        if isinstance(record_id, int):
            if len(self._rendered) >= RENDER_CACHE_SIZE:
                self._rendered.clear()
            self._rendered[record_id] = (record, base_url, stamp, out)
        return out

    def _layout(self, layout: tuple[str, ...]) -> tuple[list[Step], list[tuple[str, Table]]]:
        present = set(layout)
        plan = [step for step in self.plan if step[0] in present]
        store = self.backend.store
        references = [(name, store.table(target.table)) for name, kind, target, _ in plan if target is not None]
        if len(self._layouts) > LAYOUT_CACHE_SIZE:
            self._layouts.clear()
        self._layouts[layout] = plan, references
        return plan, references

    def _render(self, record: Record, base_url: str, plan: list[Step]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, kind, target, shape in plan:
            value = record[name]
            if value is None:
                continue
            if kind == PLAIN:
                out[name] = value
            elif kind == WHEN:
                out[name] = format_cw_datetime(value)
            else:
                out[name] = self.reference(target, value, base_url, shape)
        if self.custom_fields is not None:
            shown = self.custom_fields.of(record.get("customFields"))
            if shown:
                out["customFields"] = shown
        out["_info"] = self.info(record, base_url)
        return out

    def info(self, record: Record, base_url: str) -> dict[str, str]:
        info: dict[str, str] = {}
        for key, stored in INFO_FIELDS:
            value = record.get(stored)
            if value is not None:
                info[key] = value if isinstance(value, str) else format_cw_datetime(value)
        if self._links:
            record_id = str(record["id"])
            for name, template in self._links:
                info[name] = base_url + template.replace("{id}", record_id)
        return info


def shaped(target: Collection, record: Record, shape: tuple[str, ...]) -> dict[str, Any]:
    """The fields a `*Reference` model shows, read from the referenced record (or what it displays as)."""
    shown: dict[str, Any] = {}
    displayed: dict[str, Any] | None = None
    for name in shape:
        value = record.get(name)
        if value is None and name in SHAPE_ALIASES:
            value = record.get(SHAPE_ALIASES[name])
        if value is None and target.display is not None:
            displayed = target.describe(record) if displayed is None else displayed
            value = displayed.get(name)
        if value is not None and not isinstance(value, dict | list):
            shown[name] = format_cw_datetime(value) if hasattr(value, "tzinfo") else value
    return shown


class LinkRenderer(Renderer):
    """A link row (a configuration attached to a ticket) shown as a reference to what it links."""

    def render(self, record: Record, base_url: str) -> dict[str, Any]:
        link_field = self.collection.link_field
        target = self.backend.collection(self.collection.refs[link_field].target)
        linked_id = record[link_field]
        linked = self.backend.store.get(target.table, linked_id) or {}
        shown = self.collection.describe(linked)
        return {
            "id": linked_id,
            **{name: value for name, value in shown.items() if value is not None},
            "_info": {f"{target.resource}_href": f"{base_url}/{target.table}/{linked_id}"},
        }
