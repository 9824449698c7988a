"""ConnectWise's `conditions` query language: tokenize, parse, render and compile it to a record filter."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, NoReturn

__all__ = [
    "And",
    "Comparison",
    "ConditionError",
    "Field",
    "Node",
    "Or",
    "compile_condition",
    "conjunctive_terms",
    "like_to_regex",
    "parse",
    "parse_datetime",
    "render",
]


class ConditionError(ValueError):
    """A malformed or unusable condition. `position` is the 0-based character offset where the problem is."""

    def __init__(self, message: str, position: int, text: str | None = None) -> None:
        self.message = message
        self.position = position
        self.text = text
        super().__init__(f"Invalid condition at position {position}: {message}{_near(text, position)}")

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.message, self.position, self.text)


def _near(text: str | None, position: int) -> str:
    if text is None:
        return ""
    snippet = text[position : position + 12]
    return f" (near {snippet!r})" if snippet.strip() else " (at the end)"


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Comparison:
    """One `path op value` term; `position` (the path's offset in the text) is not part of equality."""

    path: str
    op: str
    value: object
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    """All of `items` hold."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one of `items` holds."""

    items: tuple[Node, ...]


Node = Comparison | And | Or

EQUALITY_OPS = ("=", "!=")
ORDERING_OPS = ("<", "<=", ">", ">=")
TEXT_OPS = ("contains", "like", "not contains", "not like")
LIST_OPS = ("in", "not in")
OPERATORS = EQUALITY_OPS + ORDERING_OPS + TEXT_OPS + LIST_OPS

_SYMBOL_OPS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_WORD_OPS = {"eq": "=", "contains": "contains", "like": "like", "in": "in"}
_NOT_OPS = ("in", "like", "contains")
_KEYWORDS = ("and", "or", "not")
_OPERATOR_LIST = "=, !=, <, <=, >, >=, contains, like, in (...), not in (...), not contains, not like"
_MAX_DEPTH = 64

# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class _Token:
    kind: str  # word | number | string | datetime | op | ( | ) | , | unknown | end
    text: str
    position: int
    value: object = None


_SCANNER = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_/]*)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_QUOTES = "\"'"


