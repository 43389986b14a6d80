"""Wire objects: real dicts holding the JSON as the server sent it, with typed views on top.

A :class:`WireObject` *is* the decoded JSON object (``isinstance(row, dict)``, ``json.dumps``,
``row["createTime"]``, ``{**row}``, ``row == wire_dict``), as the official client returns it.
Typed properties (``row.create_time``, ``row.checkpoint_type``, ...) are read from the wire
keys on first use and cached until the object is changed. Nothing is validated when an
object is made, so wrapping a page of rows costs a dict copy per row; a malformed value
raises :class:`~fireworks_training.errors.ProtocolError` when a property that needs it is read.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from itertools import repeat
from typing import Any, ClassVar, Generic, Never, Self, TypeVar, overload

from .errors import ProtocolError

__all__ = [
    "WireObject",
    "format_rfc3339",
    "parse_rfc3339",
    "wire_bool",
    "wire_field",
    "wire_int",
    "wire_property",
    "wire_str",
    "wire_time",
]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp of any sub-second precision into an aware datetime.

    Fractions beyond microseconds (the service sends nanoseconds at times) are truncated.
    """
    return _parse_rfc3339(value)


# Cached: a row's createTime and updateTime are often the same string. Results are immutable.
@functools.lru_cache(maxsize=4096)
def _parse_rfc3339(value: str) -> datetime:
    if _plain_utc(value):
        # The shape the service sends, parsed in C; the regex path below gives the same
        # datetime for it (tests/test_models.py holds the two to that).
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # an impossible date or time: the path below raises the usual error
    match = _RFC3339.match(value.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    return _from_fields(match)


def _plain_utc(value: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SS[.f]Z`` with up to 6 fraction digits and an hour other than 24."""
    n = len(value)
    return (
        (n == 20 or (21 < n <= 27 and value[19] == "."))
        and value[-1] == "Z"
        and value[4] == "-"
        and value[7] == "-"
        and value[10] == "T"
        and value[13] == ":"
        and value[16] == ":"
        and value[11:13] != "24"  # newer Pythons read 24:00:00 as the next midnight
    )


def _from_fields(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    micros = int((frac or "0")[:6].ljust(6, "0"))
    if zulu:
        tz: timezone = UTC
    else:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
    )


def format_rfc3339(moment: datetime) -> str:
    """An aware datetime as the service writes it: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime has no place on the wire: {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


T = TypeVar("T")


class _Missing:
    """The type of :data:`_MISSING`: no cached value yet (``None`` is a value)."""


_MISSING = _Missing()


class wire_property(Generic[T]):  # noqa: N801 - used like ``property``
    """A read-only property computed from an object's wire keys, once until it changes."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        # The attribute's own name keys the cache (a ``wire_field`` computes with a closure).
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...

    @overload
    def __get__(self, obj: WireObject, owner: type[Any] | None = None) -> T: ...

    def __get__(self, obj: WireObject | None, owner: type[Any] | None = None) -> Self | T:
        if obj is None:
            return self
        try:
            cache = obj._cache
        except AttributeError:  # made from the wire (``WireObject._wrap``): no cache yet
            cache = obj._cache = {}
        value: T | _Missing = cache.get(self._name, _MISSING)
        if value is _MISSING:
            # Computed outside any except block: a ProtocolError it raises chains nothing.
            value = cache[self._name] = self._compute(obj)
        return value  # type: ignore[return-value]

    def __set__(self, obj: WireObject, value: Never) -> None:
        raise AttributeError(
            f"{self._name} is read from the wire keys; change the key instead (row[key] = ...)"
        )


class WireObject(dict[str, Any]):
    """A JSON object from the wire, unchanged, with typed properties.

    ``WireObject(mapping)`` keeps the keys as given; keyword arguments are snake_case field
    names (``Checkpoint(name=..., checkpoint_type=CheckpointType.TRAINING)``), stored under
    their camelCase wire keys, enums as their values and datetimes as RFC 3339 strings.
    """

    __slots__ = ("_cache",)

    _cache: dict[str, Any]
    # What the object is, for error messages ("checkpoint row", "model", ...).
    WHAT: ClassVar[str] = "object"

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /, **fields: Any):
        super().__init__(data)
        if fields:
            super().update({_wire_key(k): _wire_value(v) for k, v in fields.items()})

    @classmethod
    def _wrap(cls, rows: list[Any]) -> list[Self] | None:
        """``[cls(row) for row in rows]`` at C speed (a listing makes thousands); None when a
        row is not an object with a string ``name``.

        No Python ``__init__`` runs: the cache of typed properties is made on first use.
        """
        if not rows:
            return []
        # Every step is a C loop (map), none a Python frame per row.
        if {*map(type, rows)} != {dict}:
            return None
        if {*map(type, map(dict.get, rows, repeat("name")))} != {str}:
            return None
        items: list[Self] = [*map(dict.__new__, repeat(cls, len(rows)))]
        deque(map(dict.update, items, rows), maxlen=0)
        return items

    def _forget(self) -> None:
        """Drop the typed properties read so far (the keys changed)."""
        with contextlib.suppress(AttributeError):  # none read yet: no cache
            self._cache.clear()

    def __reduce__(self) -> tuple[type[Self], tuple[dict[str, Any]]]:
        # Copies and pickles are made again from the wire keys; the cache is not carried.
        return (type(self), (dict(self),))

    # Any change to the keys drops what was read from them.

    def __setitem__(self, key: str, value: Any) -> None:
        self._forget()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._forget()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self._forget()
        return super().__ior__(other)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``."""
        self._forget()
        super().update(*args, **kwargs)

    def pop(self, *args: Any) -> Any:
        """``dict.pop``."""
        self._forget()
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        """``dict.popitem``."""
        self._forget()
        return super().popitem()

    def clear(self) -> None:
        """``dict.clear``."""
        self._forget()
        super().clear()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``dict.setdefault``."""
        self._forget()
        return super().setdefault(key, default)

    def copy(self) -> Self:
        """A shallow copy of the same type (``dict.copy`` would give a plain dict)."""
        return type(self)(self)

    def to_wire(self) -> dict[str, Any]:
        """A plain ``dict`` copy of the wire keys (shallow)."""
        return dict(self)

    def check(self) -> Self:
        """Read every typed property now; raises :class:`ProtocolError` on a malformed value."""
        for name in _wire_properties(type(self)):
            getattr(self, name)
        return self

    @classmethod
    def model_validate(cls, obj: Mapping[str, Any]) -> Self:
        """``cls(obj).check()``: the eager check of 0.1's pydantic rows, kept for its code."""
        if not isinstance(obj, Mapping):
            raise ProtocolError(f"a {cls.WHAT} must be a JSON object, got {type(obj).__name__}")
        return cls(obj).check()

    def describe(self) -> str:
        """``"<what> <name>"`` for messages."""
        name = super().get("name")
        return f"{self.WHAT} {name!r}" if isinstance(name, str) else f"{self.WHAT} without a name"

    def malformed(self, key: str, expected: str, value: Any) -> ProtocolError:
        """The error for a wire value that is not what the protocol says."""
        return ProtocolError(f"{self.describe()}: {key} must be {expected}, got {value!r:.80}")


@functools.cache
def _wire_properties(cls: type[WireObject]) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            if isinstance(attr, wire_property):
                names[name] = None
    return tuple(names)


def _wire_key(name: str) -> str:
    if "_" not in name.strip("_"):
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _wire_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return format_rfc3339(value)
    return value


def wire_field(read: Callable[[WireObject, str], T], key: str) -> wire_property[T]:
    """A :class:`wire_property` that is ``read(obj, key)``, for a property of one wire key.

    ``base_model = wire_field(wire_str, "baseModel")`` reads as ``str | None``; the docstring
    goes on the line after it.
    """
    field = wire_property(lambda obj: read(obj, key))
    field.__doc__ = f"The ``{key}`` key, typed."  # help(); the docs read the source's
    return field


# Readers of one wire key, for wire_property bodies ----------------------------------------


def wire_str(obj: WireObject, key: str, *, required: bool = False) -> str | None:
    """The string at ``key``; None when absent (a :class:`ProtocolError` when ``required``)."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if value is None and not required:
        return None
    raise obj.malformed(key, "a string", value)


def wire_bool(obj: WireObject, key: str, *, default: bool = False) -> bool:
    """The boolean at ``key``; ``default`` when absent."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    raise obj.malformed(key, "a boolean", value)


def wire_int(obj: WireObject, key: str) -> int | None:
    """The integer at ``key`` (JSON writes int64 as a decimal string); None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise obj.malformed(key, "an integer", value)


_INT_RE = re.compile(r"^-?[0-9]{1,19}\Z")


def wire_time(obj: WireObject, key: str) -> datetime | None:
    """The RFC 3339 timestamp at ``key``, parsed; None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_rfc3339(value)
        except ValueError:
            pass
    raise obj.malformed(key, "an RFC 3339 timestamp", value)
