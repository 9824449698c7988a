"""Stub definitions as documents: their validation (marshmallow) for the admin API, tenant and scenario files."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from .connectwise.errors import FieldProblem, invalid_object
from .fault_schema import Methods, field_problems
from .stubs import NO_BODY_STATUSES, StubAnswer, StubMatch, StubSpec

MAX_PATH = 2000
MAX_ENTRIES = 200  # query parameters, headers or JSON fields one stub names
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")  # an RFC 9110 token
STUB_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Headers the server sets from the body and the connection; a stub giving them would contradict it.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"})


def _scalar_text(value: Any) -> str:
    """A query or header value given as a string, number or boolean, as it appears on the wire."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValidationError("Give a string (or a number).")


def _pairs(value: Any, what: str, check_name: Any = None, lists: bool = False) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValidationError(f"Give an object of {what} names and values.")
    if len(value) > MAX_ENTRIES:
        raise ValidationError(f"At most {MAX_ENTRIES} {what}s.")
    problems: dict[str, list[str]] = {}
    pairs = []
    for name, item in value.items():
        try:
            if check_name is not None:
                check_name(name)
            items = item if lists and isinstance(item, list) and item else [item]
            for one in items:
                text = _scalar_text(one)
                if "\r" in text or "\n" in text:
                    raise ValidationError("A value may not hold a line break.")
                pairs.append((name, text))
        except ValidationError as error:
            problems[name] = error.messages if isinstance(error.messages, list) else [str(error.messages)]
    if problems:
        raise ValidationError(problems)
    return tuple(pairs)


def _header_name(name: str) -> None:
    if not HEADER_NAME.match(name):
        raise ValidationError(f"{name!r} is not a header name.")


class QueryField(fields.Field):
    """`{"pageSize": "1"}`: each named parameter has that value (names case-insensitive); `{"tag": ["a", "b"]}`:
    each of those values."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return _pairs(value, "query parameter", lists=True)


class HeadersField(fields.Field):
    """`{"clientId": "x"}`: header names (case-insensitive) and exact values."""

    def __init__(self, answer: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answer = answer

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        pairs = _pairs(value, "header", _header_name)
        if self.answer:
            framing = sorted(name for name, _ in pairs if name.casefold() in FRAMING_HEADERS)
            if framing:
                raise ValidationError(f"{', '.join(framing)}: set by the server from the body, not by a stub.")
        return pairs


class MatchSchema(Schema):
    """Which requests: `path` (a glob, `*` any characters) and optionally method, query, headers, json."""

    path = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PATH))
    method = Methods()
    query = QueryField()
    headers = HeadersField()
    json = fields.Raw(allow_none=True)
    strict = fields.Boolean()

    @validates_schema(skip_on_field_errors=False)
    def check(self, data: dict[str, Any], **kwargs: Any) -> None:
        path = data.get("path")
        if isinstance(path, str) and not path.startswith(("/", "*")):
            raise ValidationError(
                "A path glob starts with / or *, e.g. /v4_6_release/apis/3.0/service/tickets*.", "path"
            )
        if isinstance(path, str) and "?" in path:
            raise ValidationError("The path has no query string: name parameters under match.query.", "path")
        body = data.get("json")
        if isinstance(body, dict) and len(body) > MAX_ENTRIES:
            raise ValidationError(f"At most {MAX_ENTRIES} JSON fields.", "json")

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> StubMatch:
        optional = {"json": data["json"]} if "json" in data else {}
        return StubMatch(
            path=data["path"],
            methods=data.get("method"),
            query=data.get("query", ()),
            headers=data.get("headers", ()),
            strict=data.get("strict", False),
            **optional,
        )


class RespondSchema(Schema):
    """What to answer: `status` (default 200), `headers`, and `json` (any JSON value) or `body` (text as it is)."""

    status = fields.Integer(strict=True, validate=validate.Range(min=200, max=599))
    headers = HeadersField(answer=True)
    json = fields.Raw(allow_none=True)
    body = fields.String(validate=validate.Length(max=64 * 1024 * 1024))

    @validates_schema(skip_on_field_errors=False)
    def check(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "json" in data and "body" in data:
            raise ValidationError("Give json or body, not both.", "body")
        status = data.get("status", 200)
        if status in NO_BODY_STATUSES:
            for name in ("json", "body"):
                if name in data:
                    raise ValidationError(f"A {status} answer has no body.", name)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> StubAnswer:
        optional = {"json": data["json"]} if "json" in data else {}
        return StubAnswer(data.get("status", 200), data.get("headers", ()), text=data.get("body"), **optional)


class StubSchema(Schema):
    """One stub: `match`, `respond`, optionally `times` (how often it answers), `id` and `name`."""

    id = fields.String(validate=validate.Regexp(STUB_ID, error="Letters, digits, . _ - only (1-100)."))
    name = fields.String(validate=validate.Length(min=1, max=200))
    match = fields.Nested(MatchSchema, required=True)
    respond = fields.Nested(RespondSchema, required=True)
    times = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**9))

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> StubSpec:
        return StubSpec(data["match"], data["respond"], data.get("times"), data.get("id"), data.get("name"))


def stub_problems(entry: Any) -> tuple[StubSpec | None, list[FieldProblem]]:
    """One stub definition -> its spec, or every bad field named by its dotted path (`match.path`)."""
    if not isinstance(entry, dict):
        return None, [FieldProblem("stub", "A stub must be an object with match and respond.")]
    try:
        return StubSchema().load(entry), []
    except ValidationError as error:
        return None, field_problems(error.messages)


def load_stubs(document: Any) -> list[StubSpec]:
    """A stub or a list of stubs -> specs; every bad field of every stub -> one ConnectWise-shaped 400."""
    if isinstance(document, dict):
        entries, prefix = [document], ""
    elif isinstance(document, list) and document:
        entries, prefix = document, "[{}]"
    else:
        raise invalid_object("stub", [FieldProblem("body", "Give a stub (an object) or a list of them.")])
    specs: list[StubSpec] = []
    problems: list[FieldProblem] = []
    for position, entry in enumerate(entries):
        spec, found = stub_problems(entry)
        if spec is not None:
            specs.append(spec)
        at = prefix.format(position)
        for problem in found:
            name = problem.field if problem.field != "stub" else ""
            joined = f"{at}.{name}" if at and name else (at or name or "body")
            problems.append(FieldProblem(joined, problem.message))
    if problems:
        raise invalid_object("stub", problems)
    return specs
