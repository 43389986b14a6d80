"""Trainer jobs: create, get, delete, resume, and wait until ready (docs/protocol.md §1.5).

Create is idempotent by id; ``reconnect_and_wait`` brings a preempted job back. The state
rules of waiting (which state leads to what, the grace after a ``:resume``, the deadline)
are in ``_job_rules.py``; this module sends the requests.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ..._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, JOB_READY_TIMEOUT_S
from ..._retry import is_retryable, surely_not_acted
from ...checkpoints.names import TrainerJobName
from ...checkpoints.types import TrainerJob
from ...errors import APIConnectionError, APIError, ConflictError
from .._base_client import Request, resolve_api_key, resolve_base_url
from .._job_rules import (
    Resumption,
    Step,
    TrainerJobConfig,
    Waiter,
    check_config,
    check_same_job,
    check_timeout,
    split_new_job,
)
from .accounts import AsyncAccounts

__all__ = [
    "HEALTH_PATH",
    "AsyncJobs",
    "AsyncTrainerJobManager",
    "create_job_request",
    "delete_job_request",
    "health_request",
    "job_request",
    "resume_job_request",
    "trainer_url",
]

HEALTH_PATH = "/api/v1/healthz"


def trainer_url(gateway: str, job: TrainerJobName) -> str:
    """The trainer API base URL of a job on a gateway."""
    return f"{gateway}/training/v1/rlorTrainerJobs/{job.account}/{job.job_id}"


def create_job_request(account: str, job_id: str | None, config: TrainerJobConfig) -> Request:
    """``POST /v1/accounts/{a}/rlorTrainerJobs[?rlorTrainerJobId=]`` with the camelCase body."""
    params = {"rlorTrainerJobId": job_id} if job_id else None
    path = f"/v1/accounts/{account}/rlorTrainerJobs"
    return Request("POST", path, params=params, json=config.to_wire())


def job_request(job: TrainerJobName) -> Request:
    """``GET`` of a trainer job."""
    return Request("GET", f"/v1/{job}")


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

    def _init_gateway(self, trainer_gateway_url: str | None) -> None:
        gateway = trainer_gateway_url
        self._gateway = resolve_base_url(gateway) if gateway is not None else self._base_url

    @property
    def trainer_gateway_url(self) -> str:
        """Where trainer APIs are served (by default the control-plane URL)."""
        return self._gateway

    async def create(
        self, config: TrainerJobConfig, *, job_id: str | TrainerJobName | None = None
    ) -> TrainerJob:
        """Create a trainer job; with ``job_id``, an existing job of that id is returned."""
        config = check_config(config)
        account, short_id = split_new_job(job_id)
        account = account or await self.get_account_id()
        request = create_job_request(account, short_id, config)
        # Without an id a repeated POST could make a second job: resend only when safe.
        retry_on = is_retryable if short_id else surely_not_acted
        try:
            return await self._call(request, parse=TrainerJob.model_validate, retry_on=retry_on)
        except ConflictError as conflict:
            if short_id is None:
                raise
            job = await self.get(TrainerJobName(account, short_id))
            check_same_job(job, config, conflict)
            return job

    async def get(self, job_id: str | TrainerJobName) -> TrainerJob:
        """A trainer job by short id (in this account) or full name."""
        request = job_request(await self._job_name(job_id))
        return await self._call(request, parse=TrainerJob.model_validate)

    async def delete(self, job_id: str | TrainerJobName) -> None:
        """Delete a trainer job (its checkpoint rows stay within retention)."""
        await self._call(delete_job_request(await self._job_name(job_id)))

    async def trainer_url(self, job_id: str | TrainerJobName) -> str:
        """The trainer API base URL of a job (what ``FiretitanServiceClient`` takes)."""
        return trainer_url(self._gateway, await self._job_name(job_id))

    async def wait_for_ready(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """Wait until the job is RUNNING and its trainer answers ``healthz`` with 200."""
        seconds = check_timeout(timeout)
        return await self._wait(await self._job_name(job_id), seconds)

    async def create_and_wait(
        self,
        config: TrainerJobConfig,
        *,
        job_id: str | TrainerJobName | None = None,
        timeout: float | None = JOB_READY_TIMEOUT_S,
    ) -> TrainerJob:
        """:meth:`create`, then :meth:`wait_for_ready`."""
        seconds = check_timeout(timeout)
        created = await self.create(config, job_id=job_id)
        return await self._wait(TrainerJobName.parse(created.name), seconds)

    async def resume_and_wait(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """``:resume`` the job, then wait until it is ready (polling FAILED for up to 30 s)."""
        seconds = check_timeout(timeout)
        job = await self._job_name(job_id)
        await self._resume(job)
        return await self._wait(job, seconds, resumed=True)

    async def reconnect_and_wait(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """Bring a job back after preemption and wait until it is ready.

        RUNNING: wait for health; FAILED, CANCELLED, PAUSED or COMPLETED: ``:resume``, again
        only after the job was seen PENDING or RUNNING since (preempted during the wait);
        other transitional states: keep polling; deleted: :class:`TrainerJobError`. A
        resumable state read within 30 s of a ``:resume`` is polled, not raised.
        """
        seconds = check_timeout(timeout)
        return await self._wait(await self._job_name(job_id), seconds, reconnect=True)

    async def _resume(self, job: TrainerJobName) -> TrainerJob:
        # Resent only when the server surely did not act: a second :resume could fail a job
        # the first one already restarted.
        request = resume_job_request(job)
        return await self._call(request, parse=TrainerJob.model_validate, retry_on=surely_not_acted)

    async def _try_resume(self, job: TrainerJobName) -> bool:
        """``:resume``; False after a transient failure, which the next poll sorts out."""
        try:
            await self._resume(job)
        except APIError as exc:
            if not is_retryable(exc):
                raise
            return False
        return True

    async def _wait(
        self,
        job: TrainerJobName,
        timeout: float | None,
        *,
        reconnect: bool = False,
        resumed: bool = False,
    ) -> TrainerJob:
        waiter = Waiter(job, timeout, self._clock)
        resumption = Resumption(self._clock, reconnect=reconnect, resumed=resumed)
        while True:
            current = await self.get(job)
            step = resumption.step(current)
            if step is Step.RESUME and await self._try_resume(job):
                resumption.resumed()
                continue
            if step is Step.CHECK_HEALTH and await self._healthy(job):
                return current
            await self._retry.async_sleep(waiter.delay(current.state))

    async def _healthy(self, job: TrainerJobName) -> bool:
        """True when the job's trainer answers ``healthz`` with exactly 200."""
        try:
            response = await self._respond(health_request(self._gateway, job))
        except APIConnectionError:
            return False
        if response.status_code in (401, 403):  # waiting cannot fix a key without access
            raise self._status_error(response)
        return response.status_code == 200


class AsyncTrainerJobManager(AsyncJobs):
    """Trainer jobs: create, get, delete, resume, and wait until they are ready.

    Same configuration as the control-plane client; ``trainer_gateway_url`` overrides where
    trainer APIs are served. Use it as a context manager or close it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        account_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        additional_headers: Mapping[str, str] | None = None,
        trainer_gateway_url: str | None = None,
    ) -> None:
        api_key = resolve_api_key(api_key)  # a masked repr in this frame too
        super().__init__(
            api_key,
            base_url,
            account_id=account_id,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            additional_headers=additional_headers,
        )
        self._init_gateway(trainer_gateway_url)