def _tokens(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        char = text[position]
        if char in _QUOTES:
            token = _string_token(text, position)
        elif char == "[":
            token = _datetime_token(text, position)
        else:
            match = _SCANNER.match(text, position)
            if match is None:
                token = _Token("unknown", char, position)
            elif match.lastgroup == "space":
                position = match.end()
                continue
            else:
                token = _scanned_token(match, text)
        yield token
        position = token.position + len(token.text)
    yield _Token("end", "", len(text))


def _scanned_token(match: re.Match[str], text: str) -> _Token:
    kind, lexeme, start = match.lastgroup or "", match.group(), match.start()
    if kind == "punct":
        return _Token(lexeme, lexeme, start)
    if kind != "number":
        return _Token(kind, lexeme, start)
    number: float = float(lexeme) if any(c in lexeme for c in ".eE") else int(lexeme)
    if not math.isfinite(number):
        raise ConditionError(f"the number {lexeme} is out of range", start, text)
    return _Token("number", lexeme, start, number)


def _string_token(text: str, start: int) -> _Token:
    quote, chars, position = text[start], [], start + 1
    while position < len(text):
        char = text[position]
        following = text[position + 1 : position + 2]
        if char == "\\" and following and following in "\\\"'":
            chars.append(following)
            position += 2
        elif char == quote and following == quote:
            chars.append(quote)
            position += 2
        elif char == quote:
            return _Token("string", text[start : position + 1], start, "".join(chars))
        else:
            chars.append(char)
            position += 1
    raise ConditionError(
        f"unterminated string: the {quote} at position {start} is never closed "
        f"(write a quote inside a string as {quote}{quote})",
        start,
        text,
    )


def _datetime_token(text: str, start: int) -> _Token:
    close = text.find("]", start + 1)
    if close < 0:
        raise ConditionError(
            f'unterminated datetime: the "[" at position {start} is never closed with "]"', start, text
        )
    inside = text[start + 1 : close]
    if not inside.strip():
        raise ConditionError("empty []: expected a datetime like [2020-01-01T00:00:00Z]", start, text)
    value = parse_datetime(inside)
    if value is None:
        offset = start + 1 + len(inside) - len(inside.lstrip())
        raise ConditionError(f"[{inside}] is not a valid datetime; expected e.g. [2020-01-01T00:00:00Z]", offset, text)
    return _Token("datetime", text[start : close + 1], start, value)


def parse_datetime(text: str) -> datetime | None:
    """Read an ISO 8601 date or datetime leniently (Z, offsets, fractions; naive means UTC) as UTC, or None."""
    try:
        value = datetime.fromisoformat(text.strip())
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- parser


@lru_cache(maxsize=1024)
def parse(text: str) -> Node | None:
    """Parse condition text into a tree (None for empty text); raise ConditionError if it is malformed.

    Cached: clients poll with the same few conditions, and the tree (frozen dataclasses) is never changed.
    """
    return _Parser(text).parse()


class _Parser:
    """Recursive descent over the grammar: or := and ("or" and)*; and := term ("and" term)*."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.current = next(self.tokens)
        self.previous: _Token | None = None
        self.depth = 0

    def parse(self) -> Node | None:
        if self.current.kind == "end":
            return None
        node = self.disjunction()
        if self.current.kind == ")":
            self.fail('unbalanced ")": there is no "(" for it to close')
        if self.current.kind != "end":
            self.fail(f'expected "and", "or" or the end of the condition, found {self.describe()}')
        return node

    def disjunction(self) -> Node:
        items = [self.conjunction()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Node:
        items = [self.term()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.term())
        return items[0] if len(items) == 1 else And(tuple(items))

    def term(self) -> Node:
        token = self.current
        if token.kind == "(":
            return self.group()
        if token.kind == "word" and token.text.lower() not in _KEYWORDS:
            return self.comparison()
        after = f" after {self.previous_text()}" if self.previous else ""
        self.fail(f"expected a condition (field operator value){after}, found {self.describe()}")

    def group(self) -> Node:
        opening = self.advance()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            self.fail(f"parentheses nested more than {_MAX_DEPTH} deep", opening)
        node = self.disjunction()
        if self.current.kind != ")":
            self.fail(f'expected ")" to close the "(" at position {opening.position}, found {self.describe()}')
        self.advance()
        self.depth -= 1
        return node

    def comparison(self) -> Comparison:
        token = self.advance()
        path = _checked_path(token, self.text)
        op = self.operator(path)
        value = self.list_value(op) if op in LIST_OPS else self.scalar_value(op)
        return Comparison(path, op, value, token.position)

    def operator(self, path: str) -> str:
        token = self.current
        if token.kind == "op":
            self.advance()
            return _SYMBOL_OPS[token.text]
        word = token.text.lower() if token.kind == "word" else ""
        if word in _WORD_OPS:
            self.advance()
            return _WORD_OPS[word]
        if word == "not":
            self.advance()
            negated = self.current.text.lower() if self.current.kind == "word" else ""
            if negated not in _NOT_OPS:
                self.fail(f'"not" must be followed by in, like or contains, found {self.describe()}')
            self.advance()
            return f"not {negated}"
        self.fail(f"expected an operator after {path} ({_OPERATOR_LIST}), found {self.describe()}")

    def scalar_value(self, op: str) -> object:
        if self.current.kind == "(":
            self.fail(f'a list (...) is only allowed after "in" or "not in", not after "{op}"')
        value = self.value(f'"{op}"')
        if value is None and op not in EQUALITY_OPS:
            self.fail(f'null can only be compared with = or !=, not with "{op}"', self.previous)
        return value

    def list_value(self, op: str) -> tuple[object, ...]:
        if self.current.kind != "(":
            self.fail(f'expected a list like (1, 2) or ("a", "b") after "{op}", found {self.describe()}')
        opening = self.advance()
        if self.current.kind == ")":
            self.fail(f'empty list: "{op} ()" needs at least one value')
        items = []
        while True:
            items.append(self.value("," if items else '"("'))
            if items[-1] is None:
                self.fail('null is not allowed in a list; use "= null" instead', self.previous)
            if self.current.kind == ")":
                self.advance()
                return tuple(items)
            if self.current.kind != ",":
                self.fail(
                    f'expected "," or ")" in the list opened at position {opening.position}, found {self.describe()}'
                )
            self.advance()

    def value(self, after: str) -> object:
        token = self.current
        if token.kind in ("string", "number", "datetime"):
            self.advance()
            return token.value
        word = token.text.lower() if token.kind == "word" else ""
        if word in ("true", "false", "null"):
            self.advance()
            return {"true": True, "false": False, "null": None}[word]
        hint = f' (strings need quotes: "{token.text}")' if word and word not in _KEYWORDS else ""
        self.fail(f"expected a value after {after}, found {self.describe()}{hint}")

    # helpers

    def advance(self) -> _Token:
        self.previous, self.current = self.current, next(self.tokens)
        return self.previous

    def at_keyword(self, keyword: str) -> bool:
        return self.current.kind == "word" and self.current.text.lower() == keyword

    def describe(self) -> str:
        token = self.current
        if token.kind == "end":
            return "the end of the condition"
        shown = token.text if len(token.text) <= 30 else token.text[:27] + "..."
        return shown if token.kind in ("string", "number", "datetime") else f'"{shown}"'

    def previous_text(self) -> str:
        assert self.previous is not None
        return f'"{self.previous.text}"'

    def fail(self, message: str, token: _Token | None = None) -> NoReturn:
        raise ConditionError(message, (token or self.current).position, self.text)


def _checked_path(token: _Token, text: str) -> str:
    path = token.text
    if path.endswith("/"):
        raise ConditionError(f'field name "{path}" must not end with "/"', token.position + len(path) - 1, text)
    double = path.find("//")
    if double >= 0:
        raise ConditionError(f'field name "{path}" has an empty part ("//")', token.position + double + 1, text)
    return path


# --------------------------------------------------------------------------- render


def render(node: Node) -> str:
    """Write a tree back as condition text that parse() reads to an equal tree."""
    if isinstance(node, Comparison):
        return f"{node.path} {node.op} {_render_value(node.value)}"
    if not node.items:
        raise ValueError(f"cannot render an empty {type(node).__name__}")
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(f"({render(item)})" if isinstance(item, And | Or) else render(item) for item in node.items)


def _render_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot render the number {value}")
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '""') + '"'
    if isinstance(value, datetime):
        return f"[{_datetime_text(value)}]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_render_value(item) for item in value) + ")"
    raise ValueError(f"cannot render the value {value!r}")


def _datetime_text(value: datetime) -> str:
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat() + "Z"


# --------------------------------------------------------------------------- compile

Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class Field:
    """How to read one condition path from a record, and what type its values have."""

    getter: Callable[[Any], Any]
    kind: str  # "str" | "int" | "float" | "bool" | "datetime" | "any"


def conjunctive_terms(node: Node | None) -> list[Comparison]:
    """The Comparisons that must all hold for `node` to hold (those joined by top-level and)."""
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, And):
        return [term for item in node.items for term in conjunctive_terms(item)]
    return []


def compile_condition(node: Node | None, resolve: Callable[[str, int], Field]) -> Predicate:
    """Turn a tree into a fast record -> bool predicate; resolve each path once, coerce literals now."""
    fields: dict[str, Field] = {}
    compiled: dict[Comparison, Predicate] = {}

    def field_for(term: Comparison) -> Field:
        if term.path not in fields:
            fields[term.path] = resolve(term.path, term.position)
        return fields[term.path]

    def build(item: Node) -> Predicate:
        if isinstance(item, Comparison):
            try:
                known = compiled.get(item)
            except TypeError:  # a hand-built term with an unhashable value: compile it uncached
                return _compile_comparison(item, field_for(item))
            if known is None:
                known = compiled[item] = _compile_comparison(item, field_for(item))
            return known
        tests = [build(child) for child in item.items]
        return _all_of(tests) if isinstance(item, And) else _any_of(tests)

    if node is None:
        return _always
    return build(node)


def _always(record: Any) -> bool:
    return True


def _never(record: Any) -> bool:
    return False


def _all_of(tests: list[Predicate]) -> Predicate:
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda record: first(record) and second(record)
    if len(tests) == 3:
        first, second, third = tests
        return lambda record: first(record) and second(record) and third(record)
    chain = tuple(tests)

    def all_hold(record: Any) -> bool:
        for test in chain:  # noqa: SIM110 - a loop beats all()/any() over a generator
            if not test(record):
                return False
        return True

    return all_hold


def _any_of(tests: list[Predicate]) -> Predicate:
    if not tests:
        return _never
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda record: first(record) or second(record)
    chain = tuple(tests)

    def any_holds(record: Any) -> bool:
        for test in chain:  # noqa: SIM110 - a loop beats all()/any() over a generator
            if test(record):
                return True
        return False

    return any_holds


def _compile_comparison(term: Comparison, field_: Field) -> Predicate:
    get, op = field_.getter, term.op
    if op not in OPERATORS:
        raise ConditionError(f'unknown operator "{op}" ({_OPERATOR_LIST})', term.position)
    if (op in LIST_OPS) != isinstance(term.value, tuple):
        raise ConditionError(f'"{op}" needs {"a list" if op in LIST_OPS else "a single value"}', term.position)
    if term.value is None:
        return _null_test(get, op, term)
    if op in TEXT_OPS:
        return _text_test(get, op, term.value)
    kind = _KINDS.get(field_.kind)
    if kind is None:
        raise ValueError(f"unknown field kind {field_.kind!r} for {term.path}")
    if op in LIST_OPS:
        keys = frozenset(kind.literal(item, term) for item in term.value)  # type: ignore[union-attr]
        return _membership_test(get, kind, keys, negated=op == "not in")
    literal = kind.literal(term.value, term)
    if kind.dynamic:
        return _dynamic_test(get, kind.key, _COMPARE[op], literal)
    return _typed_test(get, kind, _COMPARE[op], literal)


def _null_test(get: Callable[[Any], Any], op: str, term: Comparison) -> Predicate:
    if op == "=":
        return lambda record: get(record) is None
    if op == "!=":
        return lambda record: get(record) is not None
    raise ConditionError(f'{term.path}: null can only be compared with = or !=, not with "{op}"', term.position)


def _text_test(get: Callable[[Any], Any], op: str, literal: object) -> Predicate:
    needle = _text_key(literal) or ""
    wanted = not op.startswith("not ")
    if op.endswith("like"):
        return _like_test(get, _like_pattern(needle, re.DOTALL).fullmatch, wanted)
    return _contains_test(get, needle, wanted)


def _like_test(get: Callable[[Any], Any], match: Callable[[str], Any], wanted: bool) -> Predicate:
    def test(record: Any) -> bool:
        value = get(record)
        text = value.casefold() if value.__class__ is str else _text_key(value)
        return text is not None and (match(text) is not None) is wanted

    return test


def _contains_test(get: Callable[[Any], Any], needle: str, wanted: bool) -> Predicate:
    def test(record: Any) -> bool:
        value = get(record)
        text = value.casefold() if value.__class__ is str else _text_key(value)
        return text is not None and (needle in text) is wanted

    return test


def _membership_test(get: Callable[[Any], Any], kind: _Kind, keys: frozenset[Any], negated: bool) -> Predicate:
    key, fast = kind.key, kind.fast_type
    if key is _text_key:

        def text_test(record: Any) -> bool:
            value = get(record)
            value = value.casefold() if value.__class__ is str else _text_key(value)
            return value is not None and (value in keys) is not negated

        return text_test
    categories = {item[0] for item in keys} if kind.dynamic else None

    def test(record: Any) -> bool:
        value = get(record)
        if value.__class__ is not fast:
            value = key(value)
            if value is None:
                return False
        if categories is not None and value[0] not in categories:
            return False
        return (value in keys) is not negated

    return test


def _typed_test(get: Callable[[Any], Any], kind: _Kind, compare: Callable[[Any, Any], bool], literal: Any) -> Predicate:
    key, fast = kind.key, kind.fast_type
    if key is _text_key:

        def text_test(record: Any) -> bool:
            value = get(record)
            if value.__class__ is str:
                return compare(value.casefold(), literal)
            value = _text_key(value)
            return value is not None and compare(value, literal)

        return text_test
    if key is _moment:

        def moment_test(record: Any) -> bool:
            value = get(record)
            if value.__class__ is not datetime or value.tzinfo is None:
                value = _moment(value)
                if value is None:
                    return False
            return compare(value, literal)

        return moment_test

    def test(record: Any) -> bool:
        value = get(record)
        if value.__class__ is not fast:
            value = key(value)
            if value is None:
                return False
        return compare(value, literal)

    return test


def _dynamic_test(
    get: Callable[[Any], Any], key: Callable[[Any], Any], compare: Callable[[Any, Any], bool], literal: Any
) -> Predicate:
    category, wanted = literal

    def test(record: Any) -> bool:
        value = key(get(record))
        return value is not None and value[0] == category and compare(value[1], wanted)

    return test


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# --------------------------------------------------------------------------- kinds: record value -> key, literal -> key


def _text_key(value: object) -> str | None:
    """A scalar as case-folded text (how strings compare); None for None and for lists, objects..."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _datetime_text(value).casefold()
    if isinstance(value, int | float | date):
        return str(value).casefold()
    return None


_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(value: object) -> int | float | None:
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(text := value.strip()):
        if text.lstrip("+-").isdigit():
            return int(text)
        number = float(text)
        return number if math.isfinite(number) else None
    return None


_BOOL_WORDS = {"true": True, "false": False}


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower())
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return parse_datetime(value)
    return None


