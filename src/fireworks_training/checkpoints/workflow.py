"""TrainingCheckpoints: save every N steps, resume from ``log_path``, promote the result.

The workflow reaches the services through the Protocols below, so it runs against our
clients, against test doubles, or against anything else with the same methods.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import CheckpointNotFoundError, InvalidArgumentError
from .kinds import CheckpointKind
from .ledger import Ledger, LedgerRecord
from .names import (
    cross_job_reference,
    parse_init_from_checkpoint,
    require_output_model_id,
    validate_checkpoint_name,
)
from .types import Checkpoint, Model, SaveSamplerResult, latest_promotable

__all__ = [
    "ControlPlane",
    "ResumeInfo",
    "Trainer",
    "TrainingCheckpoints",
    "select_checkpoint",
]


class _Future(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...


class Trainer(Protocol):
    """What the workflow needs of a training client."""

    def save_state(self, name: str, ttl_seconds: int | None = None) -> _Future: ...

    def save_weights_for_sampler_ext(
        self, name: str, checkpoint_type: Any = None, ttl_seconds: int | None = None
    ) -> SaveSamplerResult: ...

    def load_state_with_optimizer(self, path: str) -> _Future: ...


class ControlPlane(Protocol):
    """What the workflow needs of the control plane."""

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...

    def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: Any = None,
    ) -> Model: ...


@dataclass(frozen=True)
class ResumeInfo:
    """Where a resumed run starts."""

    step: int
    data_consumed: int
    checkpoint_name: str
    source_job_id: str
    state_path: str


def select_checkpoint(
    rows: list[Checkpoint],
    *,
    job_id: str,
    step: int | None = None,
    checkpoint_name: str | None = None,
) -> Checkpoint:
    """The promotable row to promote: by step, by name (exact or logical), else the latest.

    Latest means highest step, then newest parsed ``createTime``.
    """
    if step is not None and checkpoint_name is not None:
        raise InvalidArgumentError("pass step or checkpoint_name, not both")
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


def _path_of(result: Any) -> str:
    path = result if isinstance(result, str) else getattr(result, "path", None)
    if not isinstance(path, str):
        raise TypeError(f"save_state returned no path: {result!r}")
    return path


class TrainingCheckpoints:
    """Checkpointing for a custom training loop: periodic saves, resume, final promotion."""

    def __init__(
        self,
        training_client: Trainer,
        control_client: ControlPlane,
        *,
        trainer_job_id: str,
        log_path: str | os.PathLike[str],
        base_model: str | None = None,
        dcp_save_interval: int = 0,
        output_model_id: str | None = None,
    ) -> None:
        if isinstance(dcp_save_interval, bool) or not isinstance(dcp_save_interval, int):
            raise InvalidArgumentError(
                f"dcp_save_interval must be an int, got {dcp_save_interval!r}"
            )
        if dcp_save_interval < 0:
            raise InvalidArgumentError(f"dcp_save_interval must be >= 0, got {dcp_save_interval}")
        if output_model_id is not None:
            require_output_model_id(output_model_id)
        if not trainer_job_id:
            raise InvalidArgumentError("trainer_job_id must not be empty")
        self.training_client = training_client
        self.control_client = control_client
        self.trainer_job_id = trainer_job_id
        self.ledger = Ledger(log_path)
        self.base_model = base_model
        self.dcp_save_interval = dcp_save_interval
        self.output_model_id = output_model_id

    def save(
        self,
        name: str,
        *,
        kind: CheckpointKind | None = None,
        step: int | None = None,
        data_consumed: int | None = None,
        resumable: bool | None = None,
        promotable: bool | None = None,
        **extra: Any,
    ) -> LedgerRecord:
        """Save ``name`` as ``kind`` and record it; a failed save records nothing."""
        kind = self._kind(kind, resumable, promotable)
        name = validate_checkpoint_name(name)
        for label, value in (("step", step), ("data_consumed", data_consumed)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidArgumentError(f"{label} must be an int, got {value!r}")
            if value is not None and value < 0:
                raise InvalidArgumentError(f"{label} must be >= 0, got {value}")
        fields: dict[str, Any] = {
            "name": name,
            "step": step,
            "data_consumed": data_consumed,
            "source_job_id": self.trainer_job_id,
            "base_model": self.base_model,
            **extra,
        }
        if kind.resumable:
            _path_of(self.training_client.save_state(name).result())
            fields["state_path"] = cross_job_reference(self.trainer_job_id, name)
        if kind.promotable:
            saved = self.training_client.save_weights_for_sampler_ext(name, checkpoint_type="base")
            fields["sampler_path"] = saved.snapshot_name
        record = LedgerRecord.model_validate(fields)
        self.ledger.append(record)
        if data_consumed is not None:
            self.ledger.record_data_consumed(name, data_consumed)
        return record

    @staticmethod
    def _kind(
        kind: CheckpointKind | None, resumable: bool | None, promotable: bool | None
    ) -> CheckpointKind:
        if resumable is None and promotable is None:
            return kind or CheckpointKind.STATE
        flagged = CheckpointKind.from_flags(resumable=bool(resumable), promotable=bool(promotable))
        if kind is not None and kind is not flagged:
            raise InvalidArgumentError(
                f"kind={kind.name} contradicts the resumable/promotable flags"
            )
        return flagged

    def maybe_save(self, step: int, data_consumed: int) -> LedgerRecord | None:
        """Save training state as ``step-N`` every ``dcp_save_interval`` steps (0: never)."""
        if self.dcp_save_interval == 0 or step == 0 or step % self.dcp_save_interval:
            return None
        return self.save(f"step-{step}", step=step, data_consumed=data_consumed)

    def finish(self, step: int, data_consumed: int) -> Model | None:
        """Save the final checkpoint (state and sampler); promote it when configured."""
        record = self.save(
            f"step-{step}", kind=CheckpointKind.BOTH, step=step, data_consumed=data_consumed
        )
        if self.output_model_id is None:
            return None
        assert record.sampler_path is not None
        return self.promote(
            checkpoint_name=record.sampler_path, output_model_id=self.output_model_id
        )

    def resume(self, init_from_checkpoint: str | None = None) -> ResumeInfo | None:
        """Load the newest checkpoint that still exists; None for a fresh start.

        Always restores optimizer state (``load_state_with_optimizer``).
        """
        if init_from_checkpoint is not None:
            return self._resume_from(init_from_checkpoint)
        existing: dict[str, set[str]] = {}
        dataloader = self.ledger.read_dataloader()
        for record in self.ledger.newest_first():
            if record.state_path is None:
                continue
            job = record.source_job_id or self.trainer_job_id
            if job not in existing:
                rows = self.control_client.list_checkpoints(job)
                existing[job] = {r.checkpoint_id for r in rows if r.resumable}
            if record.name in existing[job]:
                self.training_client.load_state_with_optimizer(record.state_path).result()
                consumed = dataloader.get(record.name, record.data_consumed or 0)
                return ResumeInfo(record.step or 0, consumed, record.name, job, record.state_path)
        return None

    def _resume_from(self, init_from_checkpoint: str) -> ResumeInfo:
        parsed = parse_init_from_checkpoint(init_from_checkpoint)
        reference = parsed.load_reference
        assert parsed.job_id is not None
        assert parsed.checkpoint_name is not None
        same_job = parsed.job_id == self.trainer_job_id
        recorded = next(
            (r for r in self.ledger.newest_first() if r.name == parsed.checkpoint_name), None
        )
        if not same_job and next(self.ledger.newest_first(), None) is not None:
            raise InvalidArgumentError(
                f"init_from_checkpoint={init_from_checkpoint!r} conflicts with the existing "
                f"ledger {self.ledger.path}: drop init_from_checkpoint to resume this run, or "
                "use a new log_path"
            )
        self.training_client.load_state_with_optimizer(reference).result()
        if same_job and recorded is not None:
            consumed = self.ledger.read_dataloader().get(recorded.name, recorded.data_consumed or 0)
            return ResumeInfo(recorded.step or 0, consumed, recorded.name, parsed.job_id, reference)
        return ResumeInfo(0, 0, parsed.checkpoint_name, parsed.job_id, reference)

    def promote_latest(self, output_model_id: str, base_model: str | None = None) -> Model:
        """Promote the highest-step promotable checkpoint of this job."""
        return self.promote(output_model_id=output_model_id, base_model=base_model)

    def promote(
        self,
        *,
        output_model_id: str,
        step: int | None = None,
        checkpoint_name: str | None = None,
        base_model: str | None = None,
    ) -> Model:
        """Promote a checkpoint by step or name (exact or logical), else the latest."""
        require_output_model_id(output_model_id)
        rows = self.control_client.list_checkpoints(self.trainer_job_id)
        row = select_checkpoint(
            rows, job_id=self.trainer_job_id, step=step, checkpoint_name=checkpoint_name
        )
        return self.control_client.promote_checkpoint(
            name=row.name,
            output_model_id=output_model_id,
            base_model=base_model or self._base_model_for(row),
        )

    def _base_model_for(self, row: Checkpoint) -> str | None:
        for record in self.ledger.newest_first():
            if record.sampler_path == row.checkpoint_id and record.base_model:
                return record.base_model
        return self.base_model
