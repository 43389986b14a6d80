"""Trainer jobs: create, get, delete, resume, and wait until ready (docs/protocol.md §1.5).

The official ``TrainerJobManager``'s methods, arguments and returns: ``create`` gives a
``CreatedTrainerJob``, the waits a ``TrainerServiceEndpoint``. Create is idempotent by id
(an id is chosen here when the config has none); ``reconnect_and_wait`` brings a preempted
job back. The configuration and its request are in ``_job_config.py``, the state rules of
waiting in ``_job_rules.py``; this module sends the requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from ..._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from ..._retry import is_retryable, surely_not_acted
from ...checkpoints.names import TrainerJobName
from ...checkpoints.types import JobState, TrainerJob
from ...errors import APIConnectionError, APIError, ConflictError, NotFoundError
from .._base_client import NOT_GIVEN, NotGiven, Request, resolve_api_key, resolve_base_url
from .._job_config import TrainerJobConfig, check_config, create_job_request
from .._job_rules import (
    PENDING_TIMEOUT_S,
    POLL_INTERVAL_S,
    READY_TIMEOUT_S,
    RECONNECT_TIMEOUT_S,
    RESUMABLE_WAIT_S,
    CreatedTrainerJob,
    Resumption,
    Step,
    TrainerServiceEndpoint,
    Waiter,
    WaitLimits,
    check_job_name,
    check_same_job,
    endpoint,
    job_request,
    new_job_id,
    split_new_job,
    trainer_url,
    wait_limits,
)
from .accounts import AsyncAccounts
from .fireworks import AsyncFireworksClient

__all__ = [
    "GATEWAY_ENV",
    "HEALTH_PATH",
    "AsyncJobs",
    "AsyncTrainerJobManager",
    "delete_job_request",
    "health_request",
    "resume_job_request",
]

HEALTH_PATH = "/api/v1/healthz"
GATEWAY_ENV = "FIREWORKS_TRAINER_GATEWAY_URL"


def delete_job_request(job: TrainerJobName) -> Request:
    """``DELETE`` of a trainer job."""
    return Request("DELETE", f"/v1/{job}")


def resume_job_request(job: TrainerJobName) -> Request:
    """``POST /v1/{job}:resume`` with an empty body."""
    return Request("POST", f"/v1/{job}:resume")


def health_request(gateway: str, job: TrainerJobName) -> Request:
    """``GET {trainer}/api/v1/healthz``: the job's trainer, ready when it answers 200."""
    return Request("GET", HEALTH_PATH, base_url=trainer_url(gateway, job))


