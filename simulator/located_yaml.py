"""YAML that remembers where things are: the line of every mapping, sequence, key and item.

Tenant files (and later scenario files) report errors by line. PyYAML's nodes carry marks;
this loader keeps them on the objects it builds, so the rest of the code works with plain
dicts and lists that can still say where they came from.

Dates and times stay strings (YAML 1.1 would turn `2026-01-31` into a `date`): ConnectWise
fields take ISO text, and the schemas parse it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class LocatedDict(dict):
    """A YAML mapping: `line` of its first key, `key_lines[key]` of each key.

    `key_sources` names another source for keys merged in from elsewhere (a base file).
    """

    source: str = ""
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Hashable, int] = {}
        self.key_sources: dict[Hashable, str] = {}

    def line_of(self, key: Hashable) -> int:
        return self.key_lines.get(key, self.line)

    def source_of(self, key: Hashable) -> str:
        return self.key_sources.get(key, self.source)

    def put(self, key: Hashable, value: Any, line: int, source: str | None = None) -> None:
        """Set a key with where it was written."""
        self[key] = value
        self.key_lines[key] = line
        self.key_sources.pop(key, None)
        if source is not None and source != self.source:
            self.key_sources[key] = source


class LocatedList(list):
    """A YAML sequence: `line` where it starts, `item_lines[i]` of each item."""

    source: str = ""
    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


@dataclass(frozen=True)
class YamlProblem:
    """Something wrong with the YAML text itself (syntax, duplicate keys, unhashable keys)."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class LocatedYamlError(ValueError):
    def __init__(self, problems: list[YamlProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps, building Located containers and noting duplicate keys."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[YamlProblem] = []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Iterator[LocatedDict]:
    data = LocatedDict()
    data.source, data.line = node.start_mark.name, _line(node)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            loader.problems.append(YamlProblem(data.source, _line(key_node), "a key must be a plain value"))
            continue
        if key in data:
            loader.problems.append(
                YamlProblem(
                    data.source,
                    _line(key_node),
                    f'key "{key}" appears twice in one mapping (first on line {data.key_lines[key]})',
                )
            )
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = _line(key_node)


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Iterator[LocatedList]:
    data = LocatedList()
    data.source, data.line = node.start_mark.name, _line(node)
    yield data
    for item_node in node.value:
        data.append(loader.construct_object(item_node, deep=True))
        data.item_lines.append(_line(item_node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_located(text: str, source: str) -> Any:
    """Parse one YAML (or JSON) document; raises LocatedYamlError naming the line of each problem."""
    loader = _Loader(text)
    loader.name = source
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = error.problem or error.context or "not valid YAML"
        raise LocatedYamlError([YamlProblem(source, line, f"YAML syntax error: {problem}")]) from error
    except yaml.YAMLError as error:
        raise LocatedYamlError([YamlProblem(source, 1, f"YAML error: {error}")]) from error
    finally:
        loader.dispose()
    if loader.problems:
        raise LocatedYamlError(loader.problems)
    return document


def where_at(document: Any, path: Iterable[Any]) -> tuple[str, int | None]:
    """(source, line) of the deepest element of `path` (keys and indexes) that the document locates."""
    node = document
    source, line = getattr(document, "source", ""), getattr(document, "line", None)
    for step in path:
        if isinstance(node, LocatedDict) and step in node:
            source, line, node = node.source_of(step), node.line_of(step), node[step]
        elif isinstance(node, LocatedList) and isinstance(step, int) and 0 <= step < len(node):
            source, line, node = node.source, node.line_of(step), node[step]
        else:
            break
    return source, line


def plain(value: Any) -> Any:
    """Plain dicts and lists, as JSON has them (the located ones carry line numbers)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
