"""Frozen records behave as the frozen dataclasses they replace (:mod:`muletui.record`)."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
from typing import ClassVar

import pytest

from muletui.record import field, fields, record, replace

_ticks = itertools.count(1)


@record
class Base:
    kind: ClassVar[str] = "base"
    t: int = field(default_factory=lambda: next(_ticks), kw_only=True)


@record
class Point(Base):
    x: int
    y: int = 0


@dataclasses.dataclass(frozen=True)
class DataBase:
    kind: ClassVar[str] = "base"
    t: int = dataclasses.field(default_factory=lambda: 0, kw_only=True)


@dataclasses.dataclass(frozen=True)
class DataPoint(DataBase):
    x: int
    y: int = 0


def test_a_record_is_built_read_compared_and_shown_as_the_frozen_dataclass():
    made, twin = Point(1, t=7), DataPoint(1, t=7)
    assert (made.x, made.y, made.t) == (twin.x, twin.y, twin.t)
    assert repr(made) == repr(twin).replace("DataPoint", "Point")
    assert [f.name for f in fields(made)] == [f.name for f in dataclasses.fields(twin)]
    assert Point.__match_args__ == DataPoint.__match_args__ == ("x", "y")
    assert made == Point(1, 0, t=7) and made != Point(1, 0, t=8) and hash(made) == hash(Point(1, t=7))
    assert Point.kind == "base" and not hasattr(Base, "t")
    assert Point(2).t < Point(2).t  # the factory runs at each construction
    assert pickle.loads(pickle.dumps(made)) == made


def test_a_record_refuses_what_the_frozen_dataclass_refuses():
    made = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.x  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Bad:
            a: int = 0
            b: int


@record(frozen=False)
class Tally:
    name: str
    items: list[int] = field(default_factory=list)


@dataclasses.dataclass
class DataTally:
    name: str
    items: list[int] = dataclasses.field(default_factory=list)


@record(frozen=False, eq=False)
class Handle:
    number: int


def test_a_record_that_is_not_frozen_changes_and_compares_as_a_plain_dataclass():
    made, twin = Tally("a"), DataTally("a")
    made.items.append(1)
    twin.items.append(1)
    made.name, twin.name = "b", "b"
    assert repr(made) == repr(twin).replace("DataTally", "Tally")
    assert made == Tally("b", [1]) and made != Tally("b")
    assert Tally("b").items is not Tally("b").items
    assert Tally.__hash__ is DataTally.__hash__ is None
    del made.items
    assert not hasattr(made, "items")


def test_a_record_without_eq_is_equal_only_to_itself_and_hashed_by_identity():
    made, same = Handle(1), Handle(1)
    assert made != same and made.__eq__(made) is True
    assert hash(made) == object.__hash__(made)
    made.number = 2
    assert repr(made) == "Handle(number=2)"


def test_replace_copies_a_record_with_some_fields_changed_as_dataclasses_replace():
    made = Point(1, 2, t=7)
    assert replace(made, y=5) == Point(1, 5, t=7) and made.y == 2
    assert replace(made, y=5).__dict__ == dataclasses.replace(DataPoint(1, 2, t=7), y=5).__dict__
    assert replace(made, t=8).t == 8 and replace(made) == made and replace(made) is not made
    with pytest.raises(TypeError):
        replace(made, z=3)
