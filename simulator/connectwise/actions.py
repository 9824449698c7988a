"""How an action is declared and found: `Action` (method, spec template, handler), `ActionTable`
(matched before the collection router), `ActionCall` (what a handler gets).

The actions themselves: record_actions.py, conversions.py, binary.py, bundles.py (all gathered in
operations.py); each is declared only with a test of its effect (tests/test_actions.py maps them).
Those left out, and why: unserved_actions.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Response, request

from .auth import Principal
from .endpoints import endpoint_index
from .errors import CwError, bad_request
from .model import Record
from .permissions import check_api

if TYPE_CHECKING:
    from .backend import Backend

# Placeholders that take a word, not an integer id.
WORD_PLACEHOLDERS = frozenset({"catalogItemIdentifier", "memberIdentifier", "reportName", "ssoid"})


@dataclass
class ActionCall:
    """One action request: the tenant, the caller, the path's ids and the body (parsed JSON or raw)."""

    backend: Backend
    principal: Principal
    ids: dict[str, Any]
    body: Any
    base_url: str
    query: dict[str, str]
    read_json: Callable[[], Any]

    def id(self, name: str = "id") -> int:
        return self.ids[name]

    def render(self, table: str, record: Record) -> dict[str, Any]:
        backend = self.backend
        return backend.renderer(backend.collection(table)).render(record, self.base_url)


Answer = tuple[Any, int | None]  # (JSON body, or a flask Response; the status, None: the documented one)
Handler = Callable[[ActionCall], Answer]


@dataclass(frozen=True)
class Action:
    method: str
    template: str  # as in the endpoint index: `/company/companies/{id}/merge`
    handler: Handler
    table: str  # the collection whose integrator-login API guards it
    raw_body: bool = False  # the handler reads the request itself (uploads)
    api: str | None = None  # the guarding API when no one collection's is (bundles read several)

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.template)


def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        pieces = re.split(r"(\{[^}]+\})", segment)
        regex = ""
        for piece in pieces:
            if piece.startswith("{"):
                regex += f"(?P<{piece.strip('{}')}>[^/]+)"
            else:
                regex += re.escape(piece)
        parts.append(regex)
    return re.compile("^/?" + "/".join(parts) + "/?$", re.IGNORECASE)


class ActionTable:
    """The declared actions, matched by method and path."""

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions
        # By method and last path segment, so a request tries only the few actions that can fit it.
        self._by_tail: dict[tuple[str, str], list[tuple[Action, re.Pattern[str]]]] = {}
        self._anywhere: list[tuple[Action, re.Pattern[str]]] = []  # a placeholder in the last segment
        for action in actions:
            tail = action.template.rstrip("/").rsplit("/", 1)[-1]
            if "{" in tail:
                self._anywhere.append((action, action.pattern))
            else:
                self._by_tail.setdefault((action.method, tail.casefold()), []).append((action, action.pattern))
        self.by_template: dict[str, list[str]] = {}
        for action in actions:
            self.by_template.setdefault(action.template, []).append(action.method)

    def answer(
        self,
        backend: Backend,
        principal: Principal,
        path: str,
        base_url: str,
        read_json: Callable[[], Any],
        respond: Callable[[Any, int], Any],
    ) -> Any:
        """The response to an action request, or None when no action answers this method and path."""
        found = self.match(request.method, path)
        if found is None:
            return None
        action, ids = found
        check_api(backend, principal, action.api or backend.collection(action.table).api)
        body = None if action.raw_body else read_json()
        query = {name: value for name, value in request.args.items()}
        call = ActionCall(backend, principal, ids, body, base_url, query, read_json)
        data, status = action.handler(call)
        if isinstance(data, Response):
            return data
        return respond(data, status or endpoint_index().success(action.template, action.method))

    def match(self, method: str, path: str) -> tuple[Action, dict[str, Any]] | None:
        """The action for a method and path; a word where its id goes is a 400 unless another action fits."""
        refused: CwError | None = None
        tail = path.rstrip("/").rsplit("/", 1)[-1].casefold()
        for action, pattern in [*self._by_tail.get((method, tail), ()), *self._anywhere]:
            if action.method != method:
                continue
            found = pattern.match(path)
            if found is None:
                continue
            ids, problem = _ids(found.groupdict())
            if problem is None:
                return action, ids
            refused = refused or problem
        if refused is not None:
            raise refused
        return None


def _ids(raw: dict[str, str]) -> tuple[dict[str, Any], CwError | None]:
    ids: dict[str, Any] = {}
    for name, value in raw.items():
        if name in WORD_PLACEHOLDERS:
            ids[name] = value
        elif value.isdigit():
            ids[name] = int(value)
        else:
            return ids, bad_request(f"{name} must be a whole number (the id of a record), not {value!r}.", name)
    return ids, None
