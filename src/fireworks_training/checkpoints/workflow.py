"""TrainingCheckpoints: save every N steps, resume from the control plane, promote the result.

The control plane is the truth about which checkpoints exist; the run's ledger (a local
folder or a ``log_path`` URL) supplies what the server does not hold: the data cursor of each
save and what each save wrote. The workflow reaches the services through the Protocols in
:mod:`.services`, so it runs against our clients, test doubles, or anything alike.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._closing import Closing
from ..errors import ConflictError, InvalidArgumentError
from .guard import CheckpointExistsError, Saved, SaveGuard
from .kinds import CheckpointKind
from .ledger import (
    DEFAULT_LEASE_TTL_S,
    SCHEMA,
    LedgerRecord,
    LedgerWarning,
    RunLedger,
    open_ledger,
    plain_extra,
)
from .names import (
    TrainerJobName,
    check_checkpoint_name,
    cross_job_reference,
    parse_init_from_checkpoint,
    require_output_model_id,
    step_of,
)
from .selection import check_selection, latest_resumable, select_checkpoint
from .services import (
    ControlPlane,
    Trainer,
    accepts_overwrite,
    base_model_of_job,
    trainer_base_model,
    wait_until_ready,
)
from .types import Checkpoint, Model

__all__ = [
    "CheckpointExistsError",
    "ControlPlane",
    "ResumeInfo",
    "Trainer",
    "TrainingCheckpoints",
    "check_selection",
    "select_checkpoint",
]

DataConsumedFallback = int | Callable[[int], int]


@dataclass(frozen=True)
class ResumeInfo:
    """Where a resumed run starts; ``data_consumed`` is None when no record holds it."""

    step: int
    data_consumed: int | None
    checkpoint_name: str
    source_job_id: str
    state_path: str


def _count(value: object, label: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidArgumentError(f"{label} must be an int, got {value!r}")
    if value is not None and value < 0:
        raise InvalidArgumentError(f"{label} must be >= 0, got {value}")
    return value


def _job_reference(trainer_job_id: object) -> tuple[str, str]:
    """(short job id, what the control plane is asked with): a short id or a full name."""
    if not isinstance(trainer_job_id, str) or not trainer_job_id.strip():
        raise InvalidArgumentError(f"trainer_job_id must be a job id, got {trainer_job_id!r}")
    if "/" in trainer_job_id:
        name = TrainerJobName.parse(trainer_job_id)
        return name.job_id, str(name)
    return TrainerJobName("a", trainer_job_id).job_id, trainer_job_id


class TrainingCheckpoints(Closing):
    """Checkpointing for a custom training loop: periodic saves, resume, final promotion.

    ``log_path`` is a local folder or an fsspec URL (``s3://bucket/run``; needs the
    ``remote`` extra); ``storage_options`` go to fsspec. One training loop writes to a
    ``log_path`` at a time, under a lease renewed on every save (``lease_ttl_s``).
    ``overwrite=True`` lets saves replace checkpoints that exist on the server.
    """

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
        overwrite: bool = False,
        storage_options: Mapping[str, Any] | None = None,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self._check_config(dcp_save_interval, base_model, overwrite, lease_ttl_s)
        if output_model_id is not None:
            require_output_model_id(output_model_id)
        self.trainer_job_id, self._job = _job_reference(trainer_job_id)
        self.training_client = training_client
        self.control_client = control_client
        self.base_model = base_model
        self.dcp_save_interval = dcp_save_interval
        self.output_model_id = output_model_id
        self.overwrite = overwrite
        self.ledger: RunLedger = open_ledger(
            log_path, storage_options=storage_options, lease_ttl_s=lease_ttl_s
        )
        self.ledger.check()
        self._guard = SaveGuard(
            self.trainer_job_id, lambda: self.control_client.list_checkpoints(self._job)
        )
        self._resumed_name: str | None = None
        self._base_model_probed = base_model is not None

    @staticmethod
    def _check_config(
        dcp_save_interval: object, base_model: object, overwrite: object, lease_ttl_s: object
    ) -> None:
        if isinstance(dcp_save_interval, bool) or not isinstance(dcp_save_interval, int):
            raise InvalidArgumentError(
                f"dcp_save_interval must be an int, got {dcp_save_interval!r}"
            )
        if dcp_save_interval < 0:
            raise InvalidArgumentError(f"dcp_save_interval must be >= 0, got {dcp_save_interval}")
        if base_model is not None and (not isinstance(base_model, str) or not base_model.strip()):
            raise InvalidArgumentError(f"base_model must be a non-empty string, got {base_model!r}")
        if not isinstance(overwrite, bool):
            raise InvalidArgumentError(f"overwrite must be True or False, got {overwrite!r}")
        if (
            isinstance(lease_ttl_s, bool)
            or not isinstance(lease_ttl_s, int | float)
            or not math.isfinite(lease_ttl_s)
            or lease_ttl_s <= 0
        ):
            raise InvalidArgumentError(f"lease_ttl_s must be a number > 0, got {lease_ttl_s!r}")

    def __repr__(self) -> str:
        return (
            f"TrainingCheckpoints(trainer_job_id={self.trainer_job_id!r}, "
            f"log_path={self.ledger.location!r})"
        )

    # Saving ---------------------------------------------------------------------------

    def save(
        self,
        name: str,
        *,
        kind: CheckpointKind | None = None,
        step: int | None = None,
        data_consumed: int | None = None,
        resumable: bool | None = None,
        promotable: bool | None = None,
        overwrite: bool | None = None,
        **extra: Any,
    ) -> LedgerRecord:
        """Save ``name`` as ``kind`` and record it; a failed save records nothing.

        Refuses (before any request) to replace a state checkpoint the server holds unless
        ``overwrite=True``; repeating a save of this process that succeeded sends nothing.
        A ``BOTH`` save whose state was saved and whose sampler half failed records the
        state (the server holds it) before raising; repeating it (or a ``BOTH`` save of a
        point this process saved as ``STATE``) saves only the sampler, unless ``overwrite``.
        """
        kind = self._kind(kind, resumable, promotable)
        name = check_checkpoint_name(name)
        _count(step, "step")
        _count(data_consumed, "data_consumed")
        replace = self._replaces(name, kind, overwrite)
        plain = plain_extra(extra)
        self.ledger.check()
        done = self._guard.same_point(name, step, data_consumed, plain)
        if done is not None and done.is_kind(kind):  # a repeat: nothing to send
            if not done.committed:
                self._commit(done)
            return done.record
        self.ledger.lease.renew()
        if done is not None and done.lacks_sampler_of(kind) and not replace:
            return self._with_sampler(name, done.record)
        if kind.resumable:
            self._guard.check(name, replace)
        fields: dict[str, Any] = {
            **plain,
            "name": name,
            "step": step,
            "data_consumed": data_consumed,
            "source_job_id": self.trainer_job_id,
            "base_model": self._learned_base_model(),
            "schema_version": SCHEMA,
        }
        if kind.resumable:
            self._save_state(name, replace)
            fields["state_path"] = cross_job_reference(self.trainer_job_id, name)
        if kind.promotable:
            try:
                fields["sampler_path"] = self._save_sampler(name)
            except BaseException as failure:
                if kind.resumable:  # the server holds the state: resume and a retry know it
                    self._record_anyway(LedgerRecord.model_validate(fields), failure)
                raise
        return self._record(LedgerRecord.model_validate(fields))

    def _replaces(self, name: str, kind: CheckpointKind, overwrite: object) -> bool:
        """Whether this save may replace a checkpoint; refuses what cannot be honoured."""
        if overwrite is not None and not isinstance(overwrite, bool):
            raise InvalidArgumentError(f"overwrite must be True or False, got {overwrite!r}")
        replace = self.overwrite if overwrite is None else overwrite
        if replace and kind.resumable and not accepts_overwrite(self.training_client.save_state):
            raise InvalidArgumentError(
                "this training client's save_state takes no overwrite=; it cannot replace "
                f"checkpoint {name!r}"
            )
        return replace

    def _save_state(self, name: str, replace: bool) -> None:
        save_state: Any = self.training_client.save_state
        future = save_state(name, overwrite=True) if replace else save_state(name)
        _path_of(future.result())

    def _save_sampler(self, name: str) -> str:
        saved = self.training_client.save_weights_for_sampler_ext(name, checkpoint_type="base")
        return saved.snapshot_name

    def _with_sampler(self, name: str, state: LedgerRecord) -> LedgerRecord:
        """Add the sampler half to a saved state of this very point, and record both."""
        return self._record(state.model_copy(update={"sampler_path": self._save_sampler(name)}))

    def _record(self, record: LedgerRecord) -> LedgerRecord:
        """Remember a save of this process, then write its record."""
        saved = Saved(record, committed=False)
        self._guard.saves[record.name] = saved
        self._commit(saved)
        return record

    def _record_anyway(self, record: LedgerRecord, failure: BaseException) -> None:
        """:meth:`_record` while ``failure`` is raised: a failing write is noted on it, and
        ``failure`` (a Ctrl-C too) stays what the caller sees."""
        try:
            self._record(record)
        except Exception as exc:
            failure.add_note(
                f"recording the state {record.name!r} the server holds also failed "
                f"({type(exc).__name__}: {exc}); repeat the save to record it"
            )

    def _commit(self, saved: Saved) -> None:
        self.ledger.commit(saved.record)
        saved.committed = True

    def _learned_base_model(self) -> str | None:
        """``base_model``, else what the training client or the trainer job says (once)."""
        if not self._base_model_probed:
            self._base_model_probed = True
            try:
                self.base_model = trainer_base_model(self.training_client) or base_model_of_job(
                    self.control_client, self._job
                )
            except Exception as exc:  # optional: a record without it is still whole
                warnings.warn(
                    f"could not learn the base model ({type(exc).__name__}: {exc}); ledger "
                    "records leave it out: pass base_model=",
                    LedgerWarning,
                    stacklevel=4,
                )
        return self.base_model

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
        """Save training state as ``step-N`` every ``dcp_save_interval`` steps (0: never).

        Between saves it keeps this loop's claim on ``log_path`` alive.
        """
        if self.dcp_save_interval == 0 or step == 0 or step % self.dcp_save_interval:
            if self.dcp_save_interval:
                self.ledger.lease.renew(force=False)
            return None
        return self.save(f"step-{step}", step=step, data_consumed=data_consumed)

    # Finishing ------------------------------------------------------------------------

    def finish(self, step: int, data_consumed: int) -> Model | None:
        """Save the final checkpoint (state and sampler); promote it when configured.

        Safe to call again after a failed or interrupted promotion: what is already saved is
        not saved twice, and a model this job's checkpoint already became is waited on until
        READY and returned, not a 409. Releases ``log_path`` for the next run.
        """
        record = self._final_record(f"step-{step}", step, data_consumed)
        model = None
        if self.output_model_id is not None:
            assert record.sampler_path is not None
            model = self._promote_final(record.sampler_path, self.output_model_id)
        self.close()
        return model

    def _promote_final(self, snapshot: str, output_model_id: str) -> Model:
        try:
            return self.promote(checkpoint_name=snapshot, output_model_id=output_model_id)
        except ConflictError:
            model = self.control_client.get_model(output_model_id)
            wanted = f"/rlorTrainerJobs/{self.trainer_job_id}/checkpoints/{snapshot}"
            if not str(model.get("sourceCheckpoint", "")).endswith(wanted):
                raise
            return wait_until_ready(self.control_client, output_model_id, model)

    def _final_record(self, name: str, step: int, data_consumed: int) -> LedgerRecord:
        self.ledger.check()
        newest = self.ledger.newest()
        # The newest record is this point when this run wrote it or resumed from it, or when
        # it is a whole final save of this job (finish() again, after its process died) and
        # this run replaces nothing: a rerun with overwrite=True, or another job on this
        # log_path, may reach the same step with other weights.
        same_point = (
            newest is not None
            and (newest.name, newest.step, newest.data_consumed) == (name, step, data_consumed)
            and newest.state_path is not None
            and newest.source_job_id in (None, self.trainer_job_id)
            and (
                name in self._guard.saves
                or name == self._resumed_name
                or (newest.sampler_path is not None and not self.overwrite)
            )
        )
        if not same_point:
            # Resumed from this very state and nothing trained since: add the sampler only.
            kind = CheckpointKind.SAMPLER if name == self._resumed_name else CheckpointKind.BOTH
            return self.save(name, kind=kind, step=step, data_consumed=data_consumed)
        assert newest is not None
        if newest.sampler_path is not None:
            return newest  # finish() again after its promotion failed: all is saved
        # The periodic save of this very step wrote the state: add the sampler only.
        self.ledger.lease.renew()
        return self._with_sampler(name, newest)

    def close(self) -> None:
        """Give up this loop's claim on ``log_path`` (a later run need not wait for it)."""
        self.ledger.lease.release()

    # Resuming -------------------------------------------------------------------------

    def resume(
        self,
        init_from_checkpoint: str | None = None,
        *,
        data_consumed_fallback: DataConsumedFallback | None = None,
    ) -> ResumeInfo | None:
        """Load the newest training state the control plane lists; None for a fresh start.

        Always restores optimizer state (``load_state_with_optimizer``). The step comes from
        the checkpoint's name (``step-N``), the data cursor from the run's records; when
        they hold none, ``data_consumed`` is ``data_consumed_fallback`` (an int, or a
        function of the step), else None with a :class:`LedgerWarning`. A control plane
        that cannot be reached raises: it never means "start fresh".
        """
        _check_fallback(data_consumed_fallback)
        self.ledger.check()
        self.ledger.lease.renew()
        if init_from_checkpoint is not None:
            return self._resume_from(init_from_checkpoint, data_consumed_fallback)
        rows = self.control_client.list_checkpoints(self._job)
        self._guard.listed(rows)
        best = latest_resumable(rows)
        if best is None:
            self._warn_if_recorded_states_are_gone()
            return None
        name = best.checkpoint_id
        state_path = cross_job_reference(self.trainer_job_id, name)
        step = best.step if best.step is not None else self._recorded_step(name)
        consumed = self._data_consumed(name, step, data_consumed_fallback)
        self.training_client.load_state_with_optimizer(state_path).result()
        self._guard.resumed, self._resumed_name = True, name
        return ResumeInfo(step, consumed, name, self.trainer_job_id, state_path)

    def _recorded_step(self, name: str) -> int:
        record = self.ledger.find(name, self.trainer_job_id)
        if record is not None and record.step is not None:
            return record.step
        warnings.warn(
            f"checkpoint {name!r} has no step in its name or in {self.ledger.location}: "
            "resuming at step 0",
            LedgerWarning,
            stacklevel=3,
        )
        return 0

    def _data_consumed(
        self, name: str, step: int, fallback: DataConsumedFallback | None
    ) -> int | None:
        consumed = self.ledger.data_consumed_of(name, self.trainer_job_id)
        if consumed is not None:
            return consumed
        if fallback is not None:
            return _count(fallback(step) if callable(fallback) else fallback, "fallback")
        warnings.warn(
            f"no data cursor for checkpoint {name!r} in {self.ledger.location}: "
            "ResumeInfo.data_consumed is None (pass data_consumed_fallback= to choose one)",
            LedgerWarning,
            stacklevel=3,
        )
        return None

    def _warn_if_recorded_states_are_gone(self) -> None:
        newest = self.ledger.newest()
        if newest is not None and newest.state_path is not None:
            warnings.warn(
                f"the newest state checkpoint in {self.ledger.location} ({newest.name!r}) is "
                "not on the server any more (expired or deleted): starting fresh",
                LedgerWarning,
                stacklevel=3,
            )

    def _resume_from(
        self, init_from_checkpoint: str, fallback: DataConsumedFallback | None
    ) -> ResumeInfo:
        parsed = parse_init_from_checkpoint(init_from_checkpoint)
        reference = parsed.load_reference
        assert parsed.job_id is not None
        assert parsed.checkpoint_name is not None
        same_job = parsed.job_id == self.trainer_job_id
        if not same_job and self.ledger.newest() is not None:
            raise InvalidArgumentError(
                f"init_from_checkpoint={init_from_checkpoint!r} conflicts with the existing "
                f"ledger {self.ledger.location}: drop init_from_checkpoint to resume this run, "
                "or use a new log_path"
            )
        name = parsed.checkpoint_name
        if not same_job:  # a new run from another job's weights: it starts at step 0
            self.training_client.load_state_with_optimizer(reference).result()
            return ResumeInfo(0, 0, name, parsed.job_id, reference)
        # A full resume of this job: its step and cursor, as resume() finds them.
        step = step_of(name)
        if step is None:
            step = self._recorded_step(name)
        consumed = self._data_consumed(name, step, fallback)
        self.training_client.load_state_with_optimizer(reference).result()
        self._guard.resumed, self._resumed_name = True, name
        return ResumeInfo(step, consumed, name, parsed.job_id, reference)

    # Promoting ------------------------------------------------------------------------

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
        rows = self.control_client.list_checkpoints(self._job)
        row = select_checkpoint(
            rows, job_id=self.trainer_job_id, step=step, checkpoint_name=checkpoint_name
        )
        return self.control_client.promote_checkpoint(
            name=row.name,
            output_model_id=output_model_id,
            base_model=base_model or self._base_model_for(row),
        )

    def _base_model_for(self, row: Checkpoint) -> str | None:
        record = self.ledger.find(row.logical_name, self.trainer_job_id)
        if record is not None and record.sampler_path == row.checkpoint_id and record.base_model:
            return record.base_model
        return self.base_model


def _check_fallback(fallback: object) -> None:
    if fallback is None or callable(fallback):
        return
    _count(fallback, "data_consumed_fallback")


def _path_of(result: Any) -> str:
    path = result if isinstance(result, str) else getattr(result, "path", None)
    if not isinstance(path, str):
        raise TypeError(f"save_state returned no path: {result!r}")
    return path
