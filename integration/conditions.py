"""Builds ConnectWise `conditions` text with every value quoted and escaped, for `requests` params."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

__all__ = ["Condition", "all_of", "any_of", "like_escape", "literal", "starts_with", "where"]

SCALAR_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "contains", "like", "not contains", "not like"})
LIST_OPERATORS = frozenset({"in", "not in"})
NULL_OPERATORS = frozenset({"=", "!="})
TEXT_OPERATORS = frozenset({"contains", "like", "not contains", "not like"})
FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
# SQL Server LIKE (ConnectWise's database) takes a wildcard character literally inside brackets.
LIKE_SPECIALS = re.compile(r"([%_\[])")

Value = str | bool | int | float | Decimal | datetime | date | None


@dataclass(frozen=True)
class Condition:
    """A piece of condition text; combine with `&` (and) and `|` (or), render with `str()`."""

    text: str
    joiner: str = ""  # "and" / "or" when this is a combination, "" for a single comparison

    def __str__(self) -> str:
        return self.text

    def __and__(self, other: Condition) -> Condition:
        return all_of(self, other)

    def __or__(self, other: Condition) -> Condition:
        return any_of(self, other)


def where(path: str, operator: str, value: Value | Iterable[Value]) -> Condition:
    """One comparison, e.g. `where("company/id", "=", 5)`, `where("status/id", "not in", [1, 2])`."""
    if not FIELD_PATH.fullmatch(path):
        raise ValueError(f"{path!r} is not a field path like name or company/id")
    op = " ".join(operator.lower().split())
    if op in LIST_OPERATORS:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise ValueError(f'"{op}" takes a list of values, not {value!r}')
        items = list(value)
        if not items:
            raise ValueError(f'"{op}" needs at least one value (an empty list matches nothing: skip the query)')
        if any(item is None for item in items):
            raise ValueError(f'null cannot be in an "{op}" list; compare with "= null" instead')
        return Condition(f"{path} {op} ({', '.join(literal(item) for item in items)})")
    if op not in SCALAR_OPERATORS:
        raise ValueError(f"unknown operator {operator!r}; use one of {sorted(SCALAR_OPERATORS | LIST_OPERATORS)}")
    if value is None and op not in NULL_OPERATORS:
        raise ValueError(f'null can only be compared with = or !=, not with "{op}"')
    if op in TEXT_OPERATORS and not isinstance(value, str):
        raise ValueError(f'"{op}" compares text; got {value!r}')
    return Condition(f"{path} {op} {literal(value)}")  # type: ignore[arg-type]


def all_of(*conditions: Condition) -> Condition:
    """Every condition holds (`a and b`); parentheses keep each `or` group together."""
    return _combine("and", conditions)


def any_of(*conditions: Condition) -> Condition:
    """At least one condition holds (`a or b`); parentheses keep each `and` group together."""
    return _combine("or", conditions)


def _combine(joiner: str, conditions: tuple[Condition, ...]) -> Condition:
    if not conditions:
        raise ValueError(f"nothing to combine with {joiner}")
    if len(conditions) == 1:
        return conditions[0]
    parts = [c.text if c.joiner in ("", joiner) else f"({c.text})" for c in conditions]
    return Condition(f" {joiner} ".join(parts), joiner)


def literal(value: Value) -> str:
    """A value as ConnectWise reads it: "text" (escaped), 12, 1.5, true, null, [2026-01-31T12:00:00Z]."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a number ConnectWise can compare with")
        # Plain digits, never an exponent: repr() gives the shortest text that reads back exactly.
        return format(value if isinstance(value, Decimal) else Decimal(repr(value)), "f")
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone; ConnectWise compares in UTC, so give one")
        return "[" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "]"
    if isinstance(value, date):
        return f"[{value.isoformat()}T00:00:00Z]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} in a condition")


def like_escape(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally: %, _ and [ lose their wildcard meaning."""
    return LIKE_SPECIALS.sub(r"[\1]", text)


def starts_with(prefix: str) -> str:
    """A LIKE pattern for what someone typed: `where("name", "like", starts_with("Acm"))`."""
    return like_escape(prefix) + "%"
