"""Recognising legacy promote calls: which argument binds which parameter, what is pure.

A call is legacy when it is an attribute call of ``promote_checkpoint`` (or
``begin_promote_checkpoint``) without ``name=`` whose arguments bind ``job_id``,
``checkpoint_id`` and ``output_model_id`` of the signature
``(job_id, checkpoint_id, output_model_id, base_model, *, ...)``. Calls that cannot bind
(too few or too many positionals, a parameter given twice) belong to some other API and are
ignored; calls with ``*args`` or ``**kwargs`` cannot be read and are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

__all__ = [
    "LEGACY_PARAMS",
    "METHODS",
    "LegacyCall",
    "Refusal",
    "classify",
    "is_pure",
    "name_field",
    "row_name_of",
    "source_of",
]

LEGACY_PARAMS = ("job_id", "checkpoint_id", "output_model_id", "base_model")
METHODS = frozenset({"promote_checkpoint", "begin_promote_checkpoint"})
_REQUIRED = frozenset({"job_id", "checkpoint_id", "output_model_id"})
_EMPTY_MODULE = cst.Module(body=[])


@dataclass(frozen=True)
class LegacyCall:
    """A legacy call: its receiver, method, and the index in ``args`` of each parameter."""

    receiver: cst.BaseExpression
    method: str
    slots: dict[str, int]

    def value(self, call: cst.Call, param: str) -> cst.BaseExpression:
        """The expression passed for ``param``."""
        return call.args[self.slots[param]].value


@dataclass(frozen=True)
class Refusal:
    """A legacy call (or one that may be) that cannot be rewritten safely, and why."""

    method: str
    reason: str


def source_of(node: cst.CSTNode) -> str:
    """The source text of one node."""
    return _EMPTY_MODULE.code_for_node(node)


def classify(call: cst.Call) -> LegacyCall | Refusal | None:
    """The legacy call ``call`` is, a refusal, or ``None`` when it is not a legacy call."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in METHODS:
        return None
    method = func.attr.value
    if any(arg.keyword is not None and arg.keyword.value == "name" for arg in call.args):
        return None  # already migrated
    starred = [arg for arg in call.args if arg.star]
    if starred:
        hidden = ", ".join(f"{arg.star}{source_of(arg.value)}" for arg in starred)
        return Refusal(method, f"cannot see which parameters {hidden} passes")
    slots = _bind(call.args)
    if slots is None or not slots.keys() >= _REQUIRED:
        return None
    return LegacyCall(func.value, method, slots)


def _bind(args: Sequence[cst.Arg]) -> dict[str, int] | None:
    slots: dict[str, int] = {}
    for index, arg in enumerate(args):
        if arg.keyword is None:
            if index >= len(LEGACY_PARAMS):
                return None
            param = LEGACY_PARAMS[index]
        else:
            param = arg.keyword.value
            if param not in LEGACY_PARAMS:
                continue
        if param in slots:
            return None
        slots[param] = index
    return slots


def is_pure(node: cst.BaseExpression) -> bool:
    """Whether evaluating ``node`` twice, later, or not at all cannot change behaviour.

    Names, attribute chains, literals, subscripts and operators over those; never a call.
    """
    match node:
        case cst.Name() | cst.BaseNumber() | cst.SimpleString() | cst.Ellipsis():
            return True
        case cst.Attribute(value=value):
            return is_pure(value)
        case cst.Subscript(value=value, slice=elements):
            return is_pure(value) and all(_pure_element(e) for e in elements)
        case cst.ConcatenatedString(left=left, right=right):
            return is_pure(left) and is_pure(right)
        case cst.FormattedString(parts=parts):
            return all(_pure_part(part) for part in parts)
        case cst.UnaryOperation(expression=operand):
            return is_pure(operand)
        case cst.BinaryOperation(left=left, right=right):
            return is_pure(left) and is_pure(right)
    return False


def _pure_part(part: cst.BaseFormattedStringContent) -> bool:
    if isinstance(part, cst.FormattedStringExpression):
        return is_pure(part.expression) and (
            part.format_spec is None or all(_pure_part(p) for p in part.format_spec)
        )
    return True


def _pure_element(element: cst.SubscriptElement) -> bool:
    return isinstance(element.slice, cst.Index) and is_pure(element.slice.value)


def name_field(node: cst.BaseExpression) -> bool:
    """Whether ``node`` reads the ``"name"`` key: ``row["name"]``."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return False
    index = node.slice[0].slice
    return (
        isinstance(index, cst.Index)
        and isinstance(index.value, cst.SimpleString)
        and index.value.evaluated_value == "name"
    )


def row_name_of(checkpoint_id: cst.BaseExpression) -> cst.BaseExpression | None:
    """``row["name"]`` when ``checkpoint_id`` is ``row["name"].split("/")[-1]`` (or rsplit).

    That idiom cuts the checkpoint id out of a ``list_checkpoints`` row's full name, so the
    full name can be passed as ``name=`` directly.
    """
    if not isinstance(checkpoint_id, cst.Subscript) or not _is_last_index(checkpoint_id):
        return None
    split = checkpoint_id.value
    if not (
        isinstance(split, cst.Call)
        and isinstance(split.func, cst.Attribute)
        and split.func.attr.value in ("split", "rsplit")
        and split.args
        and split.args[0].keyword is None
        and not split.args[0].star
        and isinstance(split.args[0].value, cst.SimpleString)
        and split.args[0].value.evaluated_value == "/"
    ):
        return None
    row_name = split.func.value
    if name_field(row_name) and is_pure(row_name):
        return row_name
    return None


def _is_last_index(node: cst.Subscript) -> bool:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return False
    index = node.slice[0].slice.value
    return (
        isinstance(index, cst.UnaryOperation)
        and isinstance(index.operator, cst.Minus)
        and isinstance(index.expression, cst.Integer)
        and index.expression.evaluated_value == 1
    )
