"""A graph of plain Python objects as JSON and back, limited to the classes it is told about.

What pickle does for a snapshot in memory, in a document a person can read and a server can take
from outside: only the named classes are ever built (nothing is imported or called by name), and
objects shared or cyclic (a device and its assets, an alert and its incident) come back shared.

Each object of an `identity` class is written once, in a flat table, as its class name and its
attributes (`__slots__`, or `__getstate__()` / `__dict__`); every mention of it is `{"$ref": n}`.
`values` are frozen dataclasses written inline by their fields. Containers keep their kinds
(tuple, set, deque, Counter, dicts with keys that are not strings), floats that JSON cannot hold
are tagged, and `random.Random` keeps its exact state.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from enum import Enum
from functools import lru_cache
from typing import Any

FORMAT_KEY = "format"


class GraphError(ValueError):
    """A document that is not a graph these classes can be built from; says where and what."""


@dataclasses.dataclass
class Codec:
    """The classes a graph may hold, and the named constants written by a key instead of their fields."""

    identity: Iterable[type]
    values: Iterable[type] = ()
    enums: Iterable[type[Enum]] = ()
    # name -> (type, key of an instance, instance of a key): shared constants such as schedules
    constants: dict[str, tuple[type, Callable[[Any], Any], Callable[[Any], Any]]] = dataclasses.field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        self.identity_by_name = {cls.__name__: cls for cls in self.identity}
        self.values_by_name = {cls.__name__: cls for cls in self.values}
        self.enums_by_name = {cls.__name__: cls for cls in self.enums}

    def encode(self, root: Any) -> dict[str, Any]:
        return _Encoder(self).run(root)

    def decode(self, data: Any) -> Any:
        return _Decoder(self, data).run()


SCALARS = frozenset((type(None), bool, int, str))  # written and read as they are (floats: see below)


@lru_cache(maxsize=64)
def slot_names(cls: type) -> tuple[str, ...] | None:
    """Every slot of `cls`, sorted (None when its instances have a `__dict__` or define `__getstate__`)."""
    names = {name for klass in cls.__mro__ for name in vars(klass).get("__slots__", ())}
    if "__dict__" in names or not hasattr(cls, "__slots__") or "__getstate__" in vars(cls):
        return None
    return tuple(sorted(names))


def attributes(obj: Any) -> list[tuple[str, Any]]:
    """What an object holds, by name: its `__getstate__()` when its class defines one, else its slots or `__dict__`."""
    cls = type(obj)
    slots = slot_names(cls)
    if slots is not None:
        return [(name, getattr(obj, name)) for name in slots if hasattr(obj, name)]
    state = obj.__getstate__() if "__getstate__" in vars(cls) else vars(obj)
    return sorted(state.items())


class _Encoder:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.numbers: dict[int, int] = {}
        self.pending: list[Any] = []
        self.table: list[Any] = []
        self.identity = frozenset(codec.identity_by_name.values())

    def run(self, root: Any) -> dict[str, Any]:
        encoded_root = self.value(root)
        value = self.value
        while len(self.table) < len(self.pending):
            obj = self.pending[len(self.table)]
            # attributes by name, so the same graph is numbered the same however they were ordered
            entry = {"$class": type(obj).__name__}
            for name, item in attributes(obj):
                entry[name] = item if type(item) in SCALARS else value(item)
            self.table.append(entry)
        return {"objects": self.table, "root": encoded_root}

    def value(self, item: Any) -> Any:
        kind = type(item)
        if kind in SCALARS:
            return item
        if kind is float:
            return item if math.isfinite(item) else {"$float": repr(item)}
        if kind is list:
            return self._items(item)
        if kind is dict:
            plain = {}
            for key, element in item.items():
                if type(key) is not str or key[:1] == "$":
                    return {"$dict": [[self.value(key), self.value(element)] for key, element in item.items()]}
                plain[key] = element if type(element) in SCALARS else self.value(element)
            return plain
        if kind is tuple:
            return {"$tuple": self._items(item)}
        if kind in self.identity:
            number = self.numbers.get(id(item))
            if number is None:
                number = self.numbers[id(item)] = len(self.pending)
                self.pending.append(item)
            return {"$ref": number}
        return self._tagged(item, kind)

    def _items(self, items: Iterable[Any]) -> list[Any]:
        value = self.value
        return [item if type(item) in SCALARS else value(item) for item in items]

    def _tagged(self, item: Any, kind: type) -> dict[str, Any]:
        codec = self.codec
        if isinstance(item, Enum) and kind in codec.enums_by_name.values():
            return {"$enum": kind.__name__, "value": item.value}
        for name, (constant, key, _) in codec.constants.items():
            if kind is constant:
                return {"$constant": name, "key": self.value(key(item))}
        if kind in codec.values_by_name.values():
            fields = {field.name: self.value(getattr(item, field.name)) for field in dataclasses.fields(item)}
            return {"$value": kind.__name__, **fields}
        if kind is Counter:
            return {"$counter": [[self.value(key), count] for key, count in item.items()]}
        if kind is deque:
            return {"$deque": self._items(item), "maxlen": item.maxlen}
        if kind in (set, frozenset):
            return {"$set": self._items(item)}
        if kind is random.Random:
            version, internal, gauss = item.getstate()
            return {"$random": [version, list(internal), gauss]}
        raise TypeError(f"cannot write a {kind.__name__} into the graph (not one of its classes)")


class _Decoder:
    def __init__(self, codec: Codec, data: Any) -> None:
        self.codec = codec
        self.data = data
        self.objects: list[Any] = []

    def run(self) -> Any:
        data = self.data
        if not isinstance(data, dict) or not isinstance(data.get("objects"), list) or "root" not in data:
            raise GraphError('must be an object with "objects" (a list) and "root"')
        table = data["objects"]
        for number, entry in enumerate(table):
            name = entry.get("$class") if isinstance(entry, dict) else None
            cls = self.codec.identity_by_name.get(name) if isinstance(name, str) else None
            if cls is None:
                raise GraphError(f"objects[{number}]: not an object of a known class ({name!r})")
            self.objects.append(cls.__new__(cls))
        for number, entry in enumerate(table):
            self._fill(number, self.objects[number], entry)
        try:
            return self.value(data["root"])
        except GraphError as error:
            raise GraphError(f"root: {error}") from error

    def _fill(self, number: int, obj: Any, entry: dict[str, Any]) -> None:
        cls = type(obj)
        where = f"objects[{number}] ({cls.__name__})"
        state = {}
        value = self.value
        for name, item in entry.items():
            if name == "$class":
                continue
            try:
                state[name] = item if type(item) in SCALARS else value(item)
            except GraphError as error:
                raise GraphError(f"{where}.{name}: {error}") from error
        slots = slot_names(cls)
        if slots is not None:
            if len(state) != len(slots) or set(state) != set(slots):
                missing, unknown = sorted(set(slots) - set(state)), sorted(set(state) - set(slots))
                raise GraphError(f"{where}: " + "; ".join(_listed(missing, "missing") + _listed(unknown, "unknown")))
            for name, item in state.items():
                setattr(obj, name, item)
            return
        if any(not name.isidentifier() or name.startswith("__") for name in state):
            raise GraphError(f"{where}: an attribute name that is not one")
        if "__setstate__" in vars(cls):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)

    def value(self, item: Any) -> Any:
        kind = type(item)
        if kind in SCALARS or kind is float:
            return item
        if kind is list:
            value = self.value
            return [element if type(element) in SCALARS else value(element) for element in item]
        if kind is not dict:
            raise GraphError(f"{kind.__name__} is not a JSON value")
        tag = next((key for key in item if key[:1] == "$"), None)
        if tag is None:
            value = self.value
            return {key: element if type(element) in SCALARS else value(element) for key, element in item.items()}
        if tag == "$ref":
            body = item[tag]
            if type(body) is not int or not 0 <= body < len(self.objects):
                raise GraphError(f"no object number {body!r}")
            return self.objects[body]
        try:
            return self._tagged(tag, item[tag], item)
        except GraphError:
            raise
        except (TypeError, ValueError, KeyError, LookupError) as error:
            raise GraphError(f"a bad {tag} ({type(error).__name__}: {error})") from error

    def _tagged(self, tag: str, body: Any, item: dict[str, Any]) -> Any:
        if tag == "$tuple":
            return tuple(self.value(element) for element in _list(body))
        if tag == "$dict":
            return {self._key(key): self.value(element) for key, element in _pairs(body)}
        if tag == "$counter":
            return Counter({self._key(key): int(count) for key, count in _pairs(body)})
        if tag == "$deque":
            return deque((self.value(element) for element in _list(body)), item.get("maxlen"))
        if tag == "$set":
            return {self._key(element) for element in _list(body)}
        if tag == "$float":
            if body not in ("inf", "-inf", "nan"):
                raise GraphError(f"{body!r} is not inf, -inf or nan")
            return float(body)
        if tag == "$random":
            version, internal, gauss = body
            rng = random.Random()
            rng.setstate((version, tuple(internal), gauss))
            return rng
        if tag == "$enum":
            enum = self.codec.enums_by_name.get(body)
            if enum is None:
                raise GraphError(f"no enumeration {body!r}")
            return enum(item.get("value"))
        if tag == "$constant":
            if body not in self.codec.constants:
                raise GraphError(f"no constant kind {body!r}")
            return self.codec.constants[body][2](self.value(item.get("key")))
        if tag == "$value":
            cls = self.codec.values_by_name.get(body)
            if cls is None:
                raise GraphError(f"no value class {body!r}")
            return cls(**{key: self.value(element) for key, element in item.items() if key != tag})
        raise GraphError(f"unknown tag {tag!r}")

    def _key(self, key: Any) -> Any:
        value = self.value(key)
        hash(value)  # a TypeError here is a bad document: reported by the caller
        return value


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise TypeError(f"expected a list, not {type(body).__name__}")
    return body


def _pairs(body: Any) -> list[tuple[Any, Any]]:
    pairs = _list(body)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise TypeError("expected a list of [key, value] pairs")
    return [(key, value) for key, value in pairs]


def _listed(names: list[str], label: str) -> list[str]:
    return [f"{label} {', '.join(names)}"] if names else []
