"""Which row to promote and which to resume from, chosen among a job's listed rows.

Both prefer the highest step (rows without one rank below every ``step-N``), then the newest
parsed ``createTime`` (datetimes, never strings: the service mixes precisions).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ..errors import CheckpointNotFoundError, InvalidArgumentError
from .names import check_checkpoint_name
from .types import Checkpoint, latest_promotable

__all__ = ["check_selection", "latest_resumable", "select_checkpoint"]

_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _rank(row: Checkpoint) -> tuple[bool, int, bool, datetime]:
    step, created = row.step, row.create_time
    known = step is not None
    return (known, step if step is not None else -1, created is not None, created or _NO_TIME)


def latest_resumable(rows: Iterable[Checkpoint]) -> Checkpoint | None:
    """The row resume loads: a training state (``TRAINING``, ``TRAINING_LORA``), newest."""
    return max((row for row in rows if row.resumable), key=_rank, default=None)


def select_checkpoint(
    rows: list[Checkpoint],
    *,
    job_id: str,
    step: int | None = None,
    checkpoint_name: str | None = None,
) -> Checkpoint:
    """The promotable row to promote: by step, by name (exact or logical), else the latest."""
    check_selection(step, checkpoint_name)
    promotable = [row for row in rows if row.promotable]
    if checkpoint_name is not None:
        exact = [r for r in promotable if r.checkpoint_id == checkpoint_name]
        promotable = exact or [r for r in promotable if r.logical_name == checkpoint_name]
    elif step is not None:
        promotable = [r for r in promotable if r.step == step]
    best = latest_promotable(promotable)
    if best is None:
        what = (
            f"named {checkpoint_name!r}"
            if checkpoint_name is not None
            else f"at step {step}"
            if step is not None
            else "at all"
        )
        raise CheckpointNotFoundError(
            f"trainer job {job_id!r} has no promotable checkpoint {what} "
            f"({len(rows)} checkpoints listed); save one with kind=SAMPLER or BOTH"
        )
    return best


def check_selection(step: object, checkpoint_name: object) -> None:
    """At most one of ``step`` (an int >= 0) and ``checkpoint_name`` (a checkpoint name)."""
    if step is not None and checkpoint_name is not None:
        raise InvalidArgumentError("pass step or checkpoint_name, not both")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise InvalidArgumentError(f"step must be an int >= 0, got {step!r}")
    if checkpoint_name is not None:
        check_checkpoint_name(checkpoint_name)
