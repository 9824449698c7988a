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


def attributes(obj: Any) -> dict[str, Any]:
    """What an object holds: its `__getstate__()` when its class defines one, else its slots or `__dict__`."""
    cls = type(obj)
    if "__getstate__" in vars(cls):
        return dict(obj.__getstate__())
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    names = [name for klass in cls.__mro__ for name in vars(klass).get("__slots__", ())]
    return {name: getattr(obj, name) for name in names if hasattr(obj, name)}


def slot_names(cls: type) -> set[str] | None:
    """Every slot of `cls` (None when its instances have a `__dict__`)."""
    names = {name for klass in cls.__mro__ for name in vars(klass).get("__slots__", ())}
    return None if "__dict__" in names or not hasattr(cls, "__slots__") else names


class _Encoder:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.numbers: dict[int, int] = {}
        self.pending: list[Any] = []
        self.table: list[Any] = []

    def run(self, root: Any) -> dict[str, Any]:
        encoded_root = self.value(root)
        while len(self.table) < len(self.pending):
            obj = self.pending[len(self.table)]
            self.table.append(None)  # its place; filled once its attributes are written
            entry = {"$class": type(obj).__name__}
            # by name, so the same graph is numbered the same however its attributes were ordered
            entry.update({name: self.value(item) for name, item in sorted(attributes(obj).items())})
            self.table[self.numbers[id(obj)]] = entry
        return {"objects": self.table, "root": encoded_root}

    def value(self, item: Any) -> Any:
        codec = self.codec
        kind = type(item)
        if item is None or kind in (bool, int, str):
            return item
        if kind is float:
            return item if math.isfinite(item) else {"$float": repr(item)}
        if kind is list:
            return [self.value(element) for element in item]
        if kind is dict:
            plain = {}
            for key, element in item.items():
                if type(key) is not str or key[:1] == "$":
                    return {"$dict": [[self.value(key), self.value(element)] for key, element in item.items()]}
                plain[key] = self.value(element)
            return plain
        if kind is tuple:
            return {"$tuple": [self.value(element) for element in item]}
        if kind in codec.identity_by_name.values():
            number = self.numbers.get(id(item))
            if number is None:
                number = self.numbers[id(item)] = len(self.pending)
                self.pending.append(item)
            return {"$ref": number}
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
            return {"$deque": [self.value(element) for element in item], "maxlen": item.maxlen}
        if kind in (set, frozenset):
            return {"$set": [self.value(element) for element in item]}
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
        return self.value(data["root"], "root")

    def _fill(self, number: int, obj: Any, entry: dict[str, Any]) -> None:
        cls = type(obj)
        where = f"objects[{number}] ({cls.__name__})"
        state = {name: self.value(item, f"{where}.{name}") for name, item in entry.items() if name != "$class"}
        slots = slot_names(cls)
        if slots is not None and set(state) != slots:
            missing, unknown = sorted(slots - set(state)), sorted(set(state) - slots)
            raise GraphError(f"{where}: " + "; ".join(_listed(missing, "missing") + _listed(unknown, "unknown")))
        if any(not name.isidentifier() or name.startswith("__") for name in state):
            raise GraphError(f"{where}: an attribute name that is not one")
        if "__setstate__" in vars(cls):
            obj.__setstate__(state)
        elif slots is None:
            obj.__dict__.update(state)
        else:
            for name, item in state.items():
                setattr(obj, name, item)

    def value(self, item: Any, where: str) -> Any:
        if item is None or type(item) in (bool, int, float, str):
            return item
        if isinstance(item, list):
            return [self.value(element, where) for element in item]
        if not isinstance(item, dict):
            raise GraphError(f"{where}: {type(item).__name__} is not a JSON value")
        tags = [key for key in item if key.startswith("$")]
        if not tags:
            return {key: self.value(element, f"{where}.{key}") for key, element in item.items()}
        tag = tags[0]
        body = item[tag]
        try:
            if tag == "$ref":
                if type(body) is not int or not 0 <= body < len(self.objects):
                    raise GraphError(f"{where}: no object number {body!r}")
                return self.objects[body]
            if tag == "$tuple":
                return tuple(self.value(element, where) for element in _list(body))
            if tag == "$dict":
                return {self._key(key, where): self.value(element, where) for key, element in _pairs(body)}
            if tag == "$counter":
                return Counter({self._key(key, where): int(count) for key, count in _pairs(body)})
            if tag == "$deque":
                return deque((self.value(element, where) for element in _list(body)), item.get("maxlen"))
            if tag == "$set":
                return {self._key(element, where) for element in _list(body)}
            if tag == "$float":
                if body not in ("inf", "-inf", "nan"):
                    raise GraphError(f"{where}: {body!r} is not inf, -inf or nan")
                return float(body)
            if tag == "$random":
                version, internal, gauss = body
                rng = random.Random()
                rng.setstate((version, tuple(internal), gauss))
                return rng
            if tag == "$enum":
                enum = self.codec.enums_by_name.get(body)
                if enum is None:
                    raise GraphError(f"{where}: no enumeration {body!r}")
                return enum(item.get("value"))
            if tag == "$constant":
                if body not in self.codec.constants:
                    raise GraphError(f"{where}: no constant kind {body!r}")
                return self.codec.constants[body][2](self.value(item.get("key"), where))
            if tag == "$value":
                cls = self.codec.values_by_name.get(body)
                if cls is None:
                    raise GraphError(f"{where}: no value class {body!r}")
                fields = {key: self.value(element, f"{where}.{key}") for key, element in item.items() if key != tag}
                return cls(**fields)
        except GraphError:
            raise
        except (TypeError, ValueError, KeyError, LookupError) as error:
            raise GraphError(f"{where}: a bad {tag} ({type(error).__name__}: {error})") from error
        raise GraphError(f"{where}: unknown tag {tag!r}")

    def _key(self, key: Any, where: str) -> Any:
        value = self.value(key, where)
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
