"""marshmallow fields that read input the way ConnectWise does: leniently, and references by id or name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields

DefaultRef = Callable[[Any, dict[str, Any]], "int | None"]


@dataclass(frozen=True)
class RefInput:
    """A reference as the client wrote it: by id, or by name / identifier."""

    id: int | None = None
    name: str | None = None
    identifier: str | None = None

    def describe(self) -> str:
        if self.id is not None:
            return f"id {self.id}"
        if self.identifier is not None:
            return f'identifier "{self.identifier}"'
        return f'name "{self.name}"'


def _blank_is_none(value: Any) -> bool:
    # djconnectwise sends '' for an empty value in PATCH bodies.
    return value is None or value == ""


class Text(fields.String):
    """A string; numbers and booleans are taken as their text, as ConnectWise's JSON reader does."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Int(fields.Integer):
    """An integer; numeric strings are accepted, an empty string means null."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        if _blank_is_none(value):
            return None
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Number(fields.Float):
    """A decimal number; numeric strings are accepted, an empty string means null."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float | None:
        if _blank_is_none(value):
            return None
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A boolean; "true"/"False"/1/0 are accepted, an empty string means null."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool | None:
        if _blank_is_none(value):
            return None
        return super()._deserialize(value, attr, data, **kwargs)


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with `Z`, an offset or nothing (UTC), to an aware UTC datetime, whole seconds."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


class CwDateTime(fields.Field):
    """A datetime written `2026-01-31T12:00:00Z` (offsets and fractions accepted)."""

    default_error_messages = {"invalid": "Not a valid datetime; expected YYYY-MM-DDThh:mm:ssZ."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime | None:
        if _blank_is_none(value):
            return None
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_datetime(value)
        except ValueError as error:
            raise self.make_error("invalid") from error


class Ref(fields.Field):
    """A reference to a record of another collection, given by id or by name/identifier.

    `target` is the referenced table; `shape` the fields the reference shows; `scope` names a
    field of this record that the target must share (a ticket's status belongs to the ticket's
    board); `default` computes the id to use when the client gives none.
    """

    default_error_messages = {
        # marshmallow formats error messages with str.format: braces are doubled.
        "invalid": 'Expected a reference like {{"id": 5}} or {{"name": "..."}}.',
    }

    def __init__(
        self,
        target: str,
        *,
        scope: str | None = None,
        default: DefaultRef | None = None,
        shape: tuple[str, ...] | None = None,
        scope_field: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)
        self.target = target
        self.scope = scope
        self.scope_field = scope_field or scope  # the target's field that must equal this record's `scope`
        self.default = default
        self.shape = shape  # the fields its `*Reference` model shows beside the id; None: the target's own

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> RefInput | None:
        if _blank_is_none(value):
            return None
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            return RefInput(id=value)
        if isinstance(value, str) and value.strip().isdigit():
            return RefInput(id=int(value))
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        raw_id = value.get("id")
        if raw_id not in (None, ""):
            if isinstance(raw_id, bool):
                raise self.make_error("invalid")
            try:
                return RefInput(id=int(raw_id))
            except (TypeError, ValueError, OverflowError) as error:
                raise ValidationError("The id of a reference must be a whole number.") from error
        name = value.get("name")
        identifier = value.get("identifier")
        if isinstance(identifier, str) and identifier:
            return RefInput(identifier=identifier)
        if isinstance(name, str) and name:
            return RefInput(name=name)
        raise self.make_error("invalid")


class Nested(fields.Raw):
    """A JSON object or list kept as given (custom fields, communication items, questions)."""
