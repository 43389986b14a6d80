"""Base model for wire objects.

camelCase on the wire, snake_case in Python, unknown fields kept (newer servers must not
break older clients), read-only, and dict-style access by wire key so code written against
dict-returning clients keeps working (``row["name"]``, ``row.get("promotable")``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from pydantic.alias_generators import to_camel

__all__ = ["WireModel", "parse_rfc3339"]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp of any sub-second precision into an aware datetime.

    Fractions beyond microseconds (the service sends nanoseconds at times) are truncated.
    """
    match = _RFC3339.match(value.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
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


class WireModel(BaseModel):
    """A read-only wire object with attribute and wire-key access."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        frozen=True,
    )

    _raw: dict[str, Any] | None = PrivateAttr(default=None)
    _wire: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_wire(cls, data: Any, handler: Any) -> Any:
        obj = handler(data)
        if isinstance(data, Mapping) and isinstance(obj, WireModel):
            obj._raw = dict(data)
        return obj

    def to_wire(self) -> dict[str, Any]:
        """The object with wire keys; values the server sent are kept as sent."""
        if self._wire is None:
            wire = self.model_dump(mode="json", by_alias=True, exclude_none=True)
            for key, value in (self._raw or {}).items():
                if key in wire:
                    wire[key] = value
            self._wire = wire
        return dict(self._wire)

    def __getitem__(self, key: str) -> Any:
        self.to_wire()
        assert self._wire is not None
        return self._wire[key]

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
