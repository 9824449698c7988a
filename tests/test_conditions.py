"""The conditions language: real client strings, malformed input, and property tests against a reference."""

from __future__ import annotations

import operator
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cwsim.simulator.connectwise.conditions import (
    And,
    Comparison,
    ConditionError,
    Field,
    Or,
    compile_condition,
    conjunctive_terms,
    like_to_regex,
    parse,
    render,
)

PROPERTY_SETTINGS = settings(max_examples=250, deadline=None, derandomize=True)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def nested_resolver(kinds: dict[str, str], calls: list[str] | None = None):
    """Path "a/b" reads record["a"]["b"] (None when anything is missing); kinds name the known paths."""

    def resolve(path: str, position: int) -> Field:
        if calls is not None:
            calls.append(path)
        if path not in kinds:
            raise ConditionError(f'Unknown field "{path}"', position)
        keys = path.split("/")

        def get(record: Any) -> Any:
            for key in keys:
                if not isinstance(record, dict):
                    return None
                record = record.get(key)
            return record

        return Field(get, kinds[path])

    return resolve


def matching_ids(condition: str, kinds: dict[str, str], records: list[dict]) -> list[int]:
    predicate = compile_condition(parse(condition), nested_resolver(kinds))
    return [record["id"] for record in records if predicate(record)]


# --------------------------------------------------------------------------- 1. real client strings

TICKET_KINDS = {
    "id": "int",
    "name": "str",
    "summary": "str",
    "serialNumber": "str",
    "board/name": "str",
    "status/id": "int",
    "status/name": "str",
    "company/id": "int",
    "type/identifier": "str",
    "chargeToId": "int",
    "closedDate": "datetime",
    "lastUpdated": "datetime",
    "_info/lastUpdated": "datetime",
    "inactive": "bool",
    "inactiveFlag": "bool",
    "deletedFlag": "bool",
    "a": "int",
    "b": "int",
    "c": "int",
}

TICKETS = [
    {
        "id": 1,
        "name": "Help Desk",
        "summary": "Nightly BACKUP failed",
        "serialNumber": "00012e94105b",
        "board": {"name": "Datto Alerts"},
        "status": {"id": 1, "name": "New"},
        "company": {"id": 7},
        "type": {"identifier": "S"},
        "chargeToId": 1,
        "closedDate": None,
        "lastUpdated": utc(2020, 5, 1, 10, 0, 0, 200000),
        "_info": {"lastUpdated": utc(2026, 1, 1)},
        "inactive": False,
        "inactiveFlag": False,
        "deletedFlag": False,
        "a": 1,
        "b": 0,
        "c": 3,
    },
    {
        "id": 2,
        "name": "help desk",
        "summary": "Disk space low",
        "serialNumber": "00012E94105C",
        "board": {"name": "datto alerts"},
        "status": {"id": 5, "name": "Closed"},
        "company": {"id": 7},
        "type": {"identifier": "s"},
        "chargeToId": 2,
        "closedDate": utc(2020, 6, 1),
        "lastUpdated": utc(2020, 5, 1, 10, 0, 0, 123456),
        "_info": {"lastUpdated": utc(2025, 12, 31, 23, 59, 59)},
        "inactive": True,
        "inactiveFlag": True,
        "deletedFlag": True,
        "a": 0,
        "b": 2,
        "c": 3,
    },
    {
        "id": 3,
        "name": "Acme Corp",
        "summary": None,
        "serialNumber": None,
        "board": {"name": "Help Desk"},
        "status": {"id": 3, "name": "in progress"},
        "company": {"id": 250},
        "type": {"identifier": "M"},
        "chargeToId": 3,
        "closedDate": None,
        "lastUpdated": utc(2019, 1, 1),
        "_info": {"lastUpdated": utc(2026, 6, 1)},
        "inactive": False,
        "inactiveFlag": False,
        "deletedFlag": False,
        "a": 1,
        "b": 2,
        "c": 4,
    },
    {
        "id": 1001,
        "name": "ACME",
        "summary": "backup ok",
        "board": {"name": "Datto Alerts"},
        "status": None,
        "company": {"id": 7},
        "chargeToId": None,
        "closedDate": utc(2021, 2, 1),
        "lastUpdated": datetime(2021, 1, 1),  # naive: read as UTC
        "inactive": False,
        "inactiveFlag": True,
        "deletedFlag": True,
        "a": None,
        "b": 2,
        "c": 3,
    },
    {"id": 1002},  # every other field missing
]

