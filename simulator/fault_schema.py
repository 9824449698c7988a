"""Fault rules as documents: their validation (marshmallow), for the admin API and `--faults` files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from .connectwise.errors import CwError, FieldProblem, invalid_object
from .fault_triggers import TRIGGER_EVENTS, ClosedTicketWrite, ConfigurationDeleted, TicketForCompany
from .faults import (
    CLOCKS,
    HTTP_METHODS,
    REQUEST,
    RESPONSE,
    SIMULATED,
    WRITE_METHODS,
    CommitThenFail,
    ConnectionFault,
    Delay,
    Dribble,
    Effect,
    FaultSpec,
    FixedDelay,
    Latency,
    LognormalDelay,
    MalformedJson,
    Outage,
    RateLimit,
    RequestSelector,
    StatusFault,
    Throttle,
    Trigger,
    UniformDelay,
    WindowSpec,
    fault_answer,
)

MAX_LATENCY_MS = 600_000  # ten minutes: longer is a typo, and would hold a server thread
MAX_RETRY_AFTER = 86_400
# Windows stay far inside datetime's range, so that start + duration never overflows.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
MAX_WINDOW_S = 100 * 366 * 86_400
DEFAULT_RETRY_AFTER = 1
MAX_SEED = 2**63 - 1  # JSON numbers past 64 bits do not survive most clients (nor orjson)
MAX_COUNT = 10**9
MAX_RATE_REQUESTS = 1_000_000
MAX_RATE_PERIOD_S = 3600
MAX_CHUNKS = 10_000
MAX_SIGMA = 5.0
CONNECTION_KINDS = ("connection_reset", "empty_response")
EFFECT_KINDS = (
    "status",
    "throttle",
    "latency",
    "outage",
    "commit_then_fail",
    "malformed_json",
    "rate_limit",
    *CONNECTION_KINDS,
    "dribble",
)
ANY = "*"
EFFECT_TYPES = (
    StatusFault,
    Throttle,
    Latency,
    Outage,
    CommitThenFail,
    MalformedJson,
    RateLimit,
    ConnectionFault,
    Dribble,
)
DELAYS = {"latency_ms", "delay_distribution"}

# Which optional effect fields each kind takes, and the statuses it may answer with.
KIND_FIELDS: dict[str, set[str]] = {
    "status": {"status", "code", "message", *DELAYS},
    "throttle": {"retry_after", "code", "message", *DELAYS},
    "latency": set(DELAYS),
    "outage": {"status", "code", "message", *DELAYS},
    "commit_then_fail": {"status", "code", "message", *DELAYS},
    "malformed_json": set(DELAYS),
    "rate_limit": {"requests", "per_s", "code", "message"},
    "connection_reset": {"at", *DELAYS},
    "empty_response": {"at", *DELAYS},
    "dribble": {"chunks", "duration_ms"},
}
KIND_STATUSES: dict[str, range] = {
    "status": range(400, 600),
    "outage": range(400, 600),
    "commit_then_fail": range(500, 600),
}
DEFAULT_STATUS = {"outage": 503, "commit_then_fail": 500}
DEFAULT_CHUNKS = 10


class Methods(fields.Field):
    """`"POST"`, `["PUT", "PATCH"]`, or `"*"` for any method; case-insensitive."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> frozenset[str] | None:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            raise ValidationError('Give a method name, a list of them, or "*" for any.')
        upper = {name.strip().upper() for name in names}
        if ANY in upper:
            return None
        unknown = sorted(upper - HTTP_METHODS)
        if unknown:
            raise ValidationError(f"Unknown method {', '.join(unknown)}; use one of {', '.join(sorted(HTTP_METHODS))}.")
        return frozenset(upper)


