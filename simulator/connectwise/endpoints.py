"""The real API's endpoint index (`data/cw-manage-endpoints.json`): success statuses and what exists.

Success statuses of served operations, the not-implemented answers and docs/coverage.md all
derive from this file plus the collection declarations; nothing is kept by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_SUCCESS = {"GET": 200, "POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


def _segments(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


def _is_placeholder(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


@dataclass(frozen=True)
class Endpoint:
    template: str  # as in the spec, e.g. "/service/boards/{parentId}/statuses/{id}"
    methods: dict[str, int]  # method -> documented success status


class EndpointIndex:
    """Every path of the real API, matched segment by segment, literals before placeholders."""

    def __init__(self, paths: dict[str, dict[str, int]]) -> None:
        self.endpoints = [Endpoint(template, methods) for template, methods in paths.items()]
        self._tree: dict[str, Any] = {}
        for endpoint in self.endpoints:
            node = self._tree
            for segment in _segments(endpoint.template):
                key = "{}" if _is_placeholder(segment) else segment.casefold()
                node = node.setdefault(key, {})
            known = node.get("")
            # The spec spells a few paths two ways (`emailTemplates/` and `emailtemplates`): one path, all methods.
            node[""] = endpoint if known is None else Endpoint(known.template, {**endpoint.methods, **known.methods})

    def match(self, path: str) -> Endpoint | None:
        """The endpoint a concrete path (`/service/boards/3/statuses`) belongs to, if any."""
        return self._match(self._tree, [s.casefold() for s in _segments(path)])

    def _match(self, node: dict[str, Any], segments: list[str]) -> Endpoint | None:
        if not segments:
            return node.get("")
        head, rest = segments[0], segments[1:]
        for key in (head, "{}"):
            child = node.get(key)
            if child is not None:
                found = self._match(child, rest)
                if found is not None:
                    return found
        return None

    def success(self, template: str, method: str) -> int:
        """The documented success status of an operation, by template (ids as placeholders)."""
        endpoint = self.match(template)
        if endpoint is not None and method in endpoint.methods:
            return endpoint.methods[method]
        return DEFAULT_SUCCESS[method]


@cache
def endpoint_index() -> EndpointIndex:
    text = resources.files(__package__).joinpath("data/cw-manage-endpoints.json").read_text()
    return EndpointIndex(json.loads(text)["paths"])