CLIENT_STRINGS = [
    ("lastUpdated>[2020-05-01T10:00:00.123456]", [1, 1001]),
    ("inactive=False", [1, 3, 1001]),
    ("deletedFlag=False", [1, 3]),
    ("closedDate = null", [1, 3, 1002]),
    ("closedDate != null", [2, 1001]),
    ('status/name in ("New","In Progress")', [1, 3]),
    ("status/id not in (1,2,3)", [2]),
    ("chargeToId in (1,2)", [1, 2]),
    ('name="Help Desk"', [1, 2]),
    ("type/identifier='S'", [1, 2]),
    ("company/id=250", [3]),
    ("id > 1000", [1001, 1002]),
    ("inactiveFlag=false", [1, 3]),
    ('board/name="Datto Alerts" and status/name!="Closed" and company/id=7', [1]),
    ("(a=1 or b=2) and c=3", [1, 2, 1001]),
    ('name like "Acm%"', [3, 1001]),
    ('summary contains "backup"', [1, 1001]),
    ('serialNumber="00012E94105B"', [1]),
    ("lastUpdated>[2020-05-01T10:00:00+00:00]", [1, 2, 1001]),
    ("_info/lastUpdated >= [2026-01-01T00:00:00Z]", [1, 3]),
]


@pytest.mark.parametrize(("condition", "expected"), CLIENT_STRINGS)
def test_real_client_strings_filter_records(condition: str, expected: list[int]) -> None:
    assert matching_ids(condition, TICKET_KINDS, TICKETS) == expected


@pytest.mark.parametrize(("condition", "expected"), CLIENT_STRINGS)
def test_real_client_strings_survive_render(condition: str, expected: list[int]) -> None:
    tree = parse(condition)
    assert tree is not None
    assert parse(render(tree)) == tree
    assert matching_ids(render(tree), TICKET_KINDS, TICKETS) == expected


def test_client_string_trees() -> None:
    assert parse("lastUpdated>[2020-05-01T10:00:00.123456]") == Comparison(
        "lastUpdated", ">", utc(2020, 5, 1, 10, 0, 0, 123456)
    )
    assert parse("inactive=False") == Comparison("inactive", "=", False)
    assert parse("closedDate = null") == Comparison("closedDate", "=", None)
    assert parse('status/name in ("New","In Progress")') == Comparison("status/name", "in", ("New", "In Progress"))
    assert parse("status/id not in (1,2,3)") == Comparison("status/id", "not in", (1, 2, 3))
    assert parse("type/identifier='S'") == Comparison("type/identifier", "=", "S")
    assert parse("(a=1 or b=2) and c=3") == And(
        (Or((Comparison("a", "=", 1), Comparison("b", "=", 2))), Comparison("c", "=", 3))
    )
    assert parse("lastUpdated>[2020-05-01T10:00:00+00:00]") == Comparison("lastUpdated", ">", utc(2020, 5, 1, 10))


def test_positions_point_at_each_path() -> None:
    tree = parse('board/name="Datto Alerts" and status/name!="Closed" and company/id=7')
    assert [term.position for term in conjunctive_terms(tree)] == [0, 30, 56]


# --------------------------------------------------------------------------- grammar details


