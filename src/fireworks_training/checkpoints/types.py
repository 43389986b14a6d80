"""Typed wire objects: checkpoint rows, models, operations, trainer jobs, sampler results.

Rows, models, operations and jobs are real dicts (the JSON the server sent, keys unchanged)
with typed, cached properties; see ``_models.py``. ``row.name`` is the name string, as sent
(``row["name"]``); ``row.resource_name`` is the parsed :class:`CheckpointName`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from .._models import (
    WireObject,
    wire_bool,
    wire_field,
    wire_int,
    wire_property,
    wire_str,
    wire_time,
)
from ..errors import InvalidNameError, ProtocolError
from .kinds import CheckpointType, LenientStrEnum
from .names import CheckpointName, ModelName, TrainerJobName, logical_name, step_of

__all__ = [
    "Checkpoint",
    "CheckpointRow",
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

N = TypeVar("N")
E = TypeVar("E")


def _name(obj: WireObject) -> str:
    name = wire_str(obj, "name", required=True)
    assert name is not None  # required
    return name


def _parsed_name(parse: Callable[[str], N]) -> wire_property[N]:
    """The property ``parse(row.name)``; a name off the grammar is the server's fault."""

    def compute(obj: WireObject) -> N:
        try:
            return parse(_name(obj))
        except InvalidNameError as exc:
            raise ProtocolError(f"{obj.describe()}: {exc}") from None

    return wire_property(compute)


def _list_of(obj: WireObject, key: str, kind: type[E], expected: str) -> list[E]:
    """A list of ``kind`` (empty when absent); anything else is malformed."""
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, kind) for v in value):
        return list(value)
    raise obj.malformed(key, expected, value)