class WindowSchema(Schema):
    start = fields.AwareDateTime(default_timezone=UTC, validate=validate.Range(min=EARLIEST, max=LATEST))
    end = fields.AwareDateTime(default_timezone=UTC, validate=validate.Range(min=EARLIEST, max=LATEST))
    duration_s = fields.Float(validate=validate.Range(min=0, max=MAX_WINDOW_S, min_inclusive=False))
    clock = fields.String(load_default=SIMULATED, validate=validate.OneOf(CLOCKS))

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_bounds(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        if isinstance(original, dict) and not {"start", "end", "duration_s"} & set(original):
            raise ValidationError("Give start, end or duration_s (seconds).", "duration_s")
        if "end" in data and "duration_s" in data:
            raise ValidationError("Give end or duration_s, not both.", "duration_s")
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ValidationError("end must be after start.", "end")

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> WindowSpec:
        duration = timedelta(seconds=data["duration_s"]) if "duration_s" in data else None
        return WindowSpec(data["clock"], data.get("start"), data.get("end"), duration)


class DelayDistributionSchema(Schema):
    """`{"type": "lognormal", "median_ms", "sigma"}` or `{"type": "uniform", "lower_ms", "upper_ms"}`."""

    type = fields.String(required=True, validate=validate.OneOf(["lognormal", "uniform"]))
    median_ms = fields.Float(validate=validate.Range(min=0, max=MAX_LATENCY_MS, min_inclusive=False))
    sigma = fields.Float(validate=validate.Range(min=0, max=MAX_SIGMA))
    lower_ms = fields.Float(validate=validate.Range(min=0, max=MAX_LATENCY_MS))
    upper_ms = fields.Float(validate=validate.Range(min=0, max=MAX_LATENCY_MS))

    @validates_schema(skip_on_field_errors=True)
    def check_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        wanted = {"lognormal": ("median_ms", "sigma"), "uniform": ("lower_ms", "upper_ms")}[data["type"]]
        problems = {name: [f"A {data['type']} delay needs {name}."] for name in wanted if name not in data}
        for name in set(data) - {"type", *wanted}:
            problems[name] = [f"{name} does not apply to a {data['type']} delay."]
        if data["type"] == "uniform" and not problems and data["upper_ms"] < data["lower_ms"]:
            problems["upper_ms"] = ["upper_ms must be at least lower_ms."]
        if problems:
            raise ValidationError(problems)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Delay:
        if data["type"] == "lognormal":
            return LognormalDelay(data["median_ms"], data["sigma"])
        return UniformDelay(data["lower_ms"], data["upper_ms"])


class EffectSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(EFFECT_KINDS))
    status = fields.Integer(strict=True)
    code = fields.String(validate=validate.Length(min=1, max=100))
    message = fields.String(validate=validate.Length(min=1, max=1000))
    retry_after = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_RETRY_AFTER))
    latency_ms = fields.Float(validate=validate.Range(min=0, max=MAX_LATENCY_MS))
    delay_distribution = fields.Nested(DelayDistributionSchema)
    requests = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_RATE_REQUESTS))
    per_s = fields.Float(validate=validate.Range(min=0, max=MAX_RATE_PERIOD_S, min_inclusive=False))
    at = fields.String(validate=validate.OneOf([REQUEST, RESPONSE]))
    chunks = fields.Integer(strict=True, validate=validate.Range(min=2, max=MAX_CHUNKS))
    duration_ms = fields.Float(validate=validate.Range(min=0, max=MAX_LATENCY_MS, min_inclusive=False))

    @validates_schema(skip_on_field_errors=False)
    def check_kind(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data.get("kind")
        if kind is None:
            return
        problems = {
            name: [f"{name} does not apply to kind {kind}."] for name in set(data) - {"kind"} - KIND_FIELDS[kind]
        }
        statuses = KIND_STATUSES.get(kind)
        if kind == "status" and "status" not in data and "status" not in problems:
            problems["status"] = ["Kind status needs a status (400-599)."]
        if statuses is not None and data.get("status", statuses[0]) not in statuses:
            problems["status"] = [f"Must be between {statuses[0]} and {statuses[-1]} for kind {kind}."]
        if kind == "latency" and not DELAYS & set(data) and "latency_ms" not in problems:
            problems["latency_ms"] = ["Kind latency needs latency_ms or delay_distribution."]
        if {"latency_ms", "delay_distribution"} <= set(data):
            problems["delay_distribution"] = ["Give latency_ms or delay_distribution, not both."]
        if kind == "rate_limit" and "requests" not in data and "requests" not in problems:
            problems["requests"] = ["Kind rate_limit needs requests (how many per per_s seconds, per client)."]
        if kind == "dribble" and "duration_ms" not in data and "duration_ms" not in problems:
            problems["duration_ms"] = ["Kind dribble needs duration_ms (over how long the answer arrives)."]
        if problems:
            raise ValidationError(problems)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Effect:
        kind = data["kind"]
        delay: Delay | None = data.get("delay_distribution")
        if "latency_ms" in data:
            delay = FixedDelay(data["latency_ms"])
        if kind == "latency":
            assert delay is not None
            return Latency(delay)
        if kind == "malformed_json":
            return MalformedJson(delay)
        if kind in CONNECTION_KINDS:
            return ConnectionFault(kind, data.get("at", RESPONSE), delay)
        if kind == "dribble":
            return Dribble(data.get("chunks", DEFAULT_CHUNKS), data["duration_ms"])
        if kind == "rate_limit":
            requests, per_s = data["requests"], data.get("per_s", 1.0)
            message = data.get("message") or f"Rate limit: {requests} requests per {per_s:g} s per client."
            return RateLimit(requests, per_s, fault_answer(429, data.get("code"), message))
        if kind == "throttle":
            seconds = data.get("retry_after", DEFAULT_RETRY_AFTER)
            answer = fault_answer(
                429,
                data.get("code"),
                data.get("message") or f"Too many requests; retry after {seconds} seconds.",
                [("Retry-After", str(seconds))],
            )
            return Throttle(seconds, answer, delay)
        answer = fault_answer(data.get("status", DEFAULT_STATUS.get(kind, 500)), data.get("code"), data.get("message"))
        effect_type = {"status": StatusFault, "outage": Outage, "commit_then_fail": CommitThenFail}[kind]
        return effect_type(answer, delay)


class TriggerSchema(Schema):
    """`{"on": "ticket_for_company", "company": 5, "nth": 3}`, `{"on": "closed_ticket_write"}`,
    `{"on": "configuration_deleted"}` (optionally `"configuration": 12`)."""

    on = fields.String(required=True, validate=validate.OneOf(TRIGGER_EVENTS))
    company = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_SEED))
    nth = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_COUNT))
    configuration = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_SEED))

    TAKES = {
        "ticket_for_company": {"company", "nth"},
        "closed_ticket_write": set(),
        "configuration_deleted": {"configuration"},
    }
    NEEDS = {"ticket_for_company": {"company", "nth"}}

    @validates_schema(skip_on_field_errors=True)
    def check_event(self, data: dict[str, Any], **kwargs: Any) -> None:
        event = data["on"]
        problems = {
            name: [f"{name} does not apply to trigger {event}."] for name in set(data) - {"on"} - self.TAKES[event]
        }
        for name in self.NEEDS.get(event, set()) - set(data):
            problems[name] = [f"Trigger {event} needs {name}."]
        if problems:
            raise ValidationError(problems)

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> Trigger:
        event = data["on"]
        if event == "ticket_for_company":
            return TicketForCompany(data["company"], data["nth"])
        if event == "closed_ticket_write":
            return ClosedTicketWrite()
        return ConfigurationDeleted(data.get("configuration"))


