"""The hot-load API of a deployment: signal a snapshot, read every replica, wait for it.

docs/protocol.md §4.2. One URL for signal (``POST``) and status (``GET``), routed by the
``fireworks-deployment`` and ``fireworks-model`` headers. A signal is idempotent by identity,
so it is resent after a timeout, a dropped answer or a 5xx; a gateway that refuses
``reset_prompt_cache`` gets the signal once more without it. A wait has one deadline, polls
soon and then at most every ``poll_interval``, and succeeds only when **every** replica serves
the snapshot. Failures are :class:`~fireworks_training.errors.WeightSyncError`\\ s; the
official names that return a bool return True or raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..._retry import is_retryable
from ...checkpoints.names import DeploymentName
from ...errors import (
    APIError,
    APIStatusError,
    BadRequestError,
    HotLoadError,
    HotLoadTimeoutError,
    InvalidArgumentError,
    WeightSyncError,
)
from .._base_client import Request, bearer
from .._weight_sync_rules import (
    HOT_LOAD_PATH,
    ChainState,
    Deadline,
    Progress,
    ReplicaStatus,
    chain_state,
    load_progress,
    parse_status,
    reset_prompt_cache_refused,
    signal_body,
)
from .deployments import AsyncDeployments

__all__ = ["AsyncHotLoad", "HotLoadTarget"]

SIGNAL_TIMEOUT_S = 60.0
STATUS_TIMEOUT_S = 30.0
HOTLOAD_WAIT_TIMEOUT_S = 400
HOTLOAD_READY_TIMEOUT_S = 300
SOURCE_URL_HEADER = "x-fireworks-hot-load-source-url"
CMEK_HEADER = "x-fireworks-hot-load-cmek-resource"


@dataclass(frozen=True)
class HotLoadTarget:
    """A deployment as the hot-load API addresses it: its name and its base model."""

    deployment: DeploymentName
    base_model: str

    def headers(self, path: str | None = None, cmek_resource: str | None = None) -> dict[str, str]:
        """The routing headers, plus the optional snapshot source and CMEK headers."""
        headers = {"fireworks-deployment": str(self.deployment), "fireworks-model": self.base_model}
        if path:
            headers[SOURCE_URL_HEADER] = path
        if cmek_resource:
            headers[CMEK_HEADER] = cmek_resource
        return headers


class AsyncHotLoad(AsyncDeployments):
    """Hot-loads onto a deployment: signal, status of every replica, waiting."""

    _hotload_url: str
    _reset_prompt_cache_supported: bool | None = None
    _last_hotload_error_message: str | None = None

    @property
    def hotload_api_url(self) -> str:
        """Where hot-load signals and status go."""
        return self._hotload_url

    @property
    def last_hotload_error_message(self) -> str | None:
        """The text of the last failed hot-load wait (official name); None after a success."""
        return self._last_hotload_error_message

    async def _target(self, deployment_id: str | DeploymentName, base_model: str) -> HotLoadTarget:
        if not isinstance(base_model, str) or not base_model.strip():
            raise InvalidArgumentError(f"base_model must be a non-empty string, got {base_model!r}")
        return HotLoadTarget(await self._deployment(deployment_id), base_model.strip())

    def _hot_load_request(
        self,
        method: str,
        target: HotLoadTarget,
        timeout: float,
        body: dict[str, Any] | None = None,
        path: str | None = None,
        cmek_resource: str | None = None,
    ) -> Request:
        headers = {**bearer(self._api_key), **target.headers(path, cmek_resource)}
        return Request(
            method,
            HOT_LOAD_PATH,
            json=body,
            base_url=self._hotload_url,
            timeout=timeout,
            headers=headers,
        )

    # Signal -----------------------------------------------------------------------------

    async def _signal(
        self,
        target: HotLoadTarget,
        identity: str,
        metadata: Mapping[str, Any] | None,
        deadline: Deadline,
        *,
        reset_prompt_cache: bool = True,
        timeout: float = SIGNAL_TIMEOUT_S,
        path: str | None = None,
        cmek_resource: str | None = None,
    ) -> dict[str, Any]:
        """POST the signal, resent (idempotent) on transient failures within ``deadline``."""
        policy = replace(self._retry, retry_on=is_retryable, deadline_s=deadline.timeout(1e9))

        def request(include_reset: bool) -> Request:
            flag = reset_prompt_cache if include_reset else None
            body = signal_body(identity, reset_prompt_cache=flag, metadata=metadata)
            per_try = deadline.timeout(timeout)
            return self._hot_load_request("POST", target, per_try, body, path, cmek_resource)

        include = self._reset_prompt_cache_supported is not False
        try:
            try:
                reply = await policy.acall(lambda: self._send(request(include)))
            except BadRequestError as exc:
                if not (include and reset_prompt_cache_refused(exc)):
                    raise
                self._reset_prompt_cache_supported = include = False
                reply = await policy.acall(lambda: self._send(request(False)))
        except APIError as exc:
            raise _signal_error(exc, identity, target) from exc
        if include:
            self._reset_prompt_cache_supported = True
        return reply

    async def hotload(
        self,
        deployment_id: str,
        base_model: str,
        snapshot_identity: str,
        incremental_snapshot_metadata: dict[str, Any] | None = None,
        reset_prompt_cache: bool = True,
        timeout: int = 60,
        path: str | None = None,
        cmek_resource: str | None = None,
    ) -> dict[str, Any]:
        """Signal the deployment to load ``snapshot_identity`` (a delta with its metadata).

        Returns the server's answer (``{}``); a refused signal raises
        :class:`~fireworks_training.errors.HotLoadError` (category ``signal``).
        """
        target = await self._target(deployment_id, base_model)
        identity = _check_identity(snapshot_identity)
        deadline = Deadline(self._retry.deadline_s, self._clock)
        # Outside the verified chain: what is served is unknown until a status read says.
        self._chain_state(target).replaced(None)
        return await self._signal(
            target,
            identity,
            incremental_snapshot_metadata,
            deadline,
            reset_prompt_cache=reset_prompt_cache,
            timeout=timeout,
            path=path,
            cmek_resource=cmek_resource,
        )

    # Status -----------------------------------------------------------------------------

    async def _status_once(
        self, target: HotLoadTarget, deadline: Deadline, timeout: float = STATUS_TIMEOUT_S
    ) -> list[ReplicaStatus] | None:
        """One status read: every replica; None after a transient failure (poll again)."""
        request = self._hot_load_request("GET", target, deadline.timeout(timeout))
        try:
            body = await self._send(request)
        except APIError as exc:
            if is_retryable(exc):
                return None
            raise _status_error(exc, target) from exc
        return parse_status(body)

    async def _status(self, target: HotLoadTarget, deadline: Deadline) -> list[ReplicaStatus]:
        """Every replica, retried on transient failures within ``deadline``."""
        while True:
            replicas = await self._status_once(target, deadline)
            if replicas is not None:
                return replicas
            if deadline.expired():
                raise HotLoadTimeoutError(
                    f"hot-load status of {target.deployment} unreachable within "
                    f"{deadline.seconds:g} s",
                    category="timeout",
                    deployment_id=target.deployment.deployment_id,
                )
            await self._retry.async_sleep(deadline.poll_delay(self._retry.max_wait_s))

    async def hotload_check_status(
        self, deployment_id: str, base_model: str, timeout: int = 30
    ) -> dict[str, Any]:
        """The hot-load status answer: ``{"replicas": [...]}``, one entry per replica."""
        target = await self._target(deployment_id, base_model)
        request = self._hot_load_request("GET", target, timeout)
        try:
            return await self._call(request, retry_on=is_retryable)
        except APIError as exc:
            raise _status_error(exc, target) from exc

    # Waiting ----------------------------------------------------------------------------

    async def _wait_loaded(
        self, target: HotLoadTarget, identity: str, deadline: Deadline, poll_cap_s: float
    ) -> None:
        """Until every replica serves ``identity``; a replica's error for it raises at once."""
        detail = "no status read yet"
        while True:
            replicas = await self._status_once(target, deadline)
            if replicas is not None:
                state = load_progress(replicas, identity)
                detail = state.detail
                if state.progress is Progress.DONE:
                    self._last_hotload_error_message = None
                    return
                if state.progress is Progress.FAILED:
                    error = HotLoadError(
                        f"{target.deployment} failed to load {identity!r}: {detail}",
                        category="load",
                        identity=identity,
                        deployment_id=target.deployment.deployment_id,
                        server_message=state.server_message,
                    )
                    self._last_hotload_error_message = str(error)
                    raise error
            if deadline.expired():
                timeout = HotLoadTimeoutError(
                    f"{identity!r} not served by every replica of {target.deployment} within "
                    f"{deadline.seconds:g} s: {detail}",
                    category="timeout",
                    identity=identity,
                    deployment_id=target.deployment.deployment_id,
                )
                self._last_hotload_error_message = str(timeout)
                raise timeout
            await self._retry.async_sleep(deadline.poll_delay(poll_cap_s))

    async def _wait_replicas(
        self, target: HotLoadTarget, deadline: Deadline, poll_cap_s: float
    ) -> list[ReplicaStatus]:
        """Until at least one replica reports status (the hot-load manager is up)."""
        while True:
            replicas = await self._status_once(target, deadline)
            if replicas:
                return replicas
            if deadline.expired():
                raise HotLoadTimeoutError(
                    f"no replica of {target.deployment} came up to take a hot-load within "
                    f"{deadline.seconds:g} s",
                    category="not_ready",
                    deployment_id=target.deployment.deployment_id,
                )
            await self._retry.async_sleep(deadline.poll_delay(poll_cap_s))

    async def wait_for_hotload(
        self,
        deployment_id: str,
        base_model: str,
        expected_identity: str,
        timeout_seconds: int = HOTLOAD_WAIT_TIMEOUT_S,
        poll_interval: int = 5,
    ) -> bool:
        """Wait until every replica serves ``expected_identity``: True, or a raise.

        :class:`~fireworks_training.errors.HotLoadError` (category ``load``) when a replica
        reports an error for it, :class:`~fireworks_training.errors.HotLoadTimeoutError` at
        the deadline (naming the replicas not there yet). Never returns False.
        """
        target = await self._target(deployment_id, base_model)
        deadline = Deadline(_check_seconds(timeout_seconds, "timeout_seconds"), self._clock)
        await self._wait_loaded(target, _check_identity(expected_identity), deadline, poll_interval)
        return True

    async def hotload_and_wait(
        self,
        deployment_id: str,
        base_model: str,
        snapshot_identity: str,
        incremental_snapshot_metadata: dict[str, Any] | None = None,
        reset_prompt_cache: bool = True,
        timeout_seconds: int = HOTLOAD_WAIT_TIMEOUT_S,
        path: str | None = None,
        cmek_resource: str | None = None,
    ) -> bool:
        """:meth:`hotload` then :meth:`wait_for_hotload`, within one deadline: True or a raise.

        This sends what it is given; the verified base/delta chain (which decides whether a
        delta may go incremental) is the weight syncer's and the service client's.
        """
        target = await self._target(deployment_id, base_model)
        identity = _check_identity(snapshot_identity)
        deadline = Deadline(_check_seconds(timeout_seconds, "timeout_seconds"), self._clock)
        state = self._chain_state(target)
        state.replaced(None)  # outside the verified chain: unknown until every replica says
        await self._signal(
            target,
            identity,
            incremental_snapshot_metadata,
            deadline,
            reset_prompt_cache=reset_prompt_cache,
            path=path,
            cmek_resource=cmek_resource,
        )
        await self._wait_loaded(target, identity, deadline, self._retry.max_wait_s)
        state.replaced(identity)
        return True

    def _chain_state(self, target: HotLoadTarget) -> ChainState:
        return chain_state(self.hotload_api_url, str(target.deployment))

    async def wait_for_hotload_ready(
        self,
        deployment_id: str,
        base_model: str,
        timeout_s: float = HOTLOAD_READY_TIMEOUT_S,
        poll_interval_s: float = 5.0,
    ) -> None:
        """Wait until a replica reports hot-load status (signalling before that is unsafe)."""
        target = await self._target(deployment_id, base_model)
        deadline = Deadline(_check_seconds(timeout_s, "timeout_s"), self._clock)
        await self._wait_replicas(target, deadline, poll_interval_s)


def _check_identity(identity: object) -> str:
    if not isinstance(identity, str) or not identity.strip():
        raise InvalidArgumentError(f"a snapshot identity must be a non-empty string: {identity!r}")
    return identity.strip()


def _check_seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidArgumentError(f"{what} must be a number of seconds > 0, got {value!r}")
    return float(value)


def _signal_error(exc: APIError, identity: str, target: HotLoadTarget) -> WeightSyncError:
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    server = exc.server_message if isinstance(exc, APIStatusError) else ""
    return HotLoadError(
        f"hot-load signal of {identity!r} to {target.deployment} failed: {exc}",
        category="signal",
        identity=identity,
        deployment_id=target.deployment.deployment_id,
        server_message=server,
        status_code=status,
    )


def _status_error(exc: APIError, target: HotLoadTarget) -> WeightSyncError:
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    server = exc.server_message if isinstance(exc, APIStatusError) else ""
    return HotLoadError(
        f"hot-load status of {target.deployment} failed: {exc}",
        category="status",
        deployment_id=target.deployment.deployment_id,
        server_message=server,
        status_code=status,
    )