def test_empty_text_is_no_condition() -> None:
    assert parse("") is None
    assert parse("   \t\n") is None
    assert compile_condition(None, nested_resolver({}))({"anything": 1}) is True


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a=1 AND b=2", And((Comparison("a", "=", 1), Comparison("b", "=", 2)))),
        ("a=1 Or b=2", Or((Comparison("a", "=", 1), Comparison("b", "=", 2)))),
        (
            "a=1 or b=2 and c=3",
            Or((Comparison("a", "=", 1), And((Comparison("b", "=", 2), Comparison("c", "=", 3))))),
        ),
        (
            "a=1 and b=2 or c=3",
            Or((And((Comparison("a", "=", 1), Comparison("b", "=", 2))), Comparison("c", "=", 3))),
        ),
        ("((((a=1))))", Comparison("a", "=", 1)),
        ("a<>1", Comparison("a", "!=", 1)),
        ("a eq 1", Comparison("a", "=", 1)),
        ("a EQ 1", Comparison("a", "=", 1)),
        ("a<=1", Comparison("a", "<=", 1)),
        ("a>=1", Comparison("a", ">=", 1)),
        ("a<1", Comparison("a", "<", 1)),
        ('a CONTAINS "x"', Comparison("a", "contains", "x")),
        ('a Like "x%"', Comparison("a", "like", "x%")),
        ('a NOT LIKE "x%"', Comparison("a", "not like", "x%")),
        ('a not Contains "x"', Comparison("a", "not contains", "x")),
        ("a NOT IN (1)", Comparison("a", "not in", (1,))),
        ("a in(1,2)", Comparison("a", "in", (1, 2))),
        ("a in ('a', 'b')", Comparison("a", "in", ("a", "b"))),
        ("a = -5", Comparison("a", "=", -5)),
        ("a=1.5", Comparison("a", "=", 1.5)),
        ("a=TRUE", Comparison("a", "=", True)),
        ("a=NULL", Comparison("a", "=", None)),
        ("a=Null", Comparison("a", "=", None)),
        ("name='O''Brien'", Comparison("name", "=", "O'Brien")),
        ('name="say ""hi"""', Comparison("name", "=", 'say "hi"')),
        ('name="say \\"hi\\""', Comparison("name", "=", 'say "hi"')),
        ('name="C:\\\\temp"', Comparison("name", "=", "C:\\temp")),
        ('name="C:\\temp"', Comparison("name", "=", "C:\\temp")),
        ("name=''", Comparison("name", "=", "")),
        ('name="a and b or (c)"', Comparison("name", "=", "a and b or (c)")),
        ("communicationItems/value='x'", Comparison("communicationItems/value", "=", "x")),
        ("d=[2020-01-01T00:00:00Z]", Comparison("d", "=", utc(2020, 1, 1))),
        ("d=[2020-05-01]", Comparison("d", "=", utc(2020, 5, 1))),
        ("d=[ 2020-05-01T10:00:00+02:00 ]", Comparison("d", "=", utc(2020, 5, 1, 8))),
        ("d=[2020-05-01T10:00:00.1234567Z]", Comparison("d", "=", utc(2020, 5, 1, 10, 0, 0, 123456))),
    ],
)
def test_grammar(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_datetimes_are_utc_aware() -> None:
    value = parse("d > [2020-05-01T10:00:00+02:00]").value
    assert value.utcoffset() == timedelta(0)
    assert value == utc(2020, 5, 1, 8)


def test_render_writes_readable_text() -> None:
    tree = parse("a=1 and (b='x' or c in (1, \"y\")) and d>[2020-01-01]")
    assert render(tree) == 'a = 1 and (b = "x" or c in (1, "y")) and d > [2020-01-01T00:00:00Z]'
    nested = And((And((Comparison("a", "=", 1), Comparison("b", "=", 2))), Comparison("c", "=", 3)))
    assert parse(render(nested)) == nested
    with pytest.raises(ValueError):
        render(And(()))


def test_conjunctive_terms() -> None:
    a, b, c = (Comparison(name, "=", 1) for name in "abc")
    assert conjunctive_terms(None) == []
    assert conjunctive_terms(a) == [a]
    assert conjunctive_terms(And((a, b))) == [a, b]
    assert conjunctive_terms(And((a, Or((b, c))))) == [a]
    assert conjunctive_terms(And((And((a, b)), c))) == [a, b, c]
    assert conjunctive_terms(Or((a, b))) == []


# --------------------------------------------------------------------------- 2. malformed input

MALFORMED = [
    ('name="abc', 5, "unterminated string"),
    ("name='abc", 5, "unterminated string"),
    ("name='it''s", 5, "unterminated string"),
    ("(a=1", 4, '")"'),
    ("a=1 and (b=2 or c=3", 19, '")"'),
    ("a=1)", 3, '")"'),
    (")", 0, '")"'),
    ("()", 1, "expected a condition"),
    ("company/id 250", 11, "expected an operator after company/id"),
    ("company/id", 10, "expected an operator after company/id"),
    ("name=", 5, "expected a value"),
    ("name = and b=1", 7, "expected a value"),
    ('name ~ "x"', 5, "expected an operator"),
    ('name == "x"', 6, "expected a value"),
    ('name not = "x"', 9, '"not" must be followed by'),
    ("a=1 b=2", 4, 'expected "and", "or"'),
    ("a=1 and", 7, 'after "and"'),
    ("a=1 or", 6, 'after "or"'),
    ("a=1 and and b=2", 8, 'after "and"'),
    ("id in ()", 7, "empty list"),
    ("id in (1,2", 10, 'expected "," or ")"'),
    ("id in (1,,2)", 9, "expected a value"),
    ("id in (1,2,)", 11, "expected a value"),
    ("id in 1", 6, "expected a list"),
    ("id = (1,2)", 5, "only allowed after"),
    ("d > [2020-13-45]", 5, "not a valid datetime"),
    ("d > [yesterday]", 5, "not a valid datetime"),
    ("d > []", 4, "empty []"),
    ("d > [2020-01-01", 4, "unterminated datetime"),
    ("company//id = 1", 8, '"//"'),
    ("company/ = 1", 7, 'must not end with "/"'),
    ("/company = 1", 0, "expected a condition"),
    ("name = Foo", 7, "strings need quotes"),
    ("closedDate < null", 13, "null can only be compared"),
    ("name like null", 10, "null can only be compared"),
    ("id in (1, null)", 10, "null is not allowed in a list"),
    ("= 1", 0, "expected a condition"),
    ("not a = 1", 0, "expected a condition"),
    ("a = 1e999", 4, "out of range"),
    ("a = 1 && b = 2", 6, 'expected "and", "or"'),
    ("a = 1.", 5, 'expected "and", "or"'),
    ("(" * 100 + "a=1" + ")" * 100, 64, "nested"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), MALFORMED)
def test_malformed_conditions_name_the_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse(text)
    error = caught.value
    assert error.position == position
    assert f"position {position}" in str(error)
    assert fragment in str(error)


def test_error_message_shape() -> None:
    with pytest.raises(ConditionError) as caught:
        parse("company/id = and x=1")
    assert str(caught.value).startswith('Invalid condition at position 13: expected a value after "="')
    assert "(near 'and x=1')" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.position, str(copy)) == (13, str(caught.value))


