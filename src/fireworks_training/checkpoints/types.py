"""Typed wire objects: checkpoint rows, models, operations, trainer jobs, sampler results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .._models import WireModel, parse_rfc3339
from .kinds import CheckpointType, LenientStrEnum
from .names import CheckpointName, ModelName, TrainerJobName, logical_name, step_of

__all__ = [
    "Checkpoint",
    "JobState",
    "Model",
    "OperationStatus",
    "PeftDetails",
    "RpcStatus",
    "SaveSamplerResult",
    "TrainerJob",
    "TrainingConfig",
    "latest_promotable",
    "newest_first",
]


def _to_datetime(value: Any) -> Any:
    return parse_rfc3339(value) if isinstance(value, str) else value


Timestamp = Annotated[datetime, BeforeValidator(_to_datetime)]


class Checkpoint(WireModel):
    """One checkpoint row of a trainer job, as the control plane lists it."""

    name: str
    create_time: Timestamp | None = None
    update_time: Timestamp | None = None
    checkpoint_type: CheckpointType = CheckpointType.UNSPECIFIED
    promotable: bool = False

    @property
    def resource_name(self) -> CheckpointName:
        """The parsed 4-segment name."""
        return CheckpointName.parse(self.name)

    @property
    def job_id(self) -> str:
        """The trainer job id."""
        return self.resource_name.job_id

    @property
    def checkpoint_id(self) -> str:
        """The short checkpoint id (a sampler snapshot carries its session suffix)."""
        return self.resource_name.checkpoint_id

    @property
    def resumable(self) -> bool:
        """True for training state rows, which resume can load."""
        return self.checkpoint_type.resumable

    @property
    def logical_name(self) -> str:
        """The checkpoint id without a sampler session suffix (state rows have none)."""
        if self.resumable:
            return self.checkpoint_id
        return logical_name(self.checkpoint_id)

    @property
    def step(self) -> int | None:
        """N for a ``step-N`` checkpoint, else None."""
        return step_of(self.logical_name)


class PeftDetails(WireModel):
    """LoRA details of a promoted adapter model."""

    base_model: str | None = None
    r: int | None = None
    target_modules: list[str] = Field(default_factory=list)


class Model(WireModel):
    """A Fireworks model, for example the result of a promotion."""

    name: str
    state: str = "STATE_UNSPECIFIED"
    kind: str | None = None
    display_name: str | None = None
    peft_details: PeftDetails | None = None
    create_time: Timestamp | None = None

    @property
    def model_id(self) -> str:
        """The short model id."""
        return ModelName.parse(self.name).model_id


class RpcStatus(WireModel):
    """An error carried by a finished operation."""

    code: int = 0
    message: str = ""
    details: list[dict[str, Any]] = Field(default_factory=list)


class OperationStatus(WireModel):
    """A long-running operation as the server reports it."""

    name: str
    done: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: RpcStatus | None = None
    response: dict[str, Any] | None = None

    @property
    def status_message(self) -> str | None:
        """Progress text, wherever the server put it."""
        nested = self.metadata.get("value")
        sources = [self.metadata, nested if isinstance(nested, dict) else {}]
        for source in sources:
            for key in ("statusMessage", "status_message"):
                text = source.get(key)
                if isinstance(text, str):
                    return text
        return None


class TrainingConfig(WireModel):
    """The training configuration of a trainer job."""

    base_model: str | None = None
    lora_rank: int | None = None
    learning_rate: float | None = None
    max_context_length: int | None = None


class JobState(LenientStrEnum):
    """A trainer job's ``state`` (docs/protocol.md §1.5); unknown values are kept, not refused."""

    UNSPECIFIED = "JOB_STATE_UNSPECIFIED"
    PENDING = "JOB_STATE_PENDING"
    RUNNING = "JOB_STATE_RUNNING"
    FAILED = "JOB_STATE_FAILED"
    CANCELLED = "JOB_STATE_CANCELLED"
    PAUSED = "JOB_STATE_PAUSED"
    COMPLETED = "JOB_STATE_COMPLETED"
    CANCELLING = "JOB_STATE_CANCELLING"
    EARLY_STOPPED = "JOB_STATE_EARLY_STOPPED"
    DELETING = "JOB_STATE_DELETING"
    DELETED = "JOB_STATE_DELETED"

    @property
    def resumable(self) -> bool:
        """True where ``:resume`` brings the job back: FAILED, CANCELLED, PAUSED, COMPLETED."""
        return self in _RESUMABLE_JOB_STATES

    @property
    def tombstone(self) -> bool:
        """True where waiting cannot help and ``:resume`` is refused: deleted or early-stopped."""
        return self in _TOMBSTONE_JOB_STATES


_RESUMABLE_JOB_STATES = frozenset(
    {JobState.FAILED, JobState.CANCELLED, JobState.PAUSED, JobState.COMPLETED}
)
_TOMBSTONE_JOB_STATES = frozenset({JobState.DELETING, JobState.DELETED, JobState.EARLY_STOPPED})


class TrainerJob(WireModel):
    """A trainer job (``rlorTrainerJobs``) on the control plane."""

    name: str
    state: JobState = JobState.UNSPECIFIED
    status_message: str | None = None
    display_name: str | None = None
    training_config: TrainingConfig | None = None
    create_time: Timestamp | None = None

    @property
    def job_id(self) -> str:
        """The short trainer job id."""
        return TrainerJobName.parse(self.name).job_id


@dataclass(frozen=True)
class SaveSamplerResult:
    """A finished sampler save: the trainer's identity and the suffixed name that was sent."""

    path: str
    snapshot_name: str


def newest_first(rows: Iterable[Checkpoint]) -> list[Checkpoint]:
    """Rows sorted by parsed ``createTime``, newest first (rows without a time last)."""
    return sorted(rows, key=_time_key, reverse=True)


_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _time_key(row: Checkpoint) -> tuple[bool, datetime]:
    created = row.create_time
    return (created is not None, created or _NO_TIME)


def latest_promotable(rows: Iterable[Checkpoint]) -> Checkpoint | None:
    """The row to promote: promotable, highest step, then newest parsed time.

    Rows without a step rank below every ``step-N`` row. Timestamps are compared as
    datetimes, never as strings (the service mixes precisions).
    """
    candidates = [row for row in rows if row.promotable]
    if not candidates:
        return None

    def key(row: Checkpoint) -> tuple[bool, int, tuple[bool, datetime]]:
        step = row.step
        return (step is not None, step if step is not None else -1, _time_key(row))

    return max(candidates, key=key)
