"""Trainer jobs without I/O: what the waits return, argument checks, and the rules of waiting.

docs/protocol.md §1.5. Which state leads to what (check health, ``:resume``, poll again), the
grace after a ``:resume``, and the deadlines and cadence of one wait: PENDING (waiting for
capacity) is bounded by ``pending_timeout_s``; every other state not yet ready by
``timeout_s``, counted from the first state past PENDING; in ``reconnect_and_wait``, a
transitional state (DELETING, CANCELLING, ...) by ``max_wait_for_resumable_s``. The jobs
resource (``_async/jobs.py``) sends the requests.
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .._backoff import Backoff
from .._constants import JOB_POLL_FIRST_S, JOB_POLL_MULTIPLIER
from ..checkpoints.names import TrainerJobName
from ..checkpoints.types import JobState, TrainerJob
from ..errors import (
    ConflictError,
    InvalidArgumentError,
    TrainerJobError,
    TrainerJobTimeoutError,
)
from ._base_client import NotGiven, Request
from ._job_config import TrainerJobConfig

__all__ = [
    "AUTO_JOB_ID_PREFIX",
    "PENDING_TIMEOUT_S",
    "POLL_INTERVAL_S",
    "READY_TIMEOUT_S",
    "RECONNECT_TIMEOUT_S",
    "RESTARTED_STATES",
    "RESUMABLE_WAIT_S",
    "RESUME_GRACE_S",
    "CreatedTrainerJob",
    "Resumption",
    "Step",
    "TrainerServiceEndpoint",
    "WaitLimits",
    "Waiter",
    "check_job_name",
    "check_same_job",
    "check_timeout",
    "endpoint",
    "job_request",
    "new_job_id",
    "next_step",
    "split_new_job",
    "trainer_url",
    "wait_limits",
]

# The official client's defaults, so that a call without them waits as long there as here.
POLL_INTERVAL_S = 5.0
READY_TIMEOUT_S = 900.0
RECONNECT_TIMEOUT_S = 600.0
RESUMABLE_WAIT_S = 120.0
PENDING_TIMEOUT_S = 172800.0
AUTO_JOB_ID_PREFIX = "training-api-service"

# Seen after a :resume, these show it took effect: a later FAILED is a new preemption.
RESTARTED_STATES = frozenset({JobState.PENDING, JobState.RUNNING})
# After a :resume, how long a read may still show the old resumable state (a slow control
# plane) before that state is taken as the answer.
RESUME_GRACE_S = 30.0


@dataclass
class TrainerServiceEndpoint:
    """A ready trainer: its job, and the URL its trainer API is served at (``base_url``)."""

    job_name: str
    job_id: str
    base_url: str
    max_context_length: int | None = None


@dataclass
class CreatedTrainerJob:
    """A trainer job just created (not ready yet): its full name and short id."""

    job_name: str
    job_id: str


def trainer_url(gateway: str, job: TrainerJobName) -> str:
    """The trainer API base URL of a job on a gateway."""
    return f"{gateway}/training/v1/rlorTrainerJobs/{job.account}/{job.job_id}"


def endpoint(
    job: TrainerJob, name: TrainerJobName, gateway: str, job_name: str | None
) -> TrainerServiceEndpoint:
    """The endpoint of a ready job (``max_context_length`` when the job states one)."""
    config = job.training_config
    length = config.max_context_length if config is not None else None
    return TrainerServiceEndpoint(
        job_name=job_name or str(name),
        job_id=name.job_id,
        base_url=trainer_url(gateway, name),
        max_context_length=length if length is not None and length > 0 else None,
    )


def job_request(job: TrainerJobName) -> Request:
    """``GET`` of a trainer job."""
    return Request("GET", f"/v1/{job}")


def new_job_id() -> str:
    """An id for a job to create, chosen here so that a resent create cannot make two jobs."""
    return f"{AUTO_JOB_ID_PREFIX}-{secrets.token_hex(4)}"


def check_timeout(timeout: object, *, what: str = "timeout") -> float | None:
    """A finite number of seconds > 0, or None for no limit; ``what`` names it in errors."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidArgumentError(f"{what} must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise InvalidArgumentError(f"{what} must be finite and > 0, got {timeout!r}")
    return float(timeout)


@dataclass(frozen=True)
class WaitLimits:
    """The budgets of one wait, checked (None: no limit)."""

    poll_interval_s: float
    timeout_s: float | None
    pending_timeout_s: float | None
    resumable_wait_s: float | None = None


def wait_limits(
    poll_interval_s: object,
    timeout_s: object,
    pending_timeout_s: object,
    timeout: object = NotGiven(),
    resumable_wait_s: object = None,
) -> WaitLimits:
    """Checked budgets; ``timeout`` (0.1's one bound for the whole wait) sets both others."""
    names = ("timeout_s", "pending_timeout_s")
    if not isinstance(timeout, NotGiven):
        timeout_s = pending_timeout_s = timeout
        names = ("timeout", "timeout")
    interval = check_timeout(poll_interval_s, what="poll_interval_s")
    if interval is None:
        raise InvalidArgumentError("poll_interval_s must be a number of seconds, got None")
    return WaitLimits(
        interval,
        check_timeout(timeout_s, what=names[0]),
        check_timeout(pending_timeout_s, what=names[1]),
        check_timeout(resumable_wait_s, what="max_wait_for_resumable_s"),
    )


def check_job_name(job_name: object, job: TrainerJobName) -> str | None:
    """``job_name`` when it names ``job`` (or None); it only labels the endpoint."""
    if job_name is None:
        return None
    if not isinstance(job_name, str) or TrainerJobName.parse_ref(job_name)[1] != job.job_id:
        raise InvalidArgumentError(f"job_name {job_name!r} does not name trainer job {job}")
    return job_name


