"""Records: what ``@dataclass`` gives a class (frozen by default), for a fraction of its cost at
import.

A dataclass writes and compiles its ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` when its class is defined: about half a millisecond a class,
which a module of thirty event kinds pays at every start (the master's, on the way to the first
mule). A :func:`record` class gets generic ``__repr__``, ``__eq__``, ``__hash__`` and frozen
setters, and its ``__init__`` is compiled when the first instance is made, so it is as fast as
a dataclass's afterwards (records such as output lines are made at high rates).
``@record(frozen=False)`` is a plain ``@dataclass`` (its instances can be changed, and with
``__eq__`` they are unhashable), ``@record(eq=False)`` keeps ``object``'s identity ``__eq__``
and ``__hash__``, as a dataclass's ``eq=False`` does.

Supported: fields from annotations (``ClassVar`` ones are not fields), defaults,
``field(default_factory=..., kw_only=True)``, inheritance from other records (a redeclared
field keeps its place), ``__match_args__``; :func:`fields` lists a record's fields, :func:`replace`
copies one with some fields changed.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")
_MISSING: Any = object()


class Field:
    """One field of a record: its default (``_MISSING``: none), or a factory for it."""

    __slots__ = ("default", "default_factory", "kw_only", "name")

    def __init__(
        self, name: str, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None, kw_only: bool = False
    ) -> None:
        self.name, self.default, self.default_factory, self.kw_only = name, default, default_factory, kw_only

    @property
    def optional(self) -> bool:
        """It has a default or a factory."""
        return self.default is not _MISSING or self.default_factory is not None


class _FieldSpec:
    """What :func:`field` leaves in the class body, for :func:`record` to read."""

    __slots__ = ("default_factory", "kw_only")

    def __init__(self, default_factory: Callable[[], Any], kw_only: bool) -> None:
        self.default_factory, self.kw_only = default_factory, kw_only


def field(*, default_factory: Callable[[], _T], kw_only: bool = False) -> _T:
    """A field whose default is ``default_factory()``, called at each construction."""
    spec: Any = _FieldSpec(default_factory, kw_only)
    return spec  # type: ignore[no-any-return]


def fields(instance_or_class: object) -> tuple[Field, ...]:
    """The record's fields, in order of declaration (a base's first)."""
    cls = instance_or_class if isinstance(instance_or_class, type) else type(instance_or_class)
    found: tuple[Field, ...] = cls.__record_fields__  # type: ignore[attr-defined]
    return found


def replace(instance: _T, /, **changes: Any) -> _T:
    """A new record like ``instance`` with ``changes`` to its fields, as ``dataclasses.replace``."""
    values = {f.name: getattr(instance, f.name) for f in fields(instance)}
    return type(instance)(**(values | changes))


@overload
def record(cls: type[_T], /) -> type[_T]: ...


@overload
def record(*, frozen: bool = True, eq: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[_T] | None = None, /, *, frozen: bool = True, eq: bool = True) -> Any:
    """Make ``cls`` a record, frozen unless ``frozen`` is false (see the module's docstring)."""
    if cls is None:
        return lambda cls: _make(cls, frozen=frozen, eq=eq)
    return _make(cls, frozen=frozen, eq=eq)


def _make(cls: type[_T], *, frozen: bool, eq: bool) -> type[_T]:
    declared: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for inherited in base.__dict__.get("__record_fields__", ()):
            declared[inherited.name] = inherited
    for name, annotation in inspect.get_annotations(cls).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, _MISSING)
        if isinstance(value, _FieldSpec):
            declared[name] = Field(name, default_factory=value.default_factory, kw_only=value.kw_only)
            delattr(cls, name)  # as a dataclass: no class attribute for a factory's field
        else:
            declared[name] = Field(name, value)
    positional = [f for f in declared.values() if not f.kw_only]
    for before, after in itertools.pairwise(positional):
        if before.optional and not after.optional:
            raise TypeError(f"non-default argument {after.name!r} follows default argument")
    type.__setattr__(cls, "__record_fields__", tuple(declared.values()))
    type.__setattr__(cls, "__match_args__", tuple(f.name for f in positional))
    type.__setattr__(cls, "__init__", _first_init)
    methods: dict[str, Any] = {"__repr__": _repr}
    if eq:
        methods |= {"__eq__": _eq, "__hash__": _hash if frozen else None}
    if frozen:
        methods |= {"__setattr__": _setattr, "__delattr__": _delattr}
    for name, method in methods.items():
        if name not in cls.__dict__:
            type.__setattr__(cls, name, method)
    return cls


def _first_init(self: object, *args: object, **kwargs: object) -> None:
    """Compile the class's ``__init__`` (once), then run it."""
    cls = type(self)
    init = _compile_init(cls)
    type.__setattr__(cls, "__init__", init)
    init(self, *args, **kwargs)


def _compile_init(cls: type) -> Callable[..., None]:
    """``__init__`` for ``cls``'s fields, written out as a dataclass's is."""
    scope: dict[str, Any] = {"_MISSING": _MISSING}
    parameters: list[str] = []
    body: list[str] = []
    ordered = sorted(fields(cls), key=lambda f: f.kw_only)  # stable: declaration order otherwise
    for f in ordered:
        if f.kw_only and "*" not in parameters:
            parameters.append("*")
        if f.default_factory is not None:
            scope[f"_factory_{f.name}"] = f.default_factory
            parameters.append(f"{f.name}=_MISSING")
            body.append(f"    _dict[{f.name!r}] = _factory_{f.name}() if {f.name} is _MISSING else {f.name}")
        else:
            if f.default is not _MISSING:
                scope[f"_default_{f.name}"] = f.default
                parameters.append(f"{f.name}=_default_{f.name}")
            else:
                parameters.append(f.name)
            body.append(f"    _dict[{f.name!r}] = {f.name}")
    source = f"def __init__(self, {', '.join(parameters)}):\n    _dict = self.__dict__\n" + "\n".join(body or ["    pass"])
    exec(source, scope)  # noqa: S102 - the source is built from field names only
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _values(self: object) -> tuple[object, ...]:
    return tuple(getattr(self, f.name) for f in fields(self))


def _repr(self: object) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
    return f"{type(self).__qualname__}({shown})"


def _eq(self: object, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: object) -> int:
    return hash(_values(self))


def _setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")
