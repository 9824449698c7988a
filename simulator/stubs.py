"""Stubs: exact answers pinned to matching requests, ahead of the fake's own; matching, order and counts."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON_TYPE = "application/json; charset=utf-8"
NO_BODY_STATUSES = frozenset({204, 304})
MAX_STUBS = 100_000  # a long recording replayed; far more is a runaway script
_UNREAD: Any = object()  # a field not given, or a body not yet parsed
NO_BODY: Any = object()
NOT_JSON: Any = object()  # a body that is there but is not JSON: no `json` match takes it


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A path glob as a regex: `*` is any characters, `/` included; `\\*` is a star itself. Case-insensitive."""
    parts = re.split(r"(\\\*|\*)", normal_path(glob))
    regex = "".join(".*" if part == "*" else re.escape("*" if part == "\\*" else part) for part in parts)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def normal_path(path: str) -> str:
    """A path without its trailing slash (the fake serves `/x/` as `/x`)."""
    return path.rstrip("/") or "/"


def literal_glob(path: str) -> str:
    """A glob that matches exactly `path` (its stars escaped)."""
    return path.replace("*", "\\*")


class StubRequest:
    """What a stub can see of a request; the JSON body is parsed only if a stub asks."""

    def __init__(
        self,
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
        body: Callable[[], bytes],
    ) -> None:
        self.method = method.upper()
        self.path = normal_path(path)
        self.query: dict[str, list[str]] = {}
        for name, value in query:
            self.query.setdefault(name.casefold(), []).append(value)
        self.headers = headers  # case-insensitive (werkzeug's Headers) or casefolded names
        self._body = body
        self._json: Any = _UNREAD

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def raw_body(self) -> bytes:
        return self._body()

    @property
    def json(self) -> Any:
        """The body parsed as JSON; NO_BODY or NOT_JSON when it cannot be."""
        if self._json is _UNREAD:
            raw = self._body()
            if not raw.strip():
                self._json = NO_BODY
            else:
                try:
                    self._json = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self._json = NOT_JSON
        return self._json


@dataclass(frozen=True)
class StubMatch:
    """Which requests a stub answers: a path glob and, each optional, method, query, headers and JSON."""

    path: str
    methods: frozenset[str] | None = None
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    json: Any = _UNREAD  # an object: those fields equal; anything else: the whole body equal
    strict: bool = False  # no query parameter, JSON field (or body) beyond those named
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", glob_pattern(self.path))

    @property
    def has_json(self) -> bool:
        return self.json is not _UNREAD

    def matches(self, request: StubRequest) -> bool:
        if self.methods is not None and request.method not in self.methods:
            return False
        if self.pattern.fullmatch(request.path) is None:
            return False
        for name, value in self.query:
            if value not in request.query.get(name.casefold(), ()):
                return False
        if self.strict and set(request.query) - {name.casefold() for name, _ in self.query}:
            return False
        for name, value in self.headers:
            if request.header(name) != value:
                return False
        return self._json_matches(request)

    def _json_matches(self, request: StubRequest) -> bool:
        if not self.has_json:
            return not self.strict or not request.raw_body.strip()
        body = request.json
        if body is NOT_JSON or body is NO_BODY:
            return False
        if not isinstance(self.json, dict):
            return body == self.json
        if not isinstance(body, dict):
            return False
        if self.strict and set(body) != set(self.json):
            return False
        return all(name in body and body[name] == value for name, value in self.json.items())

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.methods is not None:
            found["method"] = next(iter(self.methods)) if len(self.methods) == 1 else sorted(self.methods)
        found["path"] = self.path
        if self.query:
            query: dict[str, list[str]] = {}
            for name, value in self.query:
                query.setdefault(name, []).append(value)
            found["query"] = {name: values[0] if len(values) == 1 else values for name, values in query.items()}
        if self.headers:
            found["headers"] = dict(self.headers)
        if self.has_json:
            found["json"] = self.json
        if self.strict:
            found["strict"] = True
        return found