class AsyncJobs(AsyncAccounts):
    """Trainer jobs on the control plane, and waiting for their trainers."""

    _gateway: str
    boot_time_s: float | None
    """Seconds the last successful wait took, until the trainer answered."""

    def _init_gateway(self, trainer_gateway_url: str | None) -> None:
        gateway = trainer_gateway_url or os.environ.get(GATEWAY_ENV)
        self._gateway = resolve_base_url(gateway) if gateway else self._base_url
        self.boot_time_s = None

    @property
    def trainer_gateway_url(self) -> str:
        """Where trainer APIs are served: ``trainer_gateway_url=``, else
        ``FIREWORKS_TRAINER_GATEWAY_URL``, else the control-plane URL."""
        return self._gateway

    async def create(
        self, config: TrainerJobConfig, *, job_id: str | TrainerJobName | None = None
    ) -> CreatedTrainerJob:
        """Create a trainer job and return at once (it is not ready yet).

        The id is ``job_id``, else ``config.requested_job_id``, else chosen here; a job
        that already has it and trains the same model and rank is returned instead.
        """
        config = check_config(config)
        account, short_id = split_new_job(job_id if job_id is not None else config.requested_job_id)
        account = account or await self.get_account_id()
        short_id = short_id or new_job_id()
        request = create_job_request(account, short_id, config)
        name = TrainerJobName(account, short_id)
        try:
            job = await self._call(request, parse=TrainerJob.model_validate, retry_on=is_retryable)
        except ConflictError as conflict:
            existing = await self.try_get(name)
            if existing is None:
                raise
            check_same_job(existing, config, conflict)
            job = existing
        return CreatedTrainerJob(job_name=job.name, job_id=job.job_id)

    async def get(self, job_id: str | TrainerJobName) -> TrainerJob:
        """A trainer job (a dict of its JSON) by short id (in this account) or full name."""
        request = job_request(await self._job_name(job_id))
        return await self._call(request, parse=TrainerJob.model_validate)

    async def try_get(self, job_id: str | TrainerJobName) -> TrainerJob | None:
        """A trainer job, or None when it does not exist."""
        try:
            return await self.get(job_id)
        except NotFoundError:
            return None

    async def delete(self, job_id: str | TrainerJobName) -> None:
        """Delete a trainer job (its checkpoint rows stay within retention).

        A job already gone is fine; any other failure raises (a job left running bills).
        """
        request = delete_job_request(await self._job_name(job_id))
        try:
            await self._call(request)
        except NotFoundError:
            return

    async def trainer_url(self, job_id: str | TrainerJobName) -> str:
        """The trainer API base URL of a job (what ``FiretitanServiceClient`` takes)."""
        return trainer_url(self._gateway, await self._job_name(job_id))

    async def create_and_wait(
        self,
        config: TrainerJobConfig,
        poll_interval_s: float = POLL_INTERVAL_S,
        timeout_s: float | None = READY_TIMEOUT_S,
        pending_timeout_s: float | None = PENDING_TIMEOUT_S,
        *,
        job_id: str | TrainerJobName | None = None,
        timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> TrainerServiceEndpoint:
        """:meth:`create`, then :meth:`wait_for_ready`."""
        limits = wait_limits(poll_interval_s, timeout_s, pending_timeout_s, timeout)
        created = await self.create(config, job_id=job_id)
        name = TrainerJobName.parse(created.job_name)
        return await self._wait(name, limits, job_name=created.job_name)

    async def wait_for_ready(
        self,
        job_id: str | TrainerJobName,
        job_name: str | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
        timeout_s: float | None = READY_TIMEOUT_S,
        pending_timeout_s: float | None = PENDING_TIMEOUT_S,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> TrainerServiceEndpoint:
        """Wait until the job is RUNNING and its trainer answers ``healthz`` with 200.

        PENDING (waiting for capacity) may last ``pending_timeout_s``; after it, the job
        has ``timeout_s`` to become ready. ``poll_interval_s`` is the longest gap between
        polls (the first ones come sooner). ``timeout=`` (0.1) bounds the whole wait.
        """
        limits = wait_limits(poll_interval_s, timeout_s, pending_timeout_s, timeout)
        name = await self._job_name(job_id)
        return await self._wait(name, limits, job_name=check_job_name(job_name, name))

    async def wait_for_existing(
        self,
        job_id: str | TrainerJobName,
        poll_interval_s: float = POLL_INTERVAL_S,
        timeout_s: float | None = READY_TIMEOUT_S,
        pending_timeout_s: float | None = PENDING_TIMEOUT_S,
    ) -> TrainerServiceEndpoint:
        """:meth:`wait_for_ready` for a job created earlier (by id)."""
        limits = wait_limits(poll_interval_s, timeout_s, pending_timeout_s)
        return await self._wait(await self._job_name(job_id), limits)

    async def resume_and_wait(
        self,
        job_id: str | TrainerJobName,
        poll_interval_s: float = POLL_INTERVAL_S,
        timeout_s: float | None = READY_TIMEOUT_S,
        pending_timeout_s: float | None = PENDING_TIMEOUT_S,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> TrainerServiceEndpoint:
        """``:resume`` the job, then wait until it is ready (polling FAILED for up to 30 s)."""
        limits = wait_limits(poll_interval_s, timeout_s, pending_timeout_s, timeout)
        job = await self._job_name(job_id)
        await self._resume(job)
        return await self._wait(job, limits, resumed=True)

    async def reconnect_and_wait(
        self,
        job_id: str | TrainerJobName,
        poll_interval_s: float = POLL_INTERVAL_S,
        timeout_s: float | None = RECONNECT_TIMEOUT_S,
        max_wait_for_resumable_s: float | None = RESUMABLE_WAIT_S,
        pending_timeout_s: float | None = PENDING_TIMEOUT_S,
        *,
        timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> TrainerServiceEndpoint:
        """Bring a job back after preemption and wait until it is ready.

        RUNNING: wait for health; FAILED, CANCELLED, PAUSED or COMPLETED: ``:resume``, again
        only after the job was seen PENDING or RUNNING since (preempted during the wait);
        DELETING and other transitional states: poll, for up to ``max_wait_for_resumable_s``;
        deleted or early-stopped: :class:`TrainerJobError`. A resumable state read within
        30 s of a ``:resume`` is polled, not raised.
        """
        limits = wait_limits(
            poll_interval_s, timeout_s, pending_timeout_s, timeout, max_wait_for_resumable_s
        )
        return await self._wait(await self._job_name(job_id), limits, reconnect=True)

    async def _resume(self, job: TrainerJobName) -> TrainerJob:
        # Resent only when the server surely did not act: a second :resume could fail a job
        # the first one already restarted.
        request = resume_job_request(job)
        return await self._call(request, parse=TrainerJob.model_validate, retry_on=surely_not_acted)

    async def _try_resume(self, job: TrainerJobName, resumption: Resumption) -> bool:
        """``:resume``; False after a transient failure, which the next polls sort out.

        One that may have been acted on is not sent again while it may still show.
        """
        try:
            await self._resume(job)
        except APIError as exc:
            if not is_retryable(exc):
                raise
            if not surely_not_acted(exc):
                resumption.unsure()
            return False
        resumption.resumed()
        return True

    async def _wait(
        self,
        job: TrainerJobName,
        limits: WaitLimits,
        *,
        job_name: str | None = None,
        reconnect: bool = False,
        resumed: bool = False,
    ) -> TrainerServiceEndpoint:
        started = self._clock()
        waiter = Waiter(job, limits, self._clock)
        resumption = Resumption(self._clock, reconnect=reconnect, resumed=resumed)
        while True:
            current = await self.get(job)
            step = resumption.step(current)
            if step is Step.RESUME and await self._try_resume(job, resumption):
                continue
            if step is Step.CHECK_HEALTH and await self._healthy(job):
                self.boot_time_s = self._clock() - started
                return endpoint(current, job, self._gateway, job_name)
            settling = current.state in (JobState.PENDING, JobState.RUNNING)
            transitional = reconnect and not settling and not current.state.resumable
            await self._retry.async_sleep(waiter.delay(current, transitional=transitional))

    async def _healthy(self, job: TrainerJobName) -> bool:
        """True when the job's trainer answers ``healthz`` with exactly 200."""
        try:
            response = await self._respond(health_request(self._gateway, job))
        except APIConnectionError:
            return False
        if response.status_code in (401, 403):  # waiting cannot fix a key without access
            raise self._status_error(response)
        return response.status_code == 200


class AsyncTrainerJobManager(AsyncJobs, AsyncFireworksClient):
    """Trainer jobs, and everything the control-plane client does (one connection pool).

    ``AsyncTrainerJobManager(api_key, base_url, additional_headers, verify_ssl,
    trainer_gateway_url, *, account_id, timeout, max_retries, http_client)``: the first five
    as the official ``TrainerJobManager`` takes them; ``trainer_gateway_url`` (else
    ``FIREWORKS_TRAINER_GATEWAY_URL``, else ``base_url``) is where trainer APIs are served.
    Use it as a context manager or close it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        additional_headers: Mapping[str, str] | None = None,
        verify_ssl: bool | None = None,
        trainer_gateway_url: str | None = None,
        *,
        account_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        api_key = resolve_api_key(api_key)  # a masked repr in this frame too
        super().__init__(
            api_key,
            base_url,
            additional_headers,
            verify_ssl,
            account_id=account_id,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self._init_gateway(trainer_gateway_url)
