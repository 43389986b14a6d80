"""``TrainerJobManager`` and ``AsyncTrainerJobManager``: trainer jobs on the control plane.

Create (idempotent by id), get, delete, resume, and wait until a job's trainer answers its
health check; ``reconnect_and_wait`` brings a preempted job back (PROTOCOL.md §1.5).
Everything that does no I/O lives in ``_jobs.py`` and ``_control_plane.py``; the two
classes below only send requests and are kept line-for-line parallel.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from .._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, JOB_READY_TIMEOUT_S
from .._retry import is_retryable, surely_not_acted
from .._transport import raise_for_status, resolve_base_url
from ..checkpoints.names import TrainerJobName
from ..checkpoints.types import TrainerJob
from ..errors import APIError, ConflictError
from ._control_plane import (
    trainer_job_request,
)
from ._http import AsyncControlPlane, SyncControlPlane
from ._jobs import (
    HEALTH_PATH,
    Resumption,
    Step,
    TrainerJobConfig,
    Waiter,
    check_config,
    check_same_job,
    check_timeout,
    create_job_request,
    delete_job_request,
    resume_job_request,
    split_new_job,
    trainer_url,
)

__all__ = ["AsyncTrainerJobManager", "TrainerJob", "TrainerJobConfig", "TrainerJobManager"]

_clock = time.monotonic


class _TrainerGateway:
    """What both managers add to a control-plane client: the trainer gateway and a clock."""

    _api_key: str
    _base_url: str

    def _init_gateway(self, trainer_gateway_url: str | None) -> None:
        gateway = trainer_gateway_url
        self._gateway = resolve_base_url(gateway) if gateway is not None else self._base_url
        self._clock = _clock

    @property
    def trainer_gateway_url(self) -> str:
        """Where trainer APIs are served (by default the control-plane URL)."""
        return self._gateway

    def _health_error(self, response: httpx.Response) -> None:
        """Raise for answers that waiting cannot fix (a key without access)."""
        if response.status_code in (401, 403):
            raise_for_status(response, secret=self._api_key)


class TrainerJobManager(_TrainerGateway, SyncControlPlane):
    """Trainer jobs: create, get, delete, resume, and wait until they are ready.

    Same configuration as :class:`~fireworks_training.FireworksClient`; ``trainer_gateway_url``
    overrides where trainer APIs are served. Use it as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        account_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        additional_headers: Mapping[str, str] | None = None,
        trainer_gateway_url: str | None = None,
    ) -> None:
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

    # Jobs -----------------------------------------------------------------------------

    def create(
        self, config: TrainerJobConfig, *, job_id: str | TrainerJobName | None = None
    ) -> TrainerJob:
        """Create a trainer job; with ``job_id``, an existing job of that id is returned."""
        config = check_config(config)
        account, short_id = split_new_job(job_id)
        account = account or self.get_account_id()
        request = create_job_request(account, short_id, config)
        # Without an id a repeated POST could make a second job: resend only when safe.
        policy = self._retry if short_id else self._retry.with_predicate(surely_not_acted)
        try:
            return TrainerJob.model_validate(policy.call(lambda: self._send(request)))
        except ConflictError as conflict:
            if short_id is None:
                raise
            job = self.get(TrainerJobName(account, short_id))
            check_same_job(job, config, conflict)
            return job

    def get(self, job_id: str | TrainerJobName) -> TrainerJob:
        """A trainer job by short id (in this account) or full name."""
        return TrainerJob.model_validate(self._call(trainer_job_request(self._job_name(job_id))))

    def delete(self, job_id: str | TrainerJobName) -> None:
        """Delete a trainer job (its checkpoint rows stay within retention)."""
        self._call(delete_job_request(self._job_name(job_id)))

    def trainer_url(self, job_id: str | TrainerJobName) -> str:
        """The trainer API base URL of a job (what ``FiretitanServiceClient`` takes)."""
        return trainer_url(self._gateway, self._job_name(job_id))

    # Waiting --------------------------------------------------------------------------

    def wait_for_ready(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """Wait until the job is RUNNING and its trainer answers ``healthz`` with 200."""
        seconds = check_timeout(timeout)
        job = self._job_name(job_id)
        return self._wait(job, Waiter(job, seconds, self._clock), reconnect=False)

    def create_and_wait(
        self,
        config: TrainerJobConfig,
        *,
        job_id: str | TrainerJobName | None = None,
        timeout: float | None = JOB_READY_TIMEOUT_S,
    ) -> TrainerJob:
        """:meth:`create`, then :meth:`wait_for_ready`."""
        seconds = check_timeout(timeout)
        created = self.create(config, job_id=job_id)
        job = TrainerJobName.parse(created.name)
        return self._wait(job, Waiter(job, seconds, self._clock), reconnect=False)

    def resume_and_wait(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """``:resume`` the job, then wait until it is ready (polling FAILED for up to 30 s)."""
        seconds = check_timeout(timeout)
        job = self._job_name(job_id)
        self._resume(job)
        return self._wait(job, Waiter(job, seconds, self._clock), resumed=True)

    def reconnect_and_wait(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """Bring a job back after preemption and wait until it is ready.

        RUNNING: wait for health; FAILED, CANCELLED, PAUSED or COMPLETED: ``:resume``, again
        only after the job was seen PENDING or RUNNING since (preempted during the wait);
        other transitional states: keep polling; deleted: :class:`TrainerJobError`. A
        resumable state read within 30 s of a ``:resume`` is polled, not raised.
        """
        seconds = check_timeout(timeout)
        job = self._job_name(job_id)
        return self._wait(job, Waiter(job, seconds, self._clock), reconnect=True)

    def _resume(self, job: TrainerJobName) -> TrainerJob:
        # Resent only when the server surely did not act: a second :resume could fail a job
        # the first one already restarted.
        policy = self._retry.with_predicate(surely_not_acted)
        body = policy.call(lambda: self._send(resume_job_request(job)))
        return TrainerJob.model_validate(body)

    def _try_resume(self, job: TrainerJobName) -> bool:
        """``:resume``; False after a transient failure, which the next poll sorts out."""
        try:
            self._resume(job)
        except APIError as exc:
            if not is_retryable(exc):
                raise
            return False
        return True

    def _wait(
        self,
        job: TrainerJobName,
        waiter: Waiter,
        *,
        reconnect: bool = False,
        resumed: bool = False,
    ) -> TrainerJob:
        resumption = Resumption(self._clock, reconnect=reconnect, resumed=resumed)
        while True:
            current = self.get(job)
            step = resumption.step(current)
            if step is Step.RESUME and self._try_resume(job):
                resumption.resumed()
                continue
            if step is Step.CHECK_HEALTH and self._healthy(job):
                return current
            self._sleep(waiter.delay(current.state))

    def _healthy(self, job: TrainerJobName) -> bool:
        """True when ``GET {trainer}/api/v1/healthz`` answers exactly 200."""
        url = trainer_url(self._gateway, job) + HEALTH_PATH
        try:
            response = self._http.get(url, headers=self._headers, timeout=self._timeout)
        except httpx.TransportError:
            return False
        self._health_error(response)
        return response.status_code == 200


class AsyncTrainerJobManager(_TrainerGateway, AsyncControlPlane):
    """The asyncio twin of :class:`TrainerJobManager`: the same methods, awaited."""

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

    # Jobs -----------------------------------------------------------------------------

    async def create(
        self, config: TrainerJobConfig, *, job_id: str | TrainerJobName | None = None
    ) -> TrainerJob:
        """Create a trainer job; with ``job_id``, an existing job of that id is returned."""
        config = check_config(config)
        account, short_id = split_new_job(job_id)
        account = account or await self.get_account_id()
        request = create_job_request(account, short_id, config)
        # Without an id a repeated POST could make a second job: resend only when safe.
        policy = self._retry if short_id else self._retry.with_predicate(surely_not_acted)
        try:
            return TrainerJob.model_validate(await policy.acall(lambda: self._send(request)))
        except ConflictError as conflict:
            if short_id is None:
                raise
            job = await self.get(TrainerJobName(account, short_id))
            check_same_job(job, config, conflict)
            return job

    async def get(self, job_id: str | TrainerJobName) -> TrainerJob:
        """A trainer job by short id (in this account) or full name."""
        request = trainer_job_request(await self._job_name(job_id))
        return TrainerJob.model_validate(await self._call(request))

    async def delete(self, job_id: str | TrainerJobName) -> None:
        """Delete a trainer job (its checkpoint rows stay within retention)."""
        await self._call(delete_job_request(await self._job_name(job_id)))

    async def trainer_url(self, job_id: str | TrainerJobName) -> str:
        """The trainer API base URL of a job (what ``FiretitanServiceClient`` takes)."""
        return trainer_url(self._gateway, await self._job_name(job_id))

    # Waiting --------------------------------------------------------------------------

    async def wait_for_ready(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """Wait until the job is RUNNING and its trainer answers ``healthz`` with 200."""
        seconds = check_timeout(timeout)
        job = await self._job_name(job_id)
        return await self._wait(job, Waiter(job, seconds, self._clock), reconnect=False)

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
        job = TrainerJobName.parse(created.name)
        return await self._wait(job, Waiter(job, seconds, self._clock), reconnect=False)

    async def resume_and_wait(
        self, job_id: str | TrainerJobName, timeout: float | None = JOB_READY_TIMEOUT_S
    ) -> TrainerJob:
        """``:resume`` the job, then wait until it is ready (polling FAILED for up to 30 s)."""
        seconds = check_timeout(timeout)
        job = await self._job_name(job_id)
        await self._resume(job)
        return await self._wait(job, Waiter(job, seconds, self._clock), resumed=True)

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
        job = await self._job_name(job_id)
        return await self._wait(job, Waiter(job, seconds, self._clock), reconnect=True)

    async def _resume(self, job: TrainerJobName) -> TrainerJob:
        # Resent only when the server surely did not act: a second :resume could fail a job
        # the first one already restarted.
        policy = self._retry.with_predicate(surely_not_acted)
        body = await policy.acall(lambda: self._send(resume_job_request(job)))
        return TrainerJob.model_validate(body)

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
        waiter: Waiter,
        *,
        reconnect: bool = False,
        resumed: bool = False,
    ) -> TrainerJob:
        resumption = Resumption(self._clock, reconnect=reconnect, resumed=resumed)
        while True:
            current = await self.get(job)
            step = resumption.step(current)
            if step is Step.RESUME and await self._try_resume(job):
                resumption.resumed()
                continue
            if step is Step.CHECK_HEALTH and await self._healthy(job):
                return current
            await self._async_sleep(waiter.delay(current.state))

    async def _healthy(self, job: TrainerJobName) -> bool:
        """True when ``GET {trainer}/api/v1/healthz`` answers exactly 200."""
        url = trainer_url(self._gateway, job) + HEALTH_PATH
        try:
            response = await self._http.get(url, headers=self._headers, timeout=self._timeout)
        except httpx.TransportError:
            return False
        self._health_error(response)
        return response.status_code == 200
