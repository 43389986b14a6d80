"""One ledger record: a saved checkpoint, as one JSON line (local) or one object (remote).

Reading is lenient and field by field: a record whose identity (``name``, ``source_job_id``)
does not hold is skipped; a value field that does not hold is dropped; either way with a
:class:`LedgerWarning`. A record of a newer ``schema`` is read for the fields it shares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from ...errors import InvalidArgumentError
from ..names import TrainerJobName, check_checkpoint_name

__all__ = [
    "SCHEMA",
    "LedgerRecord",
    "LedgerWarning",
    "parse_record",
    "plain_extra",
]

SCHEMA = 1
"""The version written in the ``schema`` field of new records."""


class LedgerWarning(UserWarning):
    """A ledger record could not be read, or a resume had to guess what the records lack."""


class LedgerRecord(BaseModel):
    """One saved checkpoint; unknown keys of existing records are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    step: int | None = None
    data_consumed: int | None = None
    state_path: str | None = None
    sampler_path: str | None = None
    source_job_id: str | None = None
    base_model: str | None = None
    schema_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as its JSON object (``schema_version`` is written as ``schema``)."""
        data = self.model_dump(mode="json", exclude_none=True)
        version = data.pop("schema_version", None)
        if version is not None:
            data["schema"] = version
        return data

    def to_line(self) -> bytes:
        """The record as one JSON line, newline included."""
        return (json.dumps(self.to_json(), separators=(", ", ": ")) + "\n").encode()


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("an int >= 0")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value or "\x00" in value:
        raise ValueError("a non-empty one-line string")
    return value


def _job_id(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a trainer job id")
    TrainerJobName("a", value)  # validates the id alone
    return value


def _snapshot(value: object) -> str:
    check_checkpoint_name(value)
    assert isinstance(value, str)
    return value


# Each known field and its check; the first two identify the record.
_IDENTITY: dict[str, Callable[[object], object]] = {
    "name": _snapshot,
    "source_job_id": _job_id,
}
_VALUES: dict[str, Callable[[object], object]] = {
    "step": _count,
    "data_consumed": _count,
    "state_path": _text,  # shown, never loaded: resume loads what the server lists
    "sampler_path": _snapshot,
    "base_model": _text,
    "schema": _count,
}


def parse_record(data: object) -> tuple[LedgerRecord | None, list[str]]:
    """The record in a decoded JSON value, and what was wrong with it.

    ``(None, problems)`` when it cannot identify a checkpoint; else the record with every
    value that did not hold left out, each named in ``problems``.
    """
    if not isinstance(data, Mapping):
        return None, [f"not a JSON object ({type(data).__name__})"]
    if "name" not in data:
        return None, ["no 'name'"]
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        check = _IDENTITY.get(key) or _VALUES.get(key)
        if check is None:
            fields[str(key)] = value
            continue
        if value is None:
            continue
        try:
            check(value)
        except ValueError:
            problems.append(f"{key}={_short(value)} is invalid")
            if key in _IDENTITY:
                return None, problems
            continue
        fields["schema_version" if key == "schema" else key] = value
    return LedgerRecord.model_validate(fields), problems


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def plain_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Extra record fields as plain JSON values: numpy scalars become Python numbers.

    Raises :class:`InvalidArgumentError` naming the first field that is not JSON.
    """
    reserved = set(LedgerRecord.model_fields) | {"schema"}
    plain: dict[str, Any] = {}
    for key, value in extra.items():
        if key in reserved:
            raise InvalidArgumentError(f"extra field {key!r} is a ledger field; rename it")
        try:
            plain[key] = _plain(value)
            json.dumps(plain[key], allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"extra field {key!r} is not JSON-serialisable: {_short(value)} ({exc})"
            ) from None
    return plain


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value
    if _is_numpy_scalar(value):
        number = value.item()
        if isinstance(number, float | int | bool) or number is None:
            return number
        raise TypeError(f"numpy {type(value).__name__} has no JSON form")
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("object keys must be strings")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _is_numpy_scalar(value: object) -> bool:
    """A numpy scalar (``np.float32(1.5)``), recognised without importing numpy."""
    kind = type(value)
    return kind.__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0
