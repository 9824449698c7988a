"""The integration's conditions builder, read back by the fake's parser (used here in tests only)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwsim.integration.conditions import all_of, any_of, like_escape, literal, starts_with, where
from cwsim.simulator.connectwise.conditions import And, Comparison, Or, parse

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)
TRICKY_TEXT = st.text(alphabet=st.sampled_from("\"\\'%_[]() ,=andor\n\tAz0é✓😀"), max_size=20) | st.text(max_size=40)


def read_back(condition: object) -> object:
    return parse(str(condition))


@PROPERTY_SETTINGS
@given(TRICKY_TEXT)
def test_any_string_reads_back_as_itself(text: str) -> None:
    assert read_back(where("name", "=", text)) == Comparison("name", "=", text)


@PROPERTY_SETTINGS
@given(st.lists(TRICKY_TEXT, min_size=1, max_size=5))
def test_in_lists_of_strings_read_back(texts: list[str]) -> None:
    assert read_back(where("status/name", "not in", texts)) == Comparison("status/name", "not in", tuple(texts))


@PROPERTY_SETTINGS
@given(TRICKY_TEXT)
def test_a_typed_prefix_becomes_a_like_pattern_that_reads_back(typed: str) -> None:
    assert read_back(where("name", "like", starts_with(typed))) == Comparison("name", "like", like_escape(typed) + "%")


def sql_server_like(pattern: str, text: str) -> bool:
    """SQL Server's LIKE for the subset like_escape writes: %, _ and one-character [x] classes."""
    regex = "".join(
        re.escape(token[1])
        if token.startswith("[")
        else ".*"
        if token == "%"
        else "."
        if token == "_"
        else re.escape(token)
        for token in re.findall(r"\[.\]|.", pattern, re.DOTALL)
    )
    return re.fullmatch(regex, text, re.DOTALL) is not None


@PROPERTY_SETTINGS
@given(TRICKY_TEXT, TRICKY_TEXT)
def test_a_prefix_pattern_matches_exactly_the_names_that_start_with_it(typed: str, rest: str) -> None:
    assert sql_server_like(starts_with(typed), typed + rest)
    other = typed[:-1] + ("x" if typed[-1:] != "x" else "y") if typed else None
    if other is not None:
        assert not sql_server_like(starts_with(typed), other + rest)


def test_like_escape_brackets_each_wildcard() -> None:
    assert like_escape("100%_[ok]") == "100[%][_][[]ok]"
    assert str(where("name", "like", starts_with("Acm"))) == 'name like "Acm%"'


@PROPERTY_SETTINGS
@given(st.integers(-(10**15), 10**15) | st.floats(allow_nan=False, allow_infinity=False, width=64) | st.booleans())
def test_numbers_and_booleans_read_back(value: int | float | bool) -> None:
    comparison = read_back(where("id", "=", value))
    assert isinstance(comparison, Comparison)
    assert (comparison.path, comparison.op) == ("id", "=")
    if isinstance(value, float):  # written without an exponent, so it may read back as an int of the same value
        assert float(comparison.value) == value  # type: ignore[arg-type]
    else:
        assert comparison.value == value and type(comparison.value) is type(value)


@PROPERTY_SETTINGS
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)))
def test_datetimes_read_back_to_the_second(moment: datetime) -> None:
    assert read_back(where("lastUpdated", ">", moment)) == Comparison("lastUpdated", ">", moment.replace(microsecond=0))


def test_literals() -> None:
    assert literal(None) == "null"
    assert literal(True) == "true"
    assert literal(False) == "false"
    assert literal(12) == "12"
    assert literal(1e-05) == "0.00001"
    assert literal(Decimal("12.50")) == "12.50"
    assert literal('Bob\'s "best" C:\\') == '"Bob\'s \\"best\\" C:\\\\"'
    assert (
        literal(datetime(2026, 1, 31, 14, 0, 5, 999, tzinfo=timezone(timedelta(hours=2)))) == "[2026-01-31T12:00:05Z]"
    )
    assert literal(date(2026, 1, 31)) == "[2026-01-31T00:00:00Z]"


def test_and_or_nest_with_parentheses_and_read_back() -> None:
    a, b, c = where("company/id", "=", 5), where("closedFlag", "=", False), where("status/name", "in", ["New", "Open"])
    combined = all_of(a, any_of(b, c)) & where("summary", "contains", "Backup")
    assert str(combined) == (
        'company/id = 5 and (closedFlag = false or status/name in ("New", "Open")) and summary contains "Backup"'
    )
    assert read_back(combined) == And(
        (
            Comparison("company/id", "=", 5),
            Or((Comparison("closedFlag", "=", False), Comparison("status/name", "in", ("New", "Open")))),
            Comparison("summary", "contains", "Backup"),
        )
    )
    assert str((a | b) | c) == 'company/id = 5 or closedFlag = false or status/name in ("New", "Open")'
    assert read_back(where("closedDate", "=", None)) == Comparison("closedDate", "=", None)


@pytest.mark.parametrize(
    ("path", "operator", "value", "message"),
    [
        ("name; drop", "=", "x", "field path"),
        ("name", "===", "x", "unknown operator"),
        ("name", "like", None, "null can only"),
        ("name", "like", 5, "compares text"),
        ("id", "in", [], "at least one"),
        ("id", "in", "12", "list of values"),
        ("id", "in", [1, None], "null cannot"),
        ("id", "=", float("nan"), "not a number"),
        ("lastUpdated", ">", datetime(2026, 1, 1), "no time zone"),
    ],
)
def test_bad_conditions_are_refused_with_a_reason(path: str, operator: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        where(path, operator, value)  # type: ignore[arg-type]
