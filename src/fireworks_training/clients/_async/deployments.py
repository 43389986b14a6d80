"""Deployments on the control plane: create or get, wait, update, scale, delete, re-attach.

docs/protocol.md §4.1. The config, the typed resource and the rules of waiting are in
``_deployment_rules.py``; this module sends the requests. Unlike the official client,
nothing here swallows a failure: ``delete`` and ``scale_to_zero`` raise when the server
refuses (a deployment already gone is not a failure of ``delete``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..._retry import is_retryable
from ...checkpoints.names import DeploymentName
from ...errors import APIError, ConflictError, DeploymentError, InvalidArgumentError, NotFoundError
from .._base_client import Request, bearer
from .._deployment_rules import (
    TERMINAL_STATES,
    DeploymentConfig,
    DeploymentInfo,
    DeploymentWaiter,
    check_matches,
    deployment_info,
    normalize_transition_type,
    qualify_trainer_job,
    scale_to_zero_body,
)
from .accounts import AsyncAccounts

__all__ = [
    "COMPLETIONS_PATH",
    "AsyncDeployments",
    "probe_body",
]

COMPLETIONS_PATH = "/inference/v1/completions"
DELETION_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 10.0


def probe_body(model: str) -> dict[str, Any]:
    """The non-streamed completion a readiness probe and warmup send."""
    return {"model": model, "prompt": [1, 2], "max_tokens": 4, "temperature": 0.0}


def _check_mask(update_mask: object) -> str:
    paths = update_mask.split(",") if isinstance(update_mask, str) else update_mask
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
        raise InvalidArgumentError(f"update_mask must be a string or a list of them: {paths!r}")
    cleaned = [p.strip() for p in paths if p.strip()]
    if not cleaned:
        # Without a mask the server resets every field the body leaves out.
        raise InvalidArgumentError("update_mask must name at least one field")
    return ",".join(cleaned)


class AsyncDeployments(AsyncAccounts):
    """Deployment resources of the account, and waiting for them."""

    _inference_url: str
    boot_time_s: float | None = None

    @property
    def inference_url(self) -> str:
        """Where completions (and readiness probes) go."""
        return self._inference_url

    async def _deployment(self, deployment_id: str | DeploymentName) -> DeploymentName:
        account, deployment = DeploymentName.parse_ref(deployment_id)
        return DeploymentName(account or await self.get_account_id(), deployment)

    async def _read(self, name: DeploymentName) -> DeploymentInfo | None:
        try:
            body = await self._call(Request("GET", f"/v1/{name}"))
        except NotFoundError:
            return None
        return deployment_info(name.deployment_id, name.account, body)

    async def get(self, deployment_id: str | DeploymentName) -> DeploymentInfo | None:
        """The deployment, or None when it does not exist (404)."""
        return await self._read(await self._deployment(deployment_id))

    async def create_or_get(
        self, config: DeploymentConfig, force_recreate: bool = False
    ) -> DeploymentInfo:
        """The deployment ``config`` describes: created, or the existing one when it matches.

        An existing deployment that is failed or being deleted (or any, with
        ``force_recreate``) is deleted and created again; one that serves another base model,
        has hot load off, or is attached to another trainer job than the config names raises
        :class:`~fireworks_training.errors.DeploymentError`. Never returns a deployment that
        is being deleted.
        """
        if not isinstance(config, DeploymentConfig):
            raise InvalidArgumentError(f"config must be a DeploymentConfig, got {config!r}")
        config.validate()
        name = await self._deployment(config.deployment_id)
        existing = await self._read(name)
        if existing is not None:
            if existing.state not in TERMINAL_STATES and not force_recreate:
                check_matches(existing, config, name.account)
                return existing
            if existing.state not in ("DELETING", "DELETED"):
                await self._delete(name)
            await self._wait_gone(name)
        request = Request(
            "POST",
            f"/v1/accounts/{name.account}/deployments",
            params=config.create_params(),
            json=config.create_body(name.account),
        )
        try:
            body = await self._call(request, retry_on=is_retryable)  # idempotent by id
        except ConflictError:
            found = await self._read(name)
            if found is None:
                raise
            if found.state in TERMINAL_STATES:
                raise DeploymentError(
                    f"deployment {name.deployment_id!r} exists in state {found.state}",
                    deployment_id=name.deployment_id,
                    state=found.state,
                ) from None
            check_matches(found, config, name.account)
            return found
        return deployment_info(name.deployment_id, name.account, body)

    async def _delete(self, name: DeploymentName) -> None:
        params = {"ignoreChecks": "true", "hard": "true"}
        try:
            await self._call(Request("DELETE", f"/v1/{name}", params=params))
        except NotFoundError:
            return  # already gone: what delete asked for

    async def delete(self, deployment_id: str | DeploymentName) -> None:
        """Delete the deployment (``hard``, ignoring checks); raises when the server refuses.

        A deployment that does not exist is not an error.
        """
        await self._delete(await self._deployment(deployment_id))

    async def _delete_deployment(self, deployment_id: str) -> None:
        """Same as :meth:`delete` (an official private name some code calls)."""
        await self.delete(deployment_id)

    async def _wait_gone(self, name: DeploymentName) -> None:
        waiter = DeploymentWaiter(
            name.deployment_id, "deleted", DELETION_TIMEOUT_S, 2.0, self._clock
        )
        while True:
            found = await self._read(name)
            if found is None or found.state == "DELETED":
                return
            await self._retry.async_sleep(waiter.delay(found.state))

    async def update(
        self,
        deployment_id: str | DeploymentName,
        body: Mapping[str, Any],
        update_mask: str | list[str],
    ) -> DeploymentInfo:
        """PATCH only the fields ``update_mask`` names (snake_case paths, camelCase ``body``)."""
        mask = _check_mask(update_mask)
        name = await self._deployment(deployment_id)
        request = Request("PATCH", f"/v1/{name}", params={"updateMask": mask}, json=dict(body))
        reply = await self._call(request, retry_on=is_retryable)  # the same PATCH is harmless
        return deployment_info(name.deployment_id, name.account, reply)

    async def scale_to_zero(self, deployment_id: str | DeploymentName) -> None:
        """Set both replica bounds to zero (masked: no other field changes); raises on failure."""
        body, mask = scale_to_zero_body()
        await self.update(deployment_id, body, mask)

    async def wait_for_ready(
        self,
        deployment_id: str | DeploymentName,
        timeout_s: float = 600,
        poll_interval_s: float = 15,
    ) -> DeploymentInfo:
        """Wait until the deployment is READY (or CREATING while it already answers).

        A missing, failed or deleted deployment raises
        :class:`~fireworks_training.errors.DeploymentError`; the deadline
        :class:`~fireworks_training.errors.DeploymentTimeoutError`. Polls soon, then back
        off to ``poll_interval_s``.
        """
        name = await self._deployment(deployment_id)
        started = self._clock()
        waiter = DeploymentWaiter(
            name.deployment_id, "ready", timeout_s, poll_interval_s, self._clock
        )
        while True:
            info = await self._poll(name)
            state = info.state if info is not None else None
            if info is not None and (
                info.state == "READY" or (info.state == "CREATING" and await self._probe(name))
            ):
                self.boot_time_s = self._clock() - started
                return replace(info, state="READY")
            await self._retry.async_sleep(waiter.delay(state))

    async def _poll(self, name: DeploymentName) -> DeploymentInfo | None:
        """One read for a wait: None after a transient failure; gone or terminal raises."""
        try:
            info = await self._read(name)
        except APIError as exc:
            if is_retryable(exc):
                return None
            raise
        if info is None:
            raise DeploymentError(
                f"deployment {name.deployment_id!r} not found", deployment_id=name.deployment_id
            )
        if info.state in TERMINAL_STATES:
            raise DeploymentError(
                f"deployment {name.deployment_id!r} is {info.state}",
                deployment_id=name.deployment_id,
                state=info.state,
            )
        return info

    async def _probe(self, name: DeploymentName) -> bool:
        """True when the deployment answers a small completion with 200 (one attempt)."""
        request = Request(
            "POST",
            COMPLETIONS_PATH,
            json=probe_body(str(name)),
            base_url=self._inference_url,
            timeout=PROBE_TIMEOUT_S,
            headers=bearer(self._api_key),
        )
        try:
            response = await self._respond(request)
        except APIError:
            return False
        return response.status_code == 200

    async def warmup(
        self, model: str, max_retries: int = 30, retry_interval_s: float = 10.0
    ) -> bool:
        """Send the small completion until the deployment answers 200; False when it never did."""
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 1:
            raise InvalidArgumentError(f"max_retries must be an int >= 1, got {max_retries!r}")
        name = await self._deployment(model)
        for attempt in range(max_retries):
            if attempt:
                await self._retry.async_sleep(retry_interval_s)
            if await self._probe(name):
                return True
        return False

    async def reattach_trainer(
        self,
        deployment: DeploymentInfo | str,
        *,
        base_model: str,
        trainer_job_name: str,
        timeout_s: float,
        poll_interval_s: float = 5,
        hot_load_transition_type: str | None = None,
    ) -> DeploymentInfo:
        """Attach the deployment to another trainer job and wait until that has settled.

        Waits for READY first; PATCHes (masked) only what changes; then waits until the
        deployment is READY with the new attachment. The pods roll: replicas forget their
        snapshot, so the next hot-load must be a full one.
        """
        deployment_id = (
            deployment.deployment_id if isinstance(deployment, DeploymentInfo) else deployment
        )
        name = await self._deployment(deployment_id)
        job = qualify_trainer_job(trainer_job_name, name.account)
        transition = normalize_transition_type(hot_load_transition_type)
        info = await self.wait_for_ready(name, timeout_s, poll_interval_s)
        if info.base_model is not None and info.base_model != base_model:
            raise DeploymentError(
                f"deployment {deployment_id!r} serves {info.base_model!r}, not {base_model!r}",
                deployment_id=deployment_id,
                state=info.state,
            )
        body: dict[str, Any] = {}
        mask = []
        if info.hot_load_trainer_job != job:
            body["hotLoadTrainerJob"], mask = job, ["hot_load_trainer_job"]
        if transition and (info.hot_load_transition_type or "ASYNC") != transition:
            body["hotLoadTransitionType"] = transition
            mask.append("hot_load_transition_type")
        if not mask:
            return info
        await self.update(name, body, mask)
        waiter = DeploymentWaiter(
            deployment_id, "re-attached", timeout_s, poll_interval_s, self._clock
        )
        while True:
            current = await self._poll(name)
            if (
                current is not None
                and current.state == "READY"
                and current.hot_load_trainer_job == job
                and (transition is None or current.hot_load_transition_type == transition)
            ):
                return current
            await self._retry.async_sleep(waiter.delay(current.state if current else None))