# --------------------------------------------------------------------------- semantics

KINDS = {
    "name": "str",
    "code": "str",
    "count": "int",
    "price": "float",
    "flag": "bool",
    "when": "datetime",
    "extra": "any",
    "company/name": "str",
}


def evaluate(condition: str, record: dict, kinds: dict[str, str] = KINDS) -> bool:
    return compile_condition(parse(condition), nested_resolver(kinds))(record)


@pytest.mark.parametrize(
    "condition",
    [
        'name = "ACME corp"',
        'name != "other"',
        'name in ("x", "acme CORP")',
        'name like "a_me%"',
        'name contains "ME CO"',
        'name > "ACMA"',
        'name < "acmf"',
        'company/name = "straße"',
        'company/name = "STRASSE"',
    ],
)
def test_strings_compare_case_insensitively(condition: str) -> None:
    assert evaluate(condition, {"name": "Acme Corp", "company": {"name": "Straße"}})


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("Acm%", "acme corp", True),
        ("%corp", "Acme Corp", True),
        ("a_me", "acme", True),
        ("a_me", "acme corp", False),
        ("a%", "a\nb", True),
        ("a.c", "abc", False),
        ("a.c", "A.C", True),
        ("(x)+[y]", "(X)+Y", True),
        ("(x)+[[]y]", "(X)+[Y]", True),
        ("100[%]", "100%", True),
        ("100[%]", "1000", False),
        ("a[_]b", "a_b", True),
        ("a[_]b", "axb", False),
        ("[a-c]x", "Bx", True),
        ("[^a]x", "ax", False),
        ("100%", "100 percent", True),
        ("", "", True),
        ("", "x", False),
        ("%", "", True),
        ("%%a%%", "xxAxx", True),
        ("%_%_%", "a", False),
    ],
)
def test_like(pattern: str, text: str, expected: bool) -> None:
    assert evaluate(f"name like {render_string(pattern)}", {"name": text}) is expected
    assert evaluate(f"name not like {render_string(pattern)}", {"name": text}) is not expected
    assert (like_to_regex(pattern).fullmatch(text.casefold()) is not None) is expected


