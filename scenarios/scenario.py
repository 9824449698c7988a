"""Scenario files: what world to build, how time runs, what happens when, and what must hold after.

A scenario is YAML, validated with marshmallow; a mistake is reported with the file, the line
(from the YAML parser's marks) and what is expected there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..simulator.clock import parse_duration, parse_moment
from ..simulator.located_yaml import LocatedYamlError, load_located, plain, where_at
from ..simulator.stub_schema import stub_problems
from .actions import ACTIONS as ACTION_FUNCTIONS

ROUTES = ["ticket", "email", "both", "none"]
CHECKS = [
    "tickets",
    "notes",
    "emails",
    "no_screenshot_tickets",
    "no_duplicates",
    "none_lost",
    "additions",
    "doctor",
    "onboarding",
    "incident_tickets",
    "silent_devices_quiet",
    "reopened_after_close",
    "faults_fired",
]
ACTIONS = list(ACTION_FUNCTIONS)  # what a timeline may do: scenarios/actions.py, one home


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file, the line and what is expected."""


class Duration(fields.Field):
    """An ISO-8601 duration (`PT6H`, `P30D`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> timedelta:
        try:
            return parse_duration(str(value))
        except ValueError as error:
            raise ValidationError(f"expected an ISO-8601 duration like PT6H or P30D, not {value!r}") from error


class Moment(fields.Field):
    """An ISO-8601 moment with `Z` or an offset."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_moment(str(value))
        except ValueError as error:
            raise ValidationError(f"expected a moment like 2026-10-01T00:00:00Z, not {value!r}") from error


class ClockSchema(Schema):
    class Meta:
        unknown = RAISE

    start = Moment(required=True)
    duration = Duration(required=True)
    step = Duration(load_default=lambda: timedelta(hours=6))


class IntegrationSchema(Schema):
    class Meta:
        unknown = RAISE

    device_route = fields.String(data_key="deviceRoute", load_default="both", validate=validate.OneOf(ROUTES))
    agent_route = fields.String(data_key="agentRoute", load_default="both", validate=validate.OneOf(ROUTES))
    close_on_clear = fields.Boolean(data_key="closeOnClear", load_default=False)
    workers = fields.Integer(load_default=4, validate=validate.Range(min=1, max=64))
    map_unmatched = fields.Boolean(data_key="mapUnmatched", load_default=True)
    defaults = fields.Dict(keys=fields.String(), load_default=dict)
    settings = fields.Dict(keys=fields.String(), load_default=dict)  # raw overrides of the integration settings


class EventSchema(Schema):
    class Meta:
        unknown = RAISE

    at = Duration(required=True)  # after the clock's start
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    params = fields.Dict(keys=fields.String(), load_default=dict)


class ScenarioSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default=None)
    description = fields.String(load_default="")
    seed = fields.Integer(load_default=0)
    tenant = fields.String(load_default=None)
    companies = fields.Integer(load_default=24, validate=validate.Range(min=1, max=5000))
    fleet = fields.Dict(keys=fields.String(), load_default=dict)  # FleetSpec settings, camelCase (docs/fleet.md)
    clock = fields.Nested(ClockSchema, required=True)
    integration = fields.Nested(IntegrationSchema, load_default=lambda: IntegrationSchema().load({}))
    timeline = fields.List(fields.Nested(EventSchema), load_default=list)
    stubs = fields.List(fields.Dict(), load_default=list)  # posted to /_sim/stubs once the fake serves
    expect = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def timeline_inside_the_run(self, data: dict[str, Any], **kwargs: Any) -> None:
        duration = data["clock"]["duration"]
        for index, event in enumerate(data.get("timeline", [])):
            if event["at"] > duration:
                raise ValidationError(
                    f"at {event['at']} is after the run ends ({duration})", field_name=f"timeline/{index}/at"
                )


