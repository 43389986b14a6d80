"""Trainer jobs without I/O: the configuration, argument checks, and the rules of waiting.

docs/protocol.md §1.5. Which state leads to what (check health, ``:resume``, poll again), the
grace after a ``:resume``, and the deadline and cadence of one wait. The jobs resource
(``_async/jobs.py``) sends the requests.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._backoff import Backoff
from .._constants import JOB_POLL_CAP_S, JOB_POLL_FIRST_S, JOB_POLL_MULTIPLIER
from ..checkpoints.names import TrainerJobName
from ..checkpoints.types import JobState, TrainerJob
from ..errors import (
    ConflictError,
    InvalidArgumentError,
    TrainerJobError,
    TrainerJobTimeoutError,
)

__all__ = [
    "RESTARTED_STATES",
    "RESUME_GRACE_S",
    "Resumption",
    "Step",
    "TrainerJobConfig",
    "Waiter",
    "check_config",
    "check_same_job",
    "check_timeout",
    "next_step",
    "split_new_job",
]

# Seen after a :resume, these show it took effect: a later FAILED is a new preemption.
RESTARTED_STATES = frozenset({JobState.PENDING, JobState.RUNNING})
# After a :resume, how long a read may still show the old resumable state (a slow control
# plane) before that state is taken as the answer.
RESUME_GRACE_S = 30.0
_TEXT_MAX = 512

PositiveInt = Annotated[int, Field(strict=True, gt=0)]


class TrainerJobConfig(BaseModel):
    """What a new trainer job trains: base model, LoRA rank and the optional knobs.

    Invalid values raise :class:`~fireworks_training.errors.InvalidArgumentError`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_model: Annotated[str, Field(min_length=1, max_length=_TEXT_MAX)]
    lora_rank: Annotated[int, Field(strict=True, ge=0)] = 0
    learning_rate: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    max_context_length: PositiveInt | None = None
    display_name: Annotated[str, Field(min_length=1, max_length=_TEXT_MAX)] | None = None
    node_count: PositiveInt | None = None

    def __init__(
        self,
        base_model: str,
        *,
        lora_rank: int = 0,
        learning_rate: float | None = None,
        max_context_length: int | None = None,
        display_name: str | None = None,
        node_count: int | None = None,
    ) -> None:
        try:
            super().__init__(
                base_model=base_model,
                lora_rank=lora_rank,
                learning_rate=learning_rate,
                max_context_length=max_context_length,
                display_name=display_name,
                node_count=node_count,
            )
        except ValidationError as exc:
            raise InvalidArgumentError(_describe(exc)) from None

    @field_validator("base_model", "display_name", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        if isinstance(value, str) and (value != value.strip() or not value.isprintable()):
            raise ValueError("must be printable, without surrounding whitespace")
        return value

    @field_validator("base_model", mode="after")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError("must not contain whitespace")
        return value

    @field_validator("learning_rate", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool | str):
            raise ValueError("must be a number")
        return value

    def to_wire(self) -> dict[str, Any]:
        """The camelCase create body: ``serviceMode``, ``trainingConfig`` and the extras."""
        config: dict[str, Any] = {"baseModel": self.base_model, "loraRank": self.lora_rank}
        if self.learning_rate is not None:
            config["learningRate"] = self.learning_rate
        if self.max_context_length is not None:
            config["maxContextLength"] = self.max_context_length
        body: dict[str, Any] = {"serviceMode": True, "trainingConfig": config}
        if self.display_name is not None:
            body["displayName"] = self.display_name
        if self.node_count is not None:
            body["nodeCount"] = self.node_count
        return body


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message} (got {error.get('input')!r:.80})")
    return "invalid TrainerJobConfig: " + "; ".join(problems)


def check_config(config: object) -> TrainerJobConfig:
    """``config`` when it is a :class:`TrainerJobConfig`."""
    if not isinstance(config, TrainerJobConfig):
        raise InvalidArgumentError(
            f"config must be a TrainerJobConfig, got {type(config).__name__}"
        )
    return config