def split_new_job(job_id: object) -> tuple[str | None, str | None]:
    """(account or None, job id or None) of a job to create; None: an id is chosen here."""
    if job_id is None:
        return None, None
    if not isinstance(job_id, str | TrainerJobName):
        raise InvalidArgumentError(f"job_id must be a string, got {type(job_id).__name__}")
    return TrainerJobName.parse_ref(job_id)


# Replies and states ---------------------------------------------------------------------


def check_same_job(job: TrainerJob, config: TrainerJobConfig, conflict: ConflictError) -> None:
    """After a 409 on create: the existing job must train what was asked, else the conflict.

    A deleted job keeps its id (its rows stay for promotion): a new job needs a new id.
    """
    if job.state in (JobState.DELETED, JobState.DELETING):
        raise TrainerJobError(
            f"trainer job {job.name} is {job.state}: its id cannot be used again; "
            "create the job under a new id",
            job=job.name,
            state=job.state,
        )
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


def next_step(
    job: TrainerJob, *, may_resume: bool, resuming: bool = False, reconnect: bool = False
) -> Step:
    """RUNNING: check health; resumable: resume (when allowed); transitional: poll again.

    A resumable state is polled too while a ``:resume`` may not show yet (``resuming``), and
    DELETING while reconnecting (the control plane may still be handling the preemption).
    Other tombstones, and resumable states when resuming is not allowed, raise
    :class:`TrainerJobError`.
    """
    state = job.state
    if state == JobState.RUNNING:
        return Step.CHECK_HEALTH
    if state.resumable and may_resume:
        return Step.RESUME
    if state.resumable and resuming:
        return Step.POLL
    if state == JobState.DELETING and reconnect:
        return Step.POLL
    if state.resumable or state.tombstone:
        detail = f": {job.status_message}" if job.status_message else ""
        raise TrainerJobError(
            f"trainer job {job.name} is {state}{detail}", job=job.name, state=state
        )
    return Step.POLL


class Resumption:
    """When one wait may ``:resume``, and the grace period after a ``:resume``.

    With ``reconnect``, a resumable state is resumed, again only once the job was seen
    PENDING or RUNNING since. After a ``:resume`` (``resumed``: one was sent before the
    wait), a resumable state is polled until the job is seen PENDING or RUNNING or
    ``grace_s`` has passed; then it raises. After a ``:resume`` that failed but may have
    been acted on (``unsure``), it is polled the same way, and resumed again after the grace.
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
        self._held_until = -math.inf
        if resumed:
            self.resumed()

    def resumed(self) -> None:
        """A ``:resume`` was accepted: no other one until the job is seen restarted."""
        self._may_resume = False
        self._grace_ends = self._clock() + self._grace_s

    def unsure(self) -> None:
        """A ``:resume`` failed after it was sent: no other one while it may still show."""
        self._held_until = self._clock() + self._grace_s

    def step(self, job: TrainerJob) -> Step:
        """:func:`next_step` for ``job``, just read."""
        if job.state in RESTARTED_STATES:
            self._may_resume = self._reconnect
            self._grace_ends = self._held_until = -math.inf
        now = self._clock()
        held = now < self._held_until
        return next_step(
            job,
            may_resume=self._may_resume and not held,
            resuming=held or now < self._grace_ends,
            reconnect=self._reconnect,
        )


class Waiter:
    """The deadlines and polling cadence of one wait (first poll soon, then up to the interval)."""

    def __init__(self, job: TrainerJobName, limits: WaitLimits, clock: Callable[[], float]):
        self._job = job
        self._limits = limits
        self._clock = clock
        self._start = clock()
        self._ready_by = math.inf  # set once the job is first seen past PENDING
        self._stuck_since: float | None = None
        cap = limits.poll_interval_s
        cadence = Backoff(min(JOB_POLL_FIRST_S, cap), JOB_POLL_MULTIPLIER, cap)
        self._delays: Iterator[float] = cadence.delays()

    def delay(self, job: TrainerJob, *, transitional: bool = False) -> float:
        """Seconds to sleep before the next poll; raises when the state's deadline passed.

        ``transitional``: the job is in a state reconnecting waits out (not PENDING,
        RUNNING or resumable), bounded by ``max_wait_for_resumable_s`` from when it was
        first seen in one.
        """
        now = self._clock()
        limits = self._limits
        if job.state == JobState.PENDING:
            deadline = self._after(self._start, limits.pending_timeout_s)
            what, limit = "pending for capacity", limits.pending_timeout_s
        else:
            if self._ready_by == math.inf:
                self._ready_by = self._after(now, limits.timeout_s)
            deadline, what, limit = self._ready_by, "not ready", limits.timeout_s
        if transitional and limits.resumable_wait_s is not None:
            self._stuck_since = now if self._stuck_since is None else self._stuck_since
            if now - self._stuck_since >= limits.resumable_wait_s:
                raise TrainerJobError(
                    f"trainer job {self._job} stayed {job.state} for "
                    f"{limits.resumable_wait_s:g} s without reaching a resumable state",
                    job=str(self._job),
                    state=job.state,
                )
        else:
            self._stuck_since = None
        if now >= deadline:
            raise TrainerJobTimeoutError(
                f"trainer job {self._job} {what} after {limit:g} s (state {job.state})",
                job=str(self._job),
                state=job.state,
            )
        return min(next(self._delays), deadline - now)

    @staticmethod
    def _after(start: float, seconds: float | None) -> float:
        return math.inf if seconds is None else start + seconds
