"""What `POST /alerts` accepts: one alert event (docs/alerts.md) or a batch of them, checked field by field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from .alerts import parse_moment

__all__ = ["ALERT_EVENTS", "FieldProblem", "IntakeBatch", "check_batch"]

ALERT_EVENTS = ("raise", "repeat", "clear")
IGNORED_EVENTS = ("usage",)  # the fleet's daily usage records: accepted, not alerts
CATEGORIES = ("device", "agent", "screenshot")
SEVERITIES = ("critical", "warning", "info")


def _moment(text: str) -> None:
    try:
        parse_moment(text)
    except ValueError as error:
        raise ValidationError("Not an ISO-8601 date and time, e.g. 2026-01-05T13:00:00+00:00.") from error


def _text(maximum: int, required: bool = False) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=maximum))
    return fields.String(allow_none=True, load_default=None, validate=validate.Length(max=maximum))


class AlertEventSchema(Schema):
    """One raise, repeat or clear. Fields the schema does not know are kept, unchecked."""

    class Meta:
        unknown = EXCLUDE

    event = fields.String(
        required=True,
        validate=validate.OneOf(ALERT_EVENTS, error="Must be one of: raise, repeat, clear (or usage, ignored)."),
    )
    eventId = _text(300, required=True)
    alertKey = _text(300, required=True)
    time = fields.String(allow_none=True, load_default=None, validate=_moment)
    serialNumber = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"))
    deviceName = _text(200)
    model = _text(100)
    family = _text(20)
    clientCompanyName = _text(200)
    assetName = _text(200)
    assetType = _text(20)
    volume = _text(100)
    alertType = _text(100)
    code = _text(100)
    label = _text(200)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    severity = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(SEVERITIES))
    emailList = _text(50)
    dateTriggered = fields.String(required=True, validate=_moment)
    lastSeen = fields.String(allow_none=True, load_default=None, validate=_moment)
    numberSeen = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=0, max=10**9))
    recipients = fields.List(fields.Email(), load_default=list, validate=validate.Length(max=100))


_SCHEMA = AlertEventSchema()

_MISSING = object()
FieldCheck = Callable[[Any], bool]


def _value_check(field: fields.Field) -> FieldCheck | None:
    """True when the field's own validators pass a value of the field's plain JSON type; None for a field this
    cannot check (then marshmallow checks every event)."""
    if type(field) is fields.String:
        kind: type = str
    elif type(field) is fields.Integer and field.strict:
        kind = int
    elif type(field) is fields.List and type(field.inner) is fields.Email:
        kind = list
    else:
        return None
    validators = list(field.validators)
    inner = list(field.inner.validators) if isinstance(field, fields.List) else []
    allow_none = field.allow_none

    def check(value: Any) -> bool:
        if value is None:
            return allow_none
        if type(value) is not kind or (kind is list and not all(type(item) is str for item in value)):
            return False  # a bool is no int here, nor a str subclass a str: marshmallow decides those
        try:
            for item in value if kind is list else ():
                for validator in inner:
                    validator(item)
            for validator in validators:
                validator(value)
        except ValidationError:
            return False
        return True

    return check


def _plain_checks(schema: Schema) -> dict[str, tuple[bool, FieldCheck]] | None:
    """Per field, (required, check): the schema's own rules without its machinery; None when it has rules beyond
    its fields' validators, or fields of other kinds."""
    if schema._hooks and any(schema._hooks.values()):
        return None
    checks: dict[str, tuple[bool, FieldCheck]] = {}
    for name, field in schema.fields.items():
        check = _value_check(field)
        if check is None or field.data_key not in (None, name):
            return None
        checks[name] = (field.required, check)
    return checks


# The intake's hot path: marshmallow's load machinery cost about half the intake's CPU per alert under
# load. An event every field of which passes its own validators is taken as marshmallow would take it;
# anything else (a missing, null or odd value) goes through marshmallow, which also words the errors.
_PLAIN_CHECKS = _plain_checks(_SCHEMA)


def clearly_valid(item: Mapping[str, Any]) -> bool:
    """True only for an event marshmallow would pass (False means: ask marshmallow)."""
    if _PLAIN_CHECKS is None:
        return False
    for name, (required, check) in _PLAIN_CHECKS.items():
        value = item.get(name, _MISSING)
        if value is _MISSING:
            if required:
                return False
        elif not check(value):
            return False
    return True


@dataclass(frozen=True)
class FieldProblem:
    """One bad field: `[3].numberSeen` in a batch, `numberSeen` in a single event."""

    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": "InvalidField", "message": self.message, "resource": "alert", "field": self.field}


@dataclass(frozen=True)
class IntakeBatch:
    """A checked request body: the alert events to store, the records ignored, and every problem found."""

    alerts: list[dict[str, Any]]
    ignored: int
    problems: list[FieldProblem]


def check_batch(body: Any, max_batch: int) -> IntakeBatch:
    """Check one event (an object) or a batch (an array); a problem anywhere means nothing is stored."""
    single = isinstance(body, Mapping)
    items = [body] if single else body
    if not isinstance(items, list):
        return IntakeBatch([], 0, [FieldProblem("", "Expected an alert event (an object) or an array of them.")])
    if len(items) > max_batch:
        return IntakeBatch([], 0, [FieldProblem("", f"At most {max_batch} events in one request, not {len(items)}.")])
    alerts: list[dict[str, Any]] = []
    ignored = 0
    problems: list[FieldProblem] = []
    for index, item in enumerate(items):
        where = "" if single else f"[{index}]"
        if not isinstance(item, Mapping):
            problems.append(FieldProblem(where, "Expected an alert event (an object)."))
            continue
        if item.get("event") in IGNORED_EVENTS:
            ignored += 1
            continue
        if clearly_valid(item):
            alerts.append(dict(item))
            continue
        errors = _SCHEMA.validate(item)
        if errors:
            problems.extend(_flatten(errors, where))
        else:
            alerts.append(dict(item))
    return IntakeBatch(alerts, ignored, problems)


def _flatten(errors: Any, prefix: str) -> list[FieldProblem]:
    """marshmallow's nested error dict as `field: message` pairs, `recipients[0]` for a list's item."""
    problems: list[FieldProblem] = []
    for name, value in errors.items():
        path = f"{prefix}[{name}]" if isinstance(name, int) else f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, dict):
            problems.extend(_flatten(value, path))
        else:
            messages = value if isinstance(value, list) else [value]
            problems.append(FieldProblem(path, " ".join(str(message) for message in messages)))
    return problems
