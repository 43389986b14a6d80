"""The ``filter`` of a list request: a conjunction of comparisons (a subset of AIP-160).

``snapshot.base_model="accounts/fireworks/models/x" AND latest_validated=true`` keeps the
resources whose fields match every comparison. A field is a dotted snake_case path into the
resource's camelCase JSON; the value is a quoted string, ``true``/``false`` or a number;
the operators are ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``. A field the resource does not
have matches only ``!=``. Anything else is a 400, never a filter silently ignored.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .wire import ApiError

__all__ = ["Comparison", "matches", "parse_filter"]

_COMPARISON = re.compile(
    r'([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\s*(!=|<=|>=|=|<|>)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)'
)
_AND = re.compile(r"\s+AND\s+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MISSING = object()


@dataclass(frozen=True)
class Comparison:
    """``path op value``: ``path`` holds the camelCase keys to follow."""

    path: tuple[str, ...]
    op: str
    value: str | bool | int | float


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def _literal(text: str, expression: str) -> str | bool | int | float:
    if text.startswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    raise ApiError(400, f"invalid filter {expression!r}: cannot read the value {text!r}")


def parse_filter(expression: str | None) -> list[Comparison]:
    """The comparisons of ``expression`` (none for an empty one); a 400 when unreadable."""
    text = (expression or "").strip()
    comparisons: list[Comparison] = []
    position = 0
    while position < len(text):
        found = _COMPARISON.match(text, position)
        joined = _AND.match(text, found.end()) if found else None
        if found is None or (joined is None and found.end() < len(text)):
            raise ApiError(
                400,
                f"invalid filter {expression!r}: expected comparisons joined by AND, "
                "such as latest_validated=true",
            )
        field, op, raw = found.groups()
        path = tuple(_camel(step) for step in field.split("."))
        comparisons.append(Comparison(path, op, _literal(raw, text)))
        position = joined.end() if joined else found.end()
    return comparisons


def _field(resource: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = resource
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _compare(actual: Any, wanted: Comparison) -> bool:
    if actual is _MISSING:
        return wanted.op == "!="
    if isinstance(wanted.value, bool) or isinstance(actual, bool):
        same_kind = isinstance(actual, bool) and isinstance(wanted.value, bool)
    elif isinstance(wanted.value, int | float):
        try:  # an int64 travels as a decimal string
            actual = float(actual)
        except (TypeError, ValueError):
            return wanted.op == "!="
        same_kind = True
    else:
        same_kind = isinstance(actual, str)
    if not same_kind:
        return wanted.op == "!="
    return _OPERATORS[wanted.op](actual, wanted.value)


def matches(resource: Mapping[str, Any], comparisons: list[Comparison]) -> bool:
    """Whether ``resource`` satisfies every comparison."""
    return all(_compare(_field(resource, c.path), c) for c in comparisons)
