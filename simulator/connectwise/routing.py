"""Which declared collection a request path names: `{section}/{resource}[/{id}[/{child}[/{childId}]]]`.

Paths match case-insensitively; a more literal declaration wins (`company/configurations/types`
before `company/configurations/{id}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .endpoints import EndpointIndex
from .model import Collection

ACTIONS = {"count", "search"}


@dataclass(frozen=True)
class Route:
    collection: Collection
    parent_id: int | None
    record_id: int | None
    action: str | None  # None, "count", "search" or "info"
    path: str | None = None  # the template matched: the collection's path or one of its aliases
    ancestor_ids: tuple[int, ...] = ()  # the ids above the parent's, outermost first (a grandparent's)

    @property
    def template(self) -> str:
        """The spec template of this operation's path, for its success status."""
        base = "/" + (self.path or self.collection.path)
        if self.action == "info":
            return f"{base}/{{id}}/info"
        if self.action:
            return f"{base}/{self.action}"
        if self.record_id is not None:
            return f"{base}/{{id}}"
        return base


def _segments(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


class Router:
    """Matches request paths against the collection declarations, segment by segment.

    A trie of path templates: at each step a literal segment is tried before an id, and a deeper
    match before treating the rest as `/{id}`, `/count` or `/search` of the collection above.
    """

    def __init__(self, collections: Iterable[Collection], index: EndpointIndex) -> None:
        self.index = index
        self._tree: dict[str, Any] = {}
        for collection in collections:
            for path in (collection.path, *collection.aliases):
                node = self._tree
                for segment in _segments(path):
                    key = "{}" if segment.startswith("{") else segment.casefold()
                    node = node.setdefault(key, {})
                node.setdefault("", (collection, path))  # the first declaration of a path wins
        self.success: dict[tuple[str, str], int] = {}
        self._real_methods: dict[tuple[str, bool], frozenset[str]] = {}

    def resolve(self, path: str) -> Route | None:
        segments = [s.casefold() for s in _segments(path)]
        if not segments:
            return None
        return self._walk(self._tree, segments, 0, ())

    def _walk(self, node: dict[str, Any], segments: list[str], at: int, ids: tuple[int, ...]) -> Route | None:
        """`ids`: the path's ids so far, outermost first (the last one is the parent's)."""
        if at < len(segments):
            head = segments[at]
            child = node.get(head)
            if child is not None:
                found = self._walk(child, segments, at + 1, ids)
                if found is not None:
                    return found
            child = node.get("{}")
            if child is not None and head.isdigit():
                found = self._walk(child, segments, at + 1, (*ids, int(head)))
                if found is not None:
                    return found
        declared = node.get("")
        if declared is None:
            return None
        collection, path = declared
        parent_id, ancestors = (ids[-1], ids[:-1]) if ids else (None, ())
        rest = segments[at:]
        if not rest:
            return Route(collection, parent_id, None, None, path, ancestors)
        if len(rest) == 1 and rest[0] in ACTIONS:
            return Route(collection, parent_id, None, rest[0], path, ancestors)
        if len(rest) == 1 and rest[0].isdigit():
            return Route(collection, parent_id, int(rest[0]), None, path, ancestors)
        if rest == ["count", "info"]:  # `/company/noteTypes/count/info`: the count of the `/info` projection
            return Route(collection, parent_id, None, "count/info", path, ancestors)
        if len(rest) == 2 and rest[0].isdigit() and rest[1] == "info":
            # one record's `/info` projection
            return Route(collection, parent_id, int(rest[0]), "info", path, ancestors)
        return None

    def allowed_methods(self, route: Route) -> list[str]:
        """The methods the fake serves on a route: its collection's, shaped by the path's kind."""
        methods = route.collection.methods
        if route.action == "info":
            endpoint = self.index.match(route.template)
            exists = endpoint is not None and endpoint.template.endswith("/info") and "GET" in endpoint.methods
            return ["GET"] if "GET" in methods and exists else []
        if route.action is not None:
            # Only where the real API has the action: `.../subtypes/search` would otherwise match `{id}`.
            endpoint = self.index.match(route.template)
            exists = endpoint is not None and endpoint.template.endswith("/" + route.action)
            method = "GET" if route.action in ("count", "count/info") else "POST"
            return [method] if "GET" in methods and exists else []
        if route.collection.schema is None or (route.path or route.collection.path) != route.collection.path:
            # A generated collection (or an alias) serves exactly the real API's operations on its paths.
            key = (route.path or route.collection.path, route.record_id is None)
            real = self._real_methods.get(key)
            if real is None:
                endpoint = self.index.match(route.template)
                real = self._real_methods[key] = frozenset(endpoint.methods) if endpoint is not None else frozenset()
            methods = methods & real
        if route.record_id is None:
            return [m for m in ("GET", "POST") if m in methods]
        return [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in methods]

    def success_status(self, route: Route, method: str) -> int:
        key = (route.template, method)
        status = self.success.get(key)
        if status is None:
            status = self.success[key] = self.index.success(route.template, method)
        return status
