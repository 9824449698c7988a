"""Which declared collection a request path names: `{section}/{resource}[/{id}[/{child}[/{childId}]]]`.

Paths match case-insensitively; a more literal declaration wins (`company/configurations/types`
before `company/configurations/{id}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .endpoints import EndpointIndex
from .model import Collection

ACTIONS = {"count", "search"}


@dataclass(frozen=True)
class Route:
    collection: Collection
    parent_id: int | None
    record_id: int | None
    action: str | None  # None, "count" or "search"

    @property
    def template(self) -> str:
        """The spec template of this operation's path, for its success status."""
        base = "/" + self.collection.path
        if self.action:
            return f"{base}/{self.action}"
        if self.record_id is not None:
            return f"{base}/{{id}}"
        return base


def _segments(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


class Router:
    """Matches request paths against the collection declarations."""

    def __init__(self, collections: Iterable[Collection], index: EndpointIndex) -> None:
        self.index = index
        self._by_section: dict[str, list[tuple[list[str], Collection]]] = {}
        for collection in collections:
            template = [s.casefold() for s in _segments(collection.path)]
            self._by_section.setdefault(template[0], []).append((template, collection))
        for candidates in self._by_section.values():
            candidates.sort(key=lambda item: -sum(1 for s in item[0] if not s.startswith("{")))
        self.success: dict[tuple[str, str], int] = {}

    def resolve(self, path: str) -> Route | None:
        segments = [s.casefold() for s in _segments(path)]
        if not segments:
            return None
        for template, collection in self._by_section.get(segments[0], []):
            route = self._match(template, collection, segments)
            if route is not None:
                return route
        return None

    def _match(self, template: list[str], collection: Collection, segments: list[str]) -> Route | None:
        if len(segments) < len(template):
            return None
        parent_id = None
        for wanted, given in zip(template, segments, strict=False):
            if wanted.startswith("{"):
                if not given.isdigit():
                    return None
                parent_id = int(given)
            elif wanted != given:
                return None
        rest = segments[len(template) :]
        if not rest:
            return Route(collection, parent_id, None, None)
        if len(rest) == 1 and rest[0] in ACTIONS:
            return Route(collection, parent_id, None, rest[0])
        if len(rest) == 1 and rest[0].isdigit():
            return Route(collection, parent_id, int(rest[0]), None)
        return None

    def allowed_methods(self, route: Route) -> list[str]:
        """The methods the fake serves on a route: its collection's, shaped by the path's kind."""
        methods = route.collection.methods
        if route.action is not None:
            # Only where the real API has the action: `.../subtypes/search` would otherwise match `{id}`.
            endpoint = self.index.match(route.template)
            exists = endpoint is not None and endpoint.template.endswith("/" + route.action)
            method = "GET" if route.action == "count" else "POST"
            return [method] if "GET" in methods and exists else []
        if route.record_id is None:
            return [m for m in ("GET", "POST") if m in methods]
        return [m for m in ("GET", "PUT", "PATCH", "DELETE") if m in methods]

    def success_status(self, route: Route, method: str) -> int:
        key = (route.template, method)
        status = self.success.get(key)
        if status is None:
            status = self.success[key] = self.index.success(route.template, method)
        return status