def _dynamic(value: object) -> tuple[str, Any] | None:
    """A value tagged with its category so that only like compares with like."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("str", value.casefold())
    if isinstance(value, datetime | date):
        return ("datetime", _moment(value))
    return None


@dataclass(frozen=True)
class _Kind:
    """How one field kind reads record values (`key`) and coerces literals (`convert` + `expects`)."""

    key: Callable[[Any], Any]
    convert: Callable[[Any], Any]
    expects: str
    fast_type: type | None = None  # record values of exactly this type are already keys
    dynamic: bool = False

    def literal(self, value: object, term: Comparison) -> Any:
        converted = self.convert(value)
        if converted is None:
            raise ConditionError(f"{term.path} expects {self.expects}, got {_render_value(value)}", term.position)
        return converted


def _number_literal(value: object) -> int | float | None:
    return None if isinstance(value, bool | datetime) else _number(value)


def _bool_literal(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    return _BOOL_WORDS.get(value.strip().lower()) if isinstance(value, str) else None


def _datetime_literal(value: object) -> datetime | None:
    return _moment(value) if isinstance(value, datetime | str) else None


_KINDS: dict[str, _Kind] = {
    "str": _Kind(_text_key, _text_key, "text"),
    "int": _Kind(_number, _number_literal, "a number", fast_type=int),
    "float": _Kind(_number, _number_literal, "a number", fast_type=float),
    "bool": _Kind(_boolean, _bool_literal, "true or false", fast_type=bool),
    "datetime": _Kind(_moment, _datetime_literal, "a datetime like [2020-01-01T00:00:00Z]"),
    "any": _Kind(_dynamic, _dynamic, "a value", dynamic=True),
}


# --------------------------------------------------------------------------- like


def _like_pattern(pattern: str, flags: int) -> re.Pattern[str]:
    pattern = re.sub("%+", "%", pattern)  # "%%%" means "%", and costs the regex far less backtracking
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        closing = pattern.find("]", index + 2) if char == "[" else -1
        if closing != -1:
            # SQL Server's [abc], [a-f], [^a]; [%], [_] and [[] are how clients escape wildcards.
            parts.append(_like_class(pattern[index + 1 : closing]))
            index = closing + 1
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), flags)


def _like_class(content: str) -> str:
    negated = content.startswith("^") and len(content) > 1
    body = content[1:] if negated else content
    pieces = []
    for position, char in enumerate(body):
        is_range = char == "-" and 0 < position < len(body) - 1
        pieces.append("-" if is_range else re.escape(char))
    return "[" + ("^" if negated else "") + "".join(pieces) + "]"


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regex for fullmatch(): % any run, _ one character, [set] one of a set; case-insensitive."""
    return _like_pattern(pattern.casefold(), re.IGNORECASE | re.DOTALL)