def render_string(text: str) -> str:
    return render(Comparison("x", "=", text)).removeprefix("x = ")


@pytest.mark.parametrize(
    ("op", "expected_on_null"),
    [
        ("= null", True),
        ("!= null", False),
        ('= "x"', False),
        ('!= "x"', False),
        ('< "x"', False),
        ('>= "x"', False),
        ('in ("x")', False),
        ('not in ("x")', False),
        ('like "%"', False),
        ('not like "x"', False),
        ('contains ""', False),
        ('not contains "x"', False),
    ],
)
def test_null_is_sql_null(op: str, expected_on_null: bool) -> None:
    assert evaluate(f"name {op}", {"name": None}) is expected_on_null
    assert evaluate(f"name {op}", {}) is expected_on_null
    assert evaluate(f"company/name {op}", {"company": None}) is expected_on_null


def test_null_with_another_operator_is_rejected_even_when_built_by_hand() -> None:
    with pytest.raises(ConditionError, match="null can only be compared"):
        compile_condition(Comparison("name", "<", None, 7), nested_resolver(KINDS))


@pytest.mark.parametrize(
    ("condition", "record", "expected"),
    [
        ('count = "250"', {"count": 250}, True),
        ("count = 250.0", {"count": 250}, True),
        ('count in ("1", 2)', {"count": 1}, True),
        ("count > 2", {"count": 2.5}, True),
        ('price <= "1.5"', {"price": 1.5}, True),
        ('flag = "TRUE"', {"flag": True}, True),
        ("flag = false", {"flag": True}, False),
        ("flag != false", {"flag": True}, True),
        ('when > "2020-01-01"', {"when": utc(2020, 1, 2)}, True),
        ("when = [2020-01-01T02:00:00+02:00]", {"when": utc(2020, 1, 1)}, True),
        ("when = [2020-01-01]", {"when": datetime(2020, 1, 1)}, True),
        ("when = [2020-01-01]", {"when": "2020-01-01T00:00:00Z"}, True),
        ("when = [2020-01-01]", {"when": date(2020, 1, 1)}, True),
        ("when < [2020-01-01]", {"when": "not a date"}, False),
        ("code = 123", {"code": "123"}, True),
        ("code = 1.5", {"code": "1.5"}, True),
        ("code = true", {"code": "TRUE"}, True),
        ('code in (123, "abc")', {"code": "ABC"}, True),
        ("code like 12", {"code": "12"}, True),
        ('count like "2%"', {"count": 250}, True),
        ('count contains "5"', {"count": 250}, True),
        ('flag like "tr%"', {"flag": True}, True),
        ("count = 5", {"count": "five"}, False),
        ("count < 5", {"count": "five"}, False),
        ("count != 5", {"count": "five"}, False),
        ("count not in (5)", {"count": {"weird": 1}}, False),
    ],
)
def test_coercion(condition: str, record: dict, expected: bool) -> None:
    assert evaluate(condition, record) is expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ('count = "abc"', "count expects a number"),
        ("count = true", "count expects a number"),
        ("count = [2020-01-01]", "count expects a number"),
        ('count in (1, "x")', "count expects a number"),
        ("flag = 1", "flag expects true or false"),
        ('flag = "yes"', "flag expects true or false"),
        ('when > "yesterday"', "when expects a datetime"),
        ("when > 5", "when expects a datetime"),
        ("missing = 1", 'Unknown field "missing"'),
    ],
)
def test_unusable_literals_are_rejected_at_compile_time(condition: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition(parse(f"name = 'x' and {condition}"), nested_resolver(KINDS))
    assert message in str(caught.value)
    assert caught.value.position == 15
    assert "position 15" in str(caught.value)


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("extra = 5", 5.0, True),
        ("extra > 4", 5, True),
        ('extra = "abc"', "ABC", True),
        ('extra < "b"', "A", True),
        ("extra = true", True, True),
        ("extra = 1", True, False),
        ("extra = true", 1, False),
        ('extra = "5"', 5, False),
        ('extra < "5"', 5, False),
        ('extra != "5"', 5, False),
        ("extra > [2020-01-01]", utc(2021, 1, 1), True),
        ("extra > [2020-01-01]", datetime(2021, 1, 1), True),
        ("extra > [2020-01-01]", "2021", False),
        ("extra > 1", [1, 2], False),
        ("extra in (1, 'a')", "A", True),
        ("extra in (1, 'a')", 1.0, True),
        ("extra not in (1, 2)", 3, True),
        ("extra not in (1, 2)", "3", False),
        ('extra like "a%"', "ABC", True),
        ('extra contains "2"', 123, True),
    ],
)
def test_any_kind_compares_dynamically(condition: str, value: object, expected: bool) -> None:
    assert evaluate(condition, {"extra": value}) is expected


