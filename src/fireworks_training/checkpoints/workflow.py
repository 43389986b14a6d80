"""TrainingCheckpoints: save every N steps, resume from ``log_path``, promote the result.

The workflow reaches the services through the Protocols below, so it runs against our
clients, against test doubles, or against anything else with the same methods.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import (
    CheckpointNotFoundError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from .kinds import CheckpointKind
from .ledger import Ledger, LedgerRecord, LedgerWarning
from .names import check_checkpoint_name as validate_checkpoint_name
from .names import (
    cross_job_reference,
    parse_init_from_checkpoint,
    require_output_model_id,
)
from .types import Checkpoint, Model, SaveSamplerResult, latest_promotable

__all__ = [
    "ControlPlane",
    "ResumeInfo",
    "Trainer",
    "TrainingCheckpoints",
    "check_selection",
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

    def get_model(self, model_id: str) -> Model: ...

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
        validate_checkpoint_name(checkpoint_name)


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
        """Save the final checkpoint (state and sampler); promote it when configured.

        Safe to call again after a failed promotion: what is already saved is not saved
        twice, and a model this job's checkpoint already became is returned, not a 409.
        """
        record = self._final_record(f"step-{step}", step, data_consumed)
        if self.output_model_id is None:
            return None
        assert record.sampler_path is not None
        try:
            return self.promote(
                checkpoint_name=record.sampler_path, output_model_id=self.output_model_id
            )
        except ConflictError:
            model = self.control_client.get_model(self.output_model_id)
            wanted = f"/rlorTrainerJobs/{self.trainer_job_id}/checkpoints/{record.sampler_path}"
            if str(model.get("sourceCheckpoint", "")).endswith(wanted):
                return model
            raise

    def _final_record(self, name: str, step: int, data_consumed: int) -> LedgerRecord:
        newest = next(self.ledger.newest_first(), None)
        same_point = (
            newest is not None
            and (newest.name, newest.step, newest.data_consumed) == (name, step, data_consumed)
            and newest.state_path is not None
        )
        if not same_point:
            return self.save(name, kind=CheckpointKind.BOTH, step=step, data_consumed=data_consumed)
        assert newest is not None
        if newest.sampler_path is not None:
            return newest  # finish() again after its promotion failed: all is saved
        # The periodic save of this very step wrote the state: add the sampler only.
        saved = self.training_client.save_weights_for_sampler_ext(name, checkpoint_type="base")
        record = newest.model_copy(update={"sampler_path": saved.snapshot_name})
        self.ledger.append(record)
        return record

    def resume(self, init_from_checkpoint: str | None = None) -> ResumeInfo | None:
        """Load the newest checkpoint that still exists; None for a fresh start.

        Always restores optimizer state (``load_state_with_optimizer``).
        """
        if init_from_checkpoint is not None:
            return self._resume_from(init_from_checkpoint)
        existing: dict[str, set[str]] = {}
        skipped = 0
        for record in self.ledger.newest_first():
            if record.state_path is None:
                continue
            job = record.source_job_id or self.trainer_job_id
            if job not in existing:
                existing[job] = self._state_checkpoints(job)
            if record.name in existing[job]:
                self.training_client.load_state_with_optimizer(record.state_path).result()
                consumed = self._data_consumed(record)
                return ResumeInfo(record.step or 0, consumed, record.name, job, record.state_path)
            skipped += 1
        if skipped:
            warnings.warn(
                f"none of the {skipped} state checkpoints in {self.ledger.path} exists on the "
                "server any more (expired or deleted): starting fresh",
                LedgerWarning,
                stacklevel=2,
            )
        return None

    def _state_checkpoints(self, job_id: str) -> set[str]:
        """Ids of the rows of a job that may hold training state.

        Every row but the sampler (inference) types counts, so a state type newer than this
        library is not mistaken for a missing checkpoint.
        """
        try:
            rows = self.control_client.list_checkpoints(job_id)
        except NotFoundError:
            warnings.warn(
                f"trainer job {job_id!r} is unknown to the control plane (404): skipping its "
                "checkpoints in the ledger",
                LedgerWarning,
                stacklevel=3,
            )
            return set()
        return {r.checkpoint_id for r in rows if not r.checkpoint_type.is_sampler}

    def _data_consumed(self, record: LedgerRecord) -> int:
        # The ledger line is written before dataloader.json, so it is the newer of the two.
        if record.data_consumed is not None:
            return record.data_consumed
        return self.ledger.read_dataloader().get(record.name, 0)

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
            consumed = self._data_consumed(recorded)
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
        check_selection(step, checkpoint_name)  # before any request
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
