"""Rewriting one legacy call to the ``name=`` form, or refusing when that is not safe.

``x.promote_checkpoint(job, ckpt, out, base)`` becomes
``x.promote_checkpoint(name=x.checkpoint_name(job, ckpt), output_model_id=out,
base_model=base)``. The ``name=`` argument takes the place of the first of ``job_id`` and
``checkpoint_id``; every other argument keeps its place, spelling and comments, positionals
becoming keywords. When ``checkpoint_id`` is ``row["name"].split("/")[-1]`` the row's full
name is passed directly, ``name=row["name"]``: this assumes the row was listed from the job
passed as ``job_id`` (the report notes it), as the idiom only makes sense then.

Refused (reported, left untouched), because the rewrite could change behaviour:
- a receiver that is not pure (``get_client().promote_checkpoint(...)``): ``checkpoint_name``
  needs the receiver a second time, and evaluating it twice could run a call twice;
- moving an argument with side effects across another one with side effects (Python
  evaluates arguments left to right);
- a call in async code that is not directly awaited: the async client's ``checkpoint_name``
  is a coroutine, and only ``await x.promote_checkpoint(...)`` shows the client is async
  (then the rewrite is ``name=await x.checkpoint_name(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .calls import LegacyCall, Refusal, is_pure, name_field, row_name_of, source_of
from .layout import as_keyword, drop_arg

__all__ = ["Context", "Rewrite", "rewrite"]


@dataclass(frozen=True)
class Context:
    """Where the call stands: directly awaited, or in code that may run it as a coroutine."""

    awaited: bool = False
    async_code: bool = False


@dataclass(frozen=True)
class Rewrite:
    """The rewritten call and what the report should say about it."""

    call: cst.Call
    name: str
    notes: tuple[str, ...] = ()


def rewrite(call: cst.Call, legacy: LegacyCall, context: Context) -> Rewrite | Refusal:
    """``call`` in the ``name=`` form, or why it cannot be rewritten safely."""
    job = legacy.value(call, "job_id")
    row_name = row_name_of(legacy.value(call, "checkpoint_id"))
    if row_name is not None and is_pure(job):
        note = f"name={source_of(row_name)} names the row's own job, assumed to be {source_of(job)}"
        return _apply(call, legacy, row_name.deep_clone(), (note,))
    refusal = _refusal(call, legacy, context)
    if refusal is not None:
        return Refusal(legacy.method, refusal)
    name: cst.BaseExpression = cst.Call(
        func=cst.Attribute(value=legacy.receiver.deep_clone(), attr=cst.Name("checkpoint_name")),
        args=[
            cst.Arg(job, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            cst.Arg(legacy.value(call, "checkpoint_id")),
        ],
    )
    if context.awaited:
        name = cst.Await(name)
    return _apply(call, legacy, name, _notes(call, legacy))


def _refusal(call: cst.Call, legacy: LegacyCall, context: Context) -> str | None:
    if context.async_code and not context.awaited:
        return (
            "in async code only `await x.promote_checkpoint(...)` is rewritten "
            "(the async client's checkpoint_name must be awaited too)"
        )
    if not is_pure(legacy.receiver):
        return (
            f"the receiver {source_of(legacy.receiver)} would be evaluated twice; "
            "bind it to a variable first"
        )
    if _reorders_side_effects(call, legacy):
        return "rewriting would change the order in which the arguments are evaluated"
    return None


def _reorders_side_effects(call: cst.Call, legacy: LegacyCall) -> bool:
    """Whether the rewrite moves an impure argument across another impure one.

    The later of ``job_id`` and ``checkpoint_id`` moves to the earlier one's place, and
    ``checkpoint_name(job, ckpt)`` evaluates the job first.
    """
    job, checkpoint = legacy.slots["job_id"], legacy.slots["checkpoint_id"]
    first, later = min(job, checkpoint), max(job, checkpoint)
    passed = [call.args[i].value for i in range(first + 1, later)]
    if later == job:
        passed.append(call.args[checkpoint].value)
    return not is_pure(call.args[later].value) and not all(is_pure(v) for v in passed)


def _apply(
    call: cst.Call, legacy: LegacyCall, name: cst.BaseExpression, notes: tuple[str, ...]
) -> Rewrite:
    job, checkpoint = legacy.slots["job_id"], legacy.slots["checkpoint_id"]
    first, later = min(job, checkpoint), max(job, checkpoint)
    args = list(call.args)
    args[first] = as_keyword(args[first], "name").with_changes(value=name)
    for param in ("output_model_id", "base_model"):
        index = legacy.slots.get(param)
        if index is not None and args[index].keyword is None:
            args[index] = as_keyword(args[index], param)
    new_call = call.with_changes(args=drop_arg(args, later))
    return Rewrite(new_call, source_of(name), notes)


def _notes(call: cst.Call, legacy: LegacyCall) -> tuple[str, ...]:
    checkpoint = legacy.value(call, "checkpoint_id")
    if not name_field(checkpoint):
        return ()
    text = source_of(checkpoint)
    return (
        f"checkpoint_id was {text}: if that is a list_checkpoints row's full name, "
        f"pass name={text} instead (checkpoint_name expects the short id)",
    )
