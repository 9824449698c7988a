"""What `POST /alerts` accepts: one alert event (docs/alerts.md) or a batch of them, checked field by field."""

from __future__ import annotations

from collections.abc import Mapping
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