def test_resolve_is_called_once_per_distinct_path_at_compile_time() -> None:
    calls: list[str] = []
    condition = "(name = 'a' or name = 'b') and count > 1 and (count < 9 or name like 'c%')"
    predicate = compile_condition(parse(condition), nested_resolver(KINDS, calls))
    assert sorted(calls) == ["count", "name"]
    assert [predicate({"name": name, "count": 5}) for name in ("A", "b", "c")] == [True, True, False]
    assert len(calls) == 2


def test_compiled_predicate_does_not_coerce_per_record() -> None:
    reads: list[object] = []

    class Recorder(str):
        def casefold(self) -> str:
            reads.append(self)
            return super().casefold()

    predicate = compile_condition(parse('name = "ABC"'), nested_resolver(KINDS))
    records = [{"name": "abc"}, {"name": "x"}, {"name": None}] * 100
    assert sum(predicate(record) for record in records) == 100
    assert reads == []  # the literal was folded once, at compile time


# --------------------------------------------------------------------------- 3. property tests

FIELD_KINDS = {"name": "str", "company/name": "str", "count": "int", "active": "bool", "updated": "datetime"}
OPS_BY_KIND = {
    "str": ["=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "contains", "not contains"],
    "int": ["=", "!=", "<", "<=", ">", ">=", "in", "not in"],
    "bool": ["=", "!=", "in", "not in"],
    "datetime": ["=", "!=", "<", "<=", ">", ">=", "in", "not in"],
}
MOMENTS = [utc(2020, 1, 1), utc(2020, 1, 1, 0, 0, 0, 500000), utc(2021, 6, 1, 12)]
PLUS_TWO = timezone(timedelta(hours=2))

# Small alphabets so that values often match; quotes, backslashes, %, _ and unicode to stress the text.
few_chars = st.text(alphabet=st.sampled_from("aAbß%_"), max_size=4)
odd_chars = st.text(alphabet=st.sampled_from("aAbBß%_'\"\\ éÉſ\n"), max_size=5)
short_text = st.one_of(few_chars, few_chars, odd_chars, st.text(max_size=4))
likely_patterns = st.sampled_from(
    [
        "%",
        "%",
        "a%",
        "%b",
        "%a%",
        "_%",
        "%_%",
        "%ss%",
        "_",
        "",
        "'",
        '%"%',
        "[%]%",
        "a[_]b",
        "[[]x",
        "[a-c]%",
        "[^a]_",
        "[x",
    ]
)
pattern_text = st.one_of(short_text, likely_patterns, likely_patterns)
record_text = st.text(alphabet=st.sampled_from("aAbBßs%_'\" éÉ\n"), max_size=4)

LITERALS = {
    "str": short_text | st.integers(-5, 5),
    "int": st.integers(-3, 3) | st.integers(-3, 3).map(str),
    "bool": st.booleans() | st.sampled_from(["true", "FALSE", "True"]),
    "datetime": st.sampled_from(MOMENTS) | st.sampled_from(MOMENTS).map(lambda m: m.astimezone(PLUS_TWO).isoformat()),
}
RECORD_VALUES = {
    "str": record_text,
    "int": st.integers(-3, 3),
    "bool": st.booleans(),
    "datetime": st.sampled_from(MOMENTS).flatmap(
        lambda m: st.sampled_from([m, m.replace(tzinfo=None), m.astimezone(PLUS_TWO)])
    ),
}


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    path = draw(st.sampled_from(sorted(FIELD_KINDS)))
    kind = FIELD_KINDS[path]
    op = draw(st.sampled_from(OPS_BY_KIND[kind]))
    literal = pattern_text if op in ("like", "not like", "contains", "not contains") else LITERALS[kind]
    if op in ("in", "not in"):
        value: object = tuple(draw(st.lists(literal, min_size=1, max_size=3)))
    elif op in ("=", "!=") and draw(st.integers(0, 5)) == 0:
        value = None
    else:
        value = draw(literal)
    return Comparison(path, op, value)


def trees(depth: int = 3) -> st.SearchStrategy:
    if depth == 0:
        return comparisons()
    children = trees(depth - 1)
    groups = st.tuples(st.sampled_from([And, Or]), st.lists(children, min_size=2, max_size=3))
    return comparisons() | groups.map(lambda group: group[0](tuple(group[1])))


def maybe(values: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a value, sometimes None."""
    return st.one_of(values, values, values, st.none())


def without_some_keys(full: st.SearchStrategy) -> st.SearchStrategy:
    """Sometimes drop keys, so that missing fields are exercised as well as None ones."""
    dropped = st.sets(st.sampled_from(["name", "company", "count", "active", "updated"]), max_size=2)
    return st.tuples(full, st.none() | dropped).map(
        lambda pair: {key: value for key, value in pair[0].items() if key not in (pair[1] or ())}
    )


records = without_some_keys(
    st.fixed_dictionaries(
        {
            "name": maybe(RECORD_VALUES["str"]),
            "company": maybe(st.fixed_dictionaries({"name": maybe(RECORD_VALUES["str"])})),
            "count": maybe(RECORD_VALUES["int"]),
            "active": maybe(RECORD_VALUES["bool"]),
            "updated": maybe(RECORD_VALUES["datetime"]),
        }
    )
)


# An independent reference evaluator: plain Python, no helpers from the module under test.


def lookup(record: dict, path: str) -> Any:
    value: Any = record
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def reference_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).casefold()


def reference_literal(kind: str, value: object) -> Any:
    if kind == "str":
        return reference_text(value)
    if kind == "int":
        return int(value)  # an int, or a numeric string
    if kind == "bool":
        return value if isinstance(value, bool) else value.lower() == "true"
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def reference_value(kind: str, value: Any) -> Any:
    if kind == "str":
        return value.casefold()
    if kind == "datetime":
        return as_utc(value)
    return value


def reference_like(text: str, pattern: str) -> bool:
    @cache
    def match(i: int, j: int) -> bool:
        if j == len(pattern):
            return i == len(text)
        if pattern[j] == "%":
            return match(i, j + 1) or (i < len(text) and match(i + 1, j))
        if i == len(text):
            return False
        closing = pattern.find("]", j + 2) if pattern[j] == "[" else -1
        if closing != -1:
            return in_set(text[i], pattern[j + 1 : closing]) and match(i + 1, closing + 1)
        return (pattern[j] == "_" or pattern[j] == text[i]) and match(i + 1, j + 1)

    return match(0, 0)


def in_set(char: str, content: str) -> bool:
    """SQL Server's [abc] / [a-c] / [^a]: the reference reading, written independently."""
    negated = content.startswith("^") and len(content) > 1
    body = content[1:] if negated else content
    found, k = False, 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            found |= body[k] <= char <= body[k + 2]
            k += 3
        else:
            found |= body[k] == char
            k += 1
    return found != negated


REFERENCE_ORDER = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt}
REFERENCE_ORDER[">="] = operator.ge


def reference_compare(term: Comparison, record: dict) -> bool:
    kind, value = FIELD_KINDS[term.path], lookup(record, term.path)
    if term.value is None:
        return (value is None) == (term.op == "=")
    if value is None:
        return False
    negated = term.op.startswith("not ")
    base_op = term.op.removeprefix("not ")
    if base_op in ("like", "contains"):
        text, pattern = value.casefold(), reference_text(term.value)
        hit = reference_like(text, pattern) if base_op == "like" else pattern in text
        return hit != negated
    ours = reference_value(kind, value)
    if base_op == "in":
        return any(ours == reference_literal(kind, item) for item in term.value) != negated
    return REFERENCE_ORDER[term.op](ours, reference_literal(kind, term.value))


def reference_evaluate(node: object, record: dict) -> bool:
    if isinstance(node, Comparison):
        return reference_compare(node, record)
    results = [reference_evaluate(item, record) for item in node.items]
    return all(results) if isinstance(node, And) else any(results)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(tree=trees(), sample=st.lists(records, max_size=6))
def test_random_trees_round_trip_and_match_the_reference(tree: object, sample: list[dict]) -> None:
    text = render(tree)
    parsed = parse(text)
    assert parsed == tree, text
    predicate = compile_condition(parsed, nested_resolver(FIELD_KINDS))
    for record in sample:
        assert predicate(record) == reference_evaluate(tree, record), (text, record)


@PROPERTY_SETTINGS
@given(st.text())
def test_random_text_parses_or_raises_condition_error(text: str) -> None:
    check_parse_total(text)


GRAMMAR_SOUP = "ab/_=!<>()[],'\"\\ %.-+:0123456789eETZ" + " and or not in like contains null true "


@PROPERTY_SETTINGS
@given(st.lists(st.sampled_from(GRAMMAR_SOUP.split(" ") + list(GRAMMAR_SOUP)), max_size=25).map("".join))
def test_grammar_soup_parses_or_raises_condition_error(text: str) -> None:
    check_parse_total(text)


MIXED_RECORDS = [
    {},
    {"a": None},
    {"a": 1},
    {"a": "x"},
    {"a": True},
    {"a": utc(2020, 1, 1)},
    {"a": [1]},
    {"a": {"b": 2.5}},
]


def check_parse_total(text: str) -> None:
    """parse() returns a tree or raises ConditionError; a tree renders back to itself and evaluates safely."""
    try:
        tree = parse(text)
    except ConditionError as error:
        assert 0 <= error.position <= len(text)
        assert "position" in str(error)
        return
    if tree is None:
        return
    assert parse(render(tree)) == tree
    try:
        predicate = compile_condition(tree, lambda path, position: Field(lambda r: lookup(r, path), "any"))
    except ConditionError:
        return
    for record in MIXED_RECORDS:
        assert predicate(record) in (True, False)