@dataclass(frozen=True)
class StubAnswer:
    """What a stub answers: a status, headers and a JSON body (or a text body sent as it is)."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    json: Any = _UNREAD
    text: str | None = None

    @property
    def has_json(self) -> bool:
        return self.json is not _UNREAD

    def content(self) -> bytes:
        """The body's bytes: the JSON as the fake writes its own (compact, orjson), or the text as given."""
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.has_json:
            return orjson.dumps(self.json)
        return b""

    def content_type(self) -> str | None:
        given = next((value for name, value in self.headers if name.casefold() == "content-type"), None)
        return given or (JSON_TYPE if self.has_json else None)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"status": self.status}
        if self.headers:
            found["headers"] = dict(self.headers)
        if self.has_json:
            found["json"] = self.json
        if self.text is not None:
            found["body"] = self.text
        return found


@dataclass(frozen=True)
class StubSpec:
    """One stub as defined: match, respond, and how many times it may answer (None: always)."""

    match: StubMatch
    respond: StubAnswer
    times: int | None = None
    id: str | None = None  # given by its author; otherwise the book names it
    name: str | None = None


@dataclass
class Stub:
    """A stub in the book: its id and how often it has answered."""

    id: str
    spec: StubSpec
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.spec.times is not None and self.hits >= self.spec.times

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.id}
        if self.spec.name is not None:
            found["name"] = self.spec.name
        found["match"] = self.spec.match.as_json()
        found["respond"] = self.spec.respond.as_json()
        if self.spec.times is not None:
            found["times"] = self.spec.times
        found["hits"] = self.hits
        found["exhausted"] = self.exhausted
        return found


class StubConflict(ValueError):
    """A stub id already in use, or a book past MAX_STUBS."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field = field_name


class StubBook:
    """The world's stubs, in order: the first that matches a request (and is not exhausted) answers it.

    The initial stubs (from `--replay` files and the tenant file) come back on every reset.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stubs: list[Stub] = []
        self._initial: tuple[StubSpec, ...] = ()
        self._next = 1

    def __bool__(self) -> bool:
        return bool(self._stubs)  # read without the lock: a hint that lets most requests skip matching

    def set_initial(self, specs: Iterable[StubSpec]) -> None:
        """The stubs every reset goes back to; they are in place from now on."""
        self._initial = tuple(specs)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._stubs = []
            self._next = 1
        self.add(self._initial)

    def add(self, specs: Iterable[StubSpec]) -> list[Stub]:
        """Append stubs after those in place; all or none (StubConflict names the first that cannot go in)."""
        specs = list(specs)
        with self._lock:
            if len(self._stubs) + len(specs) > MAX_STUBS:
                raise StubConflict(f"At most {MAX_STUBS} stubs; delete some first.", "body")
            taken = {stub.id for stub in self._stubs}
            given = [spec.id for spec in specs if spec.id is not None]
            for position, spec in enumerate(specs):
                if spec.id is not None and (spec.id in taken or given.count(spec.id) > 1):
                    where = f"[{position}].id" if len(specs) > 1 else "id"
                    raise StubConflict(f"A stub with id {spec.id!r} is already in place (or given twice).", where)
            taken.update(given)
            added = []
            for spec in specs:
                stub_id = spec.id
                while stub_id is None:
                    candidate, self._next = f"stub-{self._next}", self._next + 1
                    stub_id = None if candidate in taken else candidate
                taken.add(stub_id)
                added.append(Stub(stub_id, spec))
            self._stubs.extend(added)
        return added

    def answer_for(self, request: StubRequest) -> Stub | None:
        """The first live stub matching `request`, its hit counted (under the lock, so `times` holds)."""
        with self._lock:
            for stub in self._stubs:
                if not stub.exhausted and stub.spec.match.matches(request):
                    stub.hits += 1
                    return stub
        return None

    def find(self, stub_id: str) -> Stub | None:
        with self._lock:
            return next((stub for stub in self._stubs if stub.id == stub_id), None)

    def remove(self, stub_id: str) -> bool:
        with self._lock:
            kept = [stub for stub in self._stubs if stub.id != stub_id]
            removed = len(kept) != len(self._stubs)
            self._stubs = kept
        return removed

    def clear(self) -> None:
        with self._lock:
            self._stubs = []

    def describe(self, stubs: Iterable[Stub] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            chosen = list(self._stubs if stubs is None else stubs)
            return [stub.as_json() for stub in chosen]