@dataclass(frozen=True)
class Check:
    """One expectation: a check name and what it takes (`doctor: {failures: [...]}`)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    description: str
    seed: int
    tenant: str | None
    companies: int
    fleet: dict[str, Any]
    start: datetime
    duration: timedelta
    step: timedelta
    integration: dict[str, Any]
    timeline: list[dict[str, Any]]
    checks: list[Check]
    source: str
    stubs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def end(self) -> datetime:
        return self.start + self.duration


def _checks(items: list[Any], problems: list[tuple[list[Any], str]]) -> list[Check]:
    checks = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            params = {} if params is None else params
        else:
            name, params = None, None
        if name not in CHECKS:
            expected = f"one of {', '.join(CHECKS)} (optionally `name: {{...}}`)"
            problems.append((["expect", index], f"expected {expected}, got {item!r}"))
            continue
        if params is None or not isinstance(params, dict):
            problems.append((["expect", index], f"{name}: expected a mapping of parameters"))
            continue
        checks.append(Check(name, dict(params)))
    return checks


def _path_of(field_name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in field_name.split("/")]


def parse_scenario(text: str, source: str) -> Scenario:
    """A scenario from YAML text, or ScenarioError listing every problem by line."""
    try:
        document = load_located(text, source)
    except LocatedYamlError as error:
        raise ScenarioError(str(error)) from error
    if not isinstance(document, dict):
        raise ScenarioError(f"{source}:1: a scenario is a mapping (name, seed, clock, timeline, expect...)")
    problems: list[tuple[list[Any], str]] = []
    try:
        data = ScenarioSchema().load(document)
    except ValidationError as error:
        for path, message in _flatten(error.messages):
            problems.append((path, message))
        data = None
    checks = _checks(document.get("expect") or [], problems) if isinstance(document.get("expect"), list) else []
    problems += _stub_problems(document.get("stubs"))
    if problems:
        lines = []
        for path, message in problems:
            where, line = where_at(document, path)
            location = f"{where}:{line}" if line else where
            lines.append(f"{location}: {'/'.join(map(str, path))}: {message}")
        raise ScenarioError("\n".join(lines))
    clock = data["clock"]
    return Scenario(
        name=data["name"] or Path(source).stem,
        description=data["description"],
        seed=data["seed"],
        tenant=data["tenant"],
        companies=data["companies"],
        fleet=dict(data["fleet"]),
        start=clock["start"],
        duration=clock["duration"],
        step=clock["step"],
        integration=data["integration"],
        timeline=sorted(data["timeline"], key=lambda event: event["at"]),
        checks=checks,
        source=source,
        stubs=[plain(stub) for stub in data["stubs"]],
    )


def _stub_problems(stubs: Any) -> list[tuple[list[Any], str]]:
    """Each bad field of each stub (simulator/stub_schema.py), by its path in the file."""
    problems: list[tuple[list[Any], str]] = []
    for index, entry in enumerate(stubs if isinstance(stubs, list) else ()):
        if not isinstance(entry, dict):
            continue  # the schema says so already
        for problem in stub_problems(plain(entry))[1]:
            problems.append((["stubs", index, *problem.field.split(".")], problem.message))
    return problems


def _flatten(messages: Any, path: list[Any] | None = None) -> list[tuple[list[Any], str]]:
    path = path or []
    found: list[tuple[list[Any], str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                found += _flatten(value, path)
            else:
                found += _flatten(value, [*path, *_path_of(str(key))])
    elif isinstance(messages, list):
        for message in messages:
            found += _flatten(message, path) if isinstance(message, dict | list) else [(path, str(message))]
    else:
        found.append((path, str(messages)))
    return found


def load_scenario(path_or_name: str | Path) -> Scenario:
    """A scenario file by path, or a built-in one by name (`quickstart`)."""
    path = Path(path_or_name)
    if path.suffix not in (".yaml", ".yml") and not path.exists():
        builtin = resources.files(__package__).joinpath(f"builtin/{path_or_name}.yaml")
        if not builtin.is_file():
            names = ", ".join(builtin_names())
            raise ScenarioError(f"{path_or_name}: no such file, and no built-in scenario of that name ({names})")
        return parse_scenario(builtin.read_text(), f"scenarios/builtin/{path_or_name}.yaml")
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read it: {error.strerror or error}") from error
    return parse_scenario(text, str(path))


def builtin_names() -> list[str]:
    folder = resources.files(__package__).joinpath("builtin")
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))
