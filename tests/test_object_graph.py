"""The object graph behind the fleet's saved state: kinds kept, sharing kept, nothing built but the named classes."""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from dataclasses import dataclass
from enum import StrEnum

import pytest

from cwsim.simulator.object_graph import Codec, GraphError


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Size:
    width: int
    height: float


class Node:
    __slots__ = ("name", "partner", "things")

    def __init__(self, name: str) -> None:
        self.name = name
        self.partner: Node | None = None
        self.things: dict = {}


class Bag:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.rng = random.Random(4)


CODEC = Codec(identity=(Node, Bag), values=(Size,), enums=(Colour,))


def round_trip(root: object) -> object:
    return CODEC.decode(json.loads(json.dumps(CODEC.encode(root))))


def test_shared_and_cyclic_objects_come_back_shared() -> None:
    bag, first, second = Bag(), Node("a"), Node("b")
    first.partner, second.partner = second, first
    bag.nodes = [first, second, first]
    again = round_trip(bag)
    assert isinstance(again, Bag)
    a, b, a_again = again.nodes
    assert a is a_again and a.partner is b and b.partner is a and (a.name, b.name) == ("a", "b")


def test_every_kind_of_value_keeps_its_kind() -> None:
    node = Node("x")
    node.things = {
        (1, "t"): {"a", "b"},
        "counts": Counter({("raise", "x"): 2}),
        "tail": deque([1, 2], maxlen=5),
        "never": float("-inf"),
        "colour": Colour.RED,
        "size": Size(3, 1.5),
        7: None,
        "$odd": 1,
    }
    again = round_trip(node)
    assert again.things == node.things
    assert type(again.things["tail"]) is deque and again.things["tail"].maxlen == 5
    assert type(again.things["colour"]) is Colour and type(again.things["counts"]) is Counter


def test_a_random_generator_goes_on_with_the_same_draws() -> None:
    bag = Bag()
    bag.rng.random()
    again = round_trip(bag)
    assert [again.rng.random() for _ in range(5)] == [bag.rng.random() for _ in range(5)]


def test_the_same_graph_is_written_the_same_however_its_attributes_were_ordered() -> None:
    bag = Bag()
    reordered = Bag.__new__(Bag)
    reordered.rng, reordered.nodes = random.Random(4), []
    assert CODEC.encode(bag) == CODEC.encode(reordered)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"objects": [{"$class": "Popen"}], "root": None}, "not an object of a known class ('Popen')"),
        ({"objects": [{"$class": "Node", "name": "x", "partner": None}], "root": None}, "missing things"),
        ({"objects": [], "root": {"$ref": 3}}, "no object number 3"),
        ({"objects": [], "root": {"$import": "os"}}, "unknown tag '$import'"),
        ({"objects": [], "root": {"$value": "Popen"}}, "no value class 'Popen'"),
        ({"objects": [], "root": {"$dict": [[[1], 2]]}}, "a bad $dict"),
        ({"objects": [], "root": {"$float": "1e999"}}, "is not inf, -inf or nan"),
        ([], 'must be an object with "objects"'),
    ],
)
def test_a_document_that_is_not_such_a_graph_is_refused_saying_where(document: object, expected: str) -> None:
    with pytest.raises(GraphError) as caught:
        CODEC.decode(document)
    assert expected in str(caught.value)


def test_a_class_it_was_not_told_about_cannot_be_written() -> None:
    with pytest.raises(TypeError, match="cannot write a object"):
        CODEC.encode({"x": object()})
