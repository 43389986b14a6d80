"""Base model for wire objects.

camelCase on the wire, snake_case in Python, unknown fields kept (newer servers must not
break older clients), read-only, and dict-style access by wire key so code written against
dict-returning clients keeps working (``row["name"]``, ``row.get("promotable")``).
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, Self, TypeVar

import pydantic_core
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel

__all__ = ["WireModel", "parse_rfc3339", "validate_list"]

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


_MISSING = object()
_get = object.__getattribute__
_set = object.__setattr__

W = TypeVar("W", bound="WireModel")


def _private(model: BaseModel) -> dict[str, Any]:
    """The model's private slot, created on first use."""
    private: dict[str, Any] | None = _get(model, "__pydantic_private__")
    if private is None:
        private = {}
        _set(model, "__pydantic_private__", private)
    return private


def _keep_wire(model: WireModel, data: Mapping[str, Any], *, copy: bool = True) -> None:
    """Remember the mapping ``model`` was read from, and so for its nested wire objects."""
    raw = dict(data) if copy or not isinstance(data, dict) else data
    _set(model, "__pydantic_private__", {"_raw": raw, "_wire": None})
    for name, alias in type(model).__wire_nested__:
        value = model.__dict__.get(name)
        source = data.get(alias, data.get(name))
        if isinstance(value, WireModel) and isinstance(source, Mapping):
            _keep_wire(value, source)
        elif isinstance(value, list) and isinstance(source, list):
            for item, item_source in zip(value, source, strict=False):
                if isinstance(item, WireModel) and isinstance(item_source, Mapping):
                    _keep_wire(item, item_source)


def _mentions_wire_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, WireModel):
        return True
    return any(_mentions_wire_model(arg) for arg in typing.get_args(annotation))


@functools.cache
def _list_adapter(model_type: type[W]) -> TypeAdapter[list[W]]:
    return TypeAdapter(list[model_type])  # type: ignore[valid-type]


def validate_list(model_type: type[W], items: Iterable[Any], *, copy: bool = True) -> list[W]:
    """``[model_type.model_validate(item) for item in items]`` in one pass of pydantic-core.

    ``copy=False`` keeps the given dicts themselves, for a caller that owns them (a freshly
    decoded reply) and never changes them.
    """
    data = items if isinstance(items, list) else list(items)
    models = _list_adapter(model_type).validate_python(data)
    for model, item in zip(models, data, strict=True):
        if isinstance(item, Mapping):
            _keep_wire(model, item, copy=copy)
    return models


class WireModel(BaseModel):
    """A read-only wire object with attribute and wire-key access."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        frozen=True,
    )

    # Fields that hold wire objects, as (name, wire key): their mappings are kept too.
    __wire_nested__: ClassVar[tuple[tuple[str, str], ...]] = ()

    # The mapping an object was read from (``_raw``) and the wire dict built from it
    # (``_wire``) live in pydantic's private slot, so copies and pickles carry them.
    # They are neither declared with PrivateAttr nor kept by a wrap validator (nor by an
    # ``__init__`` override): each runs Python for every object pydantic-core builds, which
    # more than doubled the cost of a page of rows. The validate entry points keep them.

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__wire_nested__ = tuple(
            (name, field.alias or name)
            for name, field in cls.model_fields.items()
            if _mentions_wire_model(field.annotation)
        )

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate ``obj``; a mapping is remembered so its wire values come back as sent."""
        model = super().model_validate(obj, **kwargs)
        if isinstance(obj, Mapping):
            _keep_wire(model, obj)
        return model

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate a JSON document; its object is remembered as with :meth:`model_validate`.

        The document is parsed once (in pydantic-core); the object it holds is validated.
        """
        return cls.model_validate(pydantic_core.from_json(json_data), **kwargs)

    def __eq__(self, other: object) -> bool:
        # Fields only: the kept mapping and the lazily built wire dict are caches, and a row
        # must not stop equalling its twin because one of them was indexed.
        if not isinstance(other, BaseModel):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.__dict__ == other.__dict__
            and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    def to_wire(self) -> dict[str, Any]:
        """The object with wire keys; values the server sent are kept as sent."""
        return dict(self._wire_dict())

    def _wire_dict(self) -> dict[str, Any]:
        private = _private(self)
        wire: dict[str, Any] | None = private.get("_wire")
        if wire is None:
            wire = self.model_dump(mode="json", by_alias=True, exclude_none=True)
            for key, value in (private.get("_raw") or {}).items():
                if key in wire:
                    wire[key] = value
            private["_wire"] = wire
        return wire

    def __getitem__(self, key: str) -> Any:
        return self._wire_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style lookup by wire key."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def keys(self) -> Iterator[str]:
        """The wire keys, for code that treated this object as a dict."""
        return iter(self.to_wire())