def _object(obj: WireObject, key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise obj.malformed(key, "an object", value)


class CheckpointRow(WireObject):
    """A checkpoint row of any parent: a trainer job, a training session, an SFT or DPO job.

    Wire keys: ``name`` (``<parent>/checkpoints/<id>``), ``createTime``, ``updateTime``,
    ``checkpointType``, ``promotable``, and whatever else the server sends.
    """

    __slots__ = ()
    WHAT = "checkpoint row"

    name = wire_property(_name)
    """The full name string, as sent (``row["name"]``)."""

    create_time = wire_field(wire_time, "createTime")
    """``createTime``, parsed (compare these, never the strings: precisions vary)."""

    update_time = wire_field(wire_time, "updateTime")
    """``updateTime``, parsed."""

    @wire_property
    def checkpoint_type(self) -> CheckpointType:
        """``checkpointType``; a value this library does not know is kept, not refused."""
        text = wire_str(self, "checkpointType")
        return CheckpointType.UNSPECIFIED if text is None else CheckpointType(text)

    promotable = wire_field(wire_bool, "promotable")
    """``promotable``: true iff the server will promote this row."""

    @wire_property
    def resumable(self) -> bool:
        """True for training state rows, which resume can load."""
        return self.checkpoint_type.resumable

    @wire_property
    def parent(self) -> str:
        """The name of what the checkpoint belongs to (before ``/checkpoints/``)."""
        return self._split()[0]

    @wire_property
    def checkpoint_id(self) -> str:
        """The short checkpoint id (a sampler snapshot carries its session suffix)."""
        return self._split()[1]

    @wire_property
    def logical_name(self) -> str:
        """The checkpoint id without a sampler session suffix (state rows have none)."""
        if self.resumable:
            return self.checkpoint_id
        return logical_name(self.checkpoint_id)

    @wire_property
    def step(self) -> int | None:
        """N for a ``step-N`` checkpoint, else None."""
        return step_of(self.logical_name)

    def _split(self) -> tuple[str, str]:
        parent, sep, checkpoint = self.name.rpartition("/checkpoints/")
        if not sep or not parent or not checkpoint or "/" in checkpoint:
            raise self.malformed("name", "'<parent>/checkpoints/<id>'", self.name)
        return parent, checkpoint


class Checkpoint(CheckpointRow):
    """One checkpoint row of a trainer job, as the control plane lists it (a dict).

    ``row.name`` is the 4-segment name string, as sent; ``row.resource_name`` parses it.
    """

    __slots__ = ()

    resource_name = _parsed_name(CheckpointName.parse)
    """The parsed 4-segment name."""

    @wire_property
    def job_id(self) -> str:
        """The trainer job id."""
        return self.resource_name.job_id

    @wire_property
    def checkpoint_id(self) -> str:
        """The short checkpoint id (a sampler snapshot carries its session suffix)."""
        return self.resource_name.checkpoint_id


class PeftDetails(WireObject):
    """LoRA details of a promoted adapter model (``peftDetails``)."""

    __slots__ = ()
    WHAT = "peftDetails"

    base_model = wire_field(wire_str, "baseModel")
    """``baseModel``."""

    r = wire_field(wire_int, "r")
    """The LoRA rank."""

    @wire_property
    def target_modules(self) -> list[str]:
        """``targetModules``."""
        return _list_of(self, "targetModules", str, "a list of strings")


class Model(WireObject):
    """A Fireworks model, for example the result of a promotion (a dict).

    Wire keys: ``name``, ``state`` (``UPLOADING``, ``READY``, ...), ``kind``,
    ``peftDetails``, ``createTime``, and whatever else the server sends.
    """

    __slots__ = ()
    WHAT = "model"

    name = wire_property(_name)
    """``accounts/{account}/models/{model}``, as sent."""

    @wire_property
    def state(self) -> str:
        """``state``; ``"STATE_UNSPECIFIED"`` when absent."""
        return wire_str(self, "state") or "STATE_UNSPECIFIED"

    kind = wire_field(wire_str, "kind")
    """``kind`` (``HF_BASE_MODEL``, ``HF_PEFT_ADDON``, ...)."""

    display_name = wire_field(wire_str, "displayName")
    """``displayName``."""

    @wire_property
    def peft_details(self) -> PeftDetails | None:
        """``peftDetails`` of an adapter model."""
        value = self.get("peftDetails")
        if value is None:
            return None
        if isinstance(value, dict):
            return PeftDetails(value)
        raise self.malformed("peftDetails", "an object", value)

    create_time = wire_field(wire_time, "createTime")
    """``createTime``, parsed."""

    resource_name = _parsed_name(ModelName.parse)
    """The parsed model name."""

    @wire_property
    def model_id(self) -> str:
        """The short model id."""
        return self.resource_name.model_id


class RpcStatus(WireObject):
    """An error carried by a finished operation (``{"code", "message", "details"}``)."""

    __slots__ = ()
    WHAT = "operation error"

    @wire_property
    def code(self) -> int:
        """The google.rpc code (0 when absent)."""
        return wire_int(self, "code") or 0

    @wire_property
    def message(self) -> str:
        """The server's message."""
        return wire_str(self, "message") or ""

    @wire_property
    def details(self) -> list[dict[str, Any]]:
        """``details`` entries."""
        return _list_of(self, "details", dict, "a list of objects")


class OperationStatus(WireObject):
    """A long-running operation as the server reports it (a dict)."""

    __slots__ = ()
    WHAT = "operation"

    name = wire_property(_name)
    """``accounts/{account}/operations/{id}``, as sent."""

    done = wire_field(wire_bool, "done")
    """True once the operation finished, with ``error`` or ``response``."""

    @wire_property
    def metadata(self) -> dict[str, Any]:
        """``metadata`` (empty when absent)."""
        return _object(self, "metadata") or {}

    @wire_property
    def error(self) -> RpcStatus | None:
        """The failure of a finished operation."""
        value = _object(self, "error")
        return None if value is None else RpcStatus(value)

    response = wire_field(_object, "response")
    """The result of a finished operation."""

    @wire_property
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


class TrainingConfig(WireObject):
    """The ``trainingConfig`` of a trainer job."""

    __slots__ = ()
    WHAT = "trainingConfig"

    base_model = wire_field(wire_str, "baseModel")
    """``baseModel``."""

    lora_rank = wire_field(wire_int, "loraRank")
    """``loraRank``."""

    @wire_property
    def learning_rate(self) -> float | None:
        """``learningRate``."""
        value = self.get("learningRate")
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return None if value is None else float(value)
        raise self.malformed("learningRate", "a number", value)

    max_context_length = wire_field(wire_int, "maxContextLength")
    """``maxContextLength``."""


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


class TrainerJob(WireObject):
    """A trainer job (``rlorTrainerJobs``) on the control plane (a dict)."""

    __slots__ = ()
    WHAT = "trainer job"

    name = wire_property(_name)
    """``accounts/{account}/rlorTrainerJobs/{job}``, as sent."""

    @wire_property
    def state(self) -> JobState:
        """``state``; unknown values are kept as a :class:`JobState` pseudo-member."""
        text = wire_str(self, "state")
        return JobState.UNSPECIFIED if not text else JobState(text)

    @wire_property
    def status_message(self) -> str | None:
        """The server's detail on the state (``statusMessage``, else ``status.message``)."""
        text = wire_str(self, "statusMessage")
        if text:
            return text
        status = self.get("status")
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return str(status["message"]) or None
        return None

    display_name = wire_field(wire_str, "displayName")
    """``displayName``."""

    @wire_property
    def training_config(self) -> TrainingConfig | None:
        """``trainingConfig``."""
        value = _object(self, "trainingConfig")
        return None if value is None else TrainingConfig(value)

    create_time = wire_field(wire_time, "createTime")
    """``createTime``, parsed."""

    update_time = wire_field(wire_time, "updateTime")
    """``updateTime``, parsed."""

    resource_name = _parsed_name(TrainerJobName.parse)
    """The parsed job name."""

    @wire_property
    def job_id(self) -> str:
        """The short trainer job id."""
        return self.resource_name.job_id


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