# Triggers that fix which requests they are about; the rule may not say otherwise.
TRIGGER_SELECTORS = {
    "ticket_for_company": "POST service/tickets",
    "closed_ticket_write": "writes to service/tickets/{id} and below",
}
TRIGGER_EFFECTS = {"rate_limit", "outage"}  # a gate or a window, not a reaction to one event


class FaultRuleSchema(Schema):
    """One rule: which requests (method, path or collection), when (probability, count, window), what (effect)."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    method = Methods()
    path = fields.String(validate=validate.Length(min=1, max=1000))
    collection = fields.String(validate=validate.Length(min=1, max=200))
    probability = fields.Float(validate=validate.Range(min=0, max=1))
    seed = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_SEED))
    count = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_COUNT))
    window = fields.Nested(WindowSchema)
    trigger = fields.Nested(TriggerSchema)
    effect = fields.Nested(EffectSchema, required=True)

    def __init__(self, collections: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.collections = {name.casefold() for name in collections}

    @validates_schema(skip_on_field_errors=False)
    def check_rule(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Checks across fields; runs on what loaded, so one answer names every bad field it can."""
        problems: dict[str, list[str]] = {}
        if "path" in data and "collection" in data:
            problems["collection"] = ["Give path or collection, not both."]
        collection = data.get("collection")
        if collection is not None and collection.strip("/").casefold() not in self.collections:
            problems["collection"] = [
                f"{collection!r} is not a collection of the fake; e.g. service/tickets or service/tickets/notes."
            ]
        # A nested schema that failed leaves its raw dict here, not the object its post_load makes.
        effect = data.get("effect") if isinstance(data.get("effect"), EFFECT_TYPES) else None
        window = data.get("window") if isinstance(data.get("window"), WindowSpec) else None
        if effect is not None and effect.kind == "outage":
            window_failed = "window" in data and window is None  # its own errors say why
            if not window_failed and (window is None or (window.end is None and window.duration is None)):
                problems["window"] = ["An outage needs window.end or window.duration_s."]
            for name in ("probability", "count"):
                if name in data:
                    problems[name] = [f"An outage fails every matching request; {name} does not apply."]
        methods = data.get("method")
        writes_only = methods is None or methods <= WRITE_METHODS
        if effect is not None and effect.kind == "commit_then_fail" and not writes_only:
            problems["method"] = ["commit_then_fail needs write methods (POST, PUT, PATCH, DELETE)."]
        if effect is not None and effect.kind == "rate_limit":
            for name in ("probability", "count"):
                if name in data:
                    problems[name] = [f"A rate limit counts every matching request; {name} does not apply."]
        trigger = data.get("trigger")
        if trigger is not None and not isinstance(trigger, dict):
            problems.update(self._trigger_problems(trigger.on, data, effect))
        if problems:
            raise ValidationError(problems)

    @staticmethod
    def _trigger_problems(event: str, data: dict[str, Any], effect: Effect | None) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        fixed = TRIGGER_SELECTORS.get(event)
        if fixed is not None:
            for name in ("path", "collection") + (("method",) if event == "ticket_for_company" else ()):
                if name in data:
                    problems[name] = [f"Trigger {event} is about {fixed}; {name} does not apply."]
        methods = data.get("method")
        if event == "closed_ticket_write" and methods is not None and not methods <= WRITE_METHODS:
            problems["method"] = ["Trigger closed_ticket_write is about writes (POST, PUT, PATCH, DELETE)."]
        if effect is not None and effect.kind in TRIGGER_EFFECTS:
            problems["trigger"] = [f"A {effect.kind} rule takes no trigger."]
        return problems

    @post_load
    def make(self, data: dict[str, Any], **kwargs: Any) -> FaultSpec:
        effect: Effect = data["effect"]
        methods = data.get("method")
        if methods is None and "method" not in data and effect.kind == "commit_then_fail":
            methods = WRITE_METHODS
        trigger: Trigger | None = data.get("trigger")
        count = data.get("count")
        if trigger is not None and trigger.on == "ticket_for_company":
            methods, count = frozenset({"POST"}), 1  # there is one Nth ticket
        if trigger is not None and trigger.on == "closed_ticket_write" and methods is None:
            methods = WRITE_METHODS
        selector = RequestSelector(methods, data.get("path"), data.get("collection"))
        return FaultSpec(
            effect,
            selector,
            probability=data.get("probability"),
            seed=data.get("seed"),
            count=count,
            window=data.get("window"),
            name=data.get("name"),
            trigger=trigger,
        )