def check_timeout(timeout: object, *, what: str = "timeout") -> float | None:
    """A finite number of seconds > 0, or None for no limit; ``what`` names it in errors."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidArgumentError(f"{what} must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise InvalidArgumentError(f"{what} must be finite and > 0, got {timeout!r}")
    return float(timeout)


def split_new_job(job_id: object) -> tuple[str | None, str | None]:
    """(account or None, job id or None) of a job to create; None lets the server pick."""
    if job_id is None:
        return None, None
    if not isinstance(job_id, str | TrainerJobName):
        raise InvalidArgumentError(f"job_id must be a string, got {type(job_id).__name__}")
    return TrainerJobName.parse_ref(job_id)


# Replies and states ---------------------------------------------------------------------


def check_same_job(job: TrainerJob, config: TrainerJobConfig, conflict: ConflictError) -> None:
    """After a 409 on create: the existing job must train what was asked, else the conflict."""
    existing = job.training_config
    if existing is None:
        return
    if existing.base_model not in (None, config.base_model):
        raise conflict
    if (existing.lora_rank or 0) != config.lora_rank:
        raise conflict


class Step(enum.Enum):
    """What a wait does next with a job in a given state."""

    CHECK_HEALTH = "check health"
    RESUME = "resume"
    POLL = "poll"


def next_step(job: TrainerJob, *, may_resume: bool, resuming: bool = False) -> Step:
    """RUNNING: check health; resumable: resume (when allowed); transitional: poll again.

    A resumable state is polled too while a ``:resume`` may not show yet (``resuming``).
    Tombstones, and other resumable states when resuming is not allowed, raise
    :class:`TrainerJobError`.
    """
    if job.state == JobState.RUNNING:
        return Step.CHECK_HEALTH
    if job.state.resumable and may_resume:
        return Step.RESUME
    if job.state.resumable and resuming:
        return Step.POLL
    if job.state.resumable or job.state.tombstone:
        detail = f": {job.status_message}" if job.status_message else ""
        raise TrainerJobError(
            f"trainer job {job.name} is {job.state}{detail}", job=job.name, state=job.state
        )
    return Step.POLL


class Resumption:
    """When one wait may ``:resume``, and the grace period after a ``:resume``.

    With ``reconnect``, a resumable state is resumed, again only once the job was seen
    PENDING or RUNNING since. After a ``:resume`` (``resumed``: one was sent before the
    wait), a resumable state is polled until the job is seen PENDING or RUNNING or
    ``grace_s`` has passed; then it raises.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        reconnect: bool,
        resumed: bool = False,
        grace_s: float = RESUME_GRACE_S,
    ) -> None:
        self._clock = clock
        self._reconnect = reconnect
        self._grace_s = grace_s
        self._may_resume = reconnect
        self._grace_ends = -math.inf
        if resumed:
            self.resumed()

    def resumed(self) -> None:
        """A ``:resume`` was accepted: no other one until the job is seen restarted."""
        self._may_resume = False
        self._grace_ends = self._clock() + self._grace_s

    def step(self, job: TrainerJob) -> Step:
        """:func:`next_step` for ``job``, just read."""
        if job.state in RESTARTED_STATES:
            self._may_resume = self._reconnect
            self._grace_ends = -math.inf
        resuming = self._clock() < self._grace_ends
        return next_step(job, may_resume=self._may_resume, resuming=resuming)


class Waiter:
    """The deadline and polling cadence of one wait (first poll soon, then x1.5 up to 10 s)."""

    _CADENCE = Backoff(JOB_POLL_FIRST_S, JOB_POLL_MULTIPLIER, JOB_POLL_CAP_S)

    def __init__(self, job: TrainerJobName, timeout: float | None, clock: Callable[[], float]):
        self._job = job
        self._timeout = timeout
        self._clock = clock
        self._deadline = math.inf if timeout is None else clock() + timeout
        self._delays: Iterator[float] = self._CADENCE.delays()

    def delay(self, state: str) -> float:
        """Seconds to sleep before the next poll; raises when the deadline has passed."""
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            raise TrainerJobTimeoutError(
                f"trainer job {self._job} not ready after {self._timeout:g} s (state {state})",
                job=str(self._job),
                state=state,
            )
        return min(next(self._delays), remaining)