def field_problems(messages: Any, prefix: str = "") -> list[FieldProblem]:
    """marshmallow's nested error messages -> one problem per bad field, named by its dotted path."""
    if isinstance(messages, dict):
        problems = []
        for key, value in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "rule"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            problems += field_problems(value, name)
        return problems
    texts = messages if isinstance(messages, list) else [messages]
    return [FieldProblem(prefix or "rule", str(text)) for text in texts]


def load_fault_rules(document: Any, collections: Iterable[str]) -> list[FaultSpec]:
    """A rule or a list of rules -> specs; every bad field of every rule -> one 400 naming them."""
    if isinstance(document, dict):
        entries, prefix = [document], lambda position: ""
    elif isinstance(document, list) and document:
        entries, prefix = document, lambda position: f"[{position}]"
    else:
        raise invalid_object("fault", [FieldProblem("body", "Give a fault rule (an object) or a list of them.")])
    schema = FaultRuleSchema(collections)
    specs: list[FaultSpec] = []
    problems: list[FieldProblem] = []
    # One entry at a time: with many=True marshmallow skips every rule's cross-field checks as
    # soon as any rule has a bad field.
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(FieldProblem(prefix(position) or "body", "A fault rule must be a JSON object."))
            continue
        try:
            specs.append(schema.load(entry))
        except ValidationError as error:
            problems += field_problems(error.messages, prefix(position))
    if problems:
        raise invalid_object("fault", problems)
    return specs


class FaultFileError(ValueError):
    """A `--faults` file that cannot be used; the message names the file, the entry and the field."""


def load_fault_file(path: Path, collections: Iterable[str]) -> list[FaultSpec]:
    """The rules of a YAML or JSON file holding a list of them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FaultFileError(f"{path}: cannot read it: {error}") from error
    try:
        if path.suffix.casefold() == ".json":
            document, lines = json.loads(text), None
        else:
            document, lines = yaml.safe_load(text), _entry_lines(text)
    except (ValueError, yaml.YAMLError) as error:
        language = "JSON" if path.suffix.casefold() == ".json" else "YAML"
        raise FaultFileError(f"{path}: not valid {language}: {error}") from error
    if document is None:
        return []
    if not isinstance(document, list):
        raise FaultFileError(f"{path}: expected a list of fault rules, found {type(document).__name__}")
    collections = list(collections)
    specs = []
    for position, entry in enumerate(document):
        where = f"rule {position + 1}"
        if lines is not None and position < len(lines):
            where += f" (line {lines[position]})"
        if not isinstance(entry, dict):
            raise FaultFileError(f"{path}: {where}: a fault rule must be a mapping, not {type(entry).__name__}")
        if isinstance(entry.get("name"), str):
            where += f" {entry['name']!r}"
        try:
            specs += load_fault_rules(entry, collections)
        except CwError as error:
            details = "; ".join(f"{problem['field']}: {problem['message']}" for problem in error.errors or [])
            raise FaultFileError(f"{path}: {where}: {details}") from error
    return specs


def _entry_lines(text: str) -> list[int] | None:
    """The line (1-based) where each entry of a top-level YAML sequence starts."""
    node = yaml.compose(text)
    if not isinstance(node, yaml.SequenceNode):
        return None
    return [item.start_mark.line + 1 for item in node.value]
