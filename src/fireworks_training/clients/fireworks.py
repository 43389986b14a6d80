"""``FireworksClient`` and ``AsyncFireworksClient``: the Fireworks control plane.

Accounts, checkpoint rows, promotion, operations and models (PROTOCOL.md §1). Everything
that does no I/O lives in ``_control_plane.py`` and ``_promotion.py``; the two classes below
only send requests and are kept line-for-line parallel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, LIST_PAGE_SIZE
from .._constants import PROMOTE_DEFAULT_TIMEOUT_S as _PROMOTE_TIMEOUT_S
from ..checkpoints.names import CheckpointName, ModelName, TrainerJobName, check_checkpoint_id
from ..checkpoints.types import Checkpoint, Model, OperationStatus
from ..errors import APIStatusError, BadRequestError, ConflictError
from ..operations import AsyncOperation, Operation
from ..pagination import AsyncPager, Page, SyncPager
from ._control_plane import (
    check_operation_name,
    check_page_size,
    list_checkpoints_request,
    model_from_response,
    model_request,
    model_status,
    operation_request,
    parse_base_model,
    parse_checkpoint_page,
    parse_promote_reply,
    trainer_job_request,
)
from ._http import AsyncControlPlane, SyncControlPlane
from ._promotion import PromoteAttempts, Promotion, PromotionPlan, plan_promotion, same_checkpoint

__all__ = ["AsyncFireworksClient", "FireworksClient"]


class FireworksClient(SyncControlPlane):
    """The Fireworks control plane: list checkpoints, promote them, read models.

    The API key comes from ``api_key`` or ``FIREWORKS_API_KEY``; the URL from ``base_url``,
    ``FIREWORKS_BASE_URL`` or the public endpoint. Use it as a context manager or call
    :meth:`close`.
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

    # Names ----------------------------------------------------------------------------

    def checkpoint_name(self, job_id: str | TrainerJobName, checkpoint_id: str) -> str:
        """The 4-segment name of a checkpoint (what ``promote_checkpoint(name=)`` takes)."""
        account, job = TrainerJobName.parse_ref(job_id)
        check_checkpoint_id(checkpoint_id)  # before any request
        return str(CheckpointName(account or self.get_account_id(), job, checkpoint_id))

    # Checkpoint rows ------------------------------------------------------------------

    def iter_checkpoints(
        self, job_id: str | TrainerJobName, *, page_size: int = LIST_PAGE_SIZE
    ) -> SyncPager[Checkpoint]:
        """A lazy pager over the job's rows, oldest first (items, or ``.pages``)."""
        check_page_size(page_size)
        TrainerJobName.parse_ref(job_id)

        def fetch(token: str | None) -> Page[Checkpoint]:
            request = list_checkpoints_request(self._job_name(job_id), page_size, token)
            return parse_checkpoint_page(self._call(request))

        return SyncPager(fetch)

    def list_checkpoints(
        self, job_id: str | TrainerJobName, *, page_size: int = LIST_PAGE_SIZE
    ) -> list[Checkpoint]:
        """Every row of the trainer job, every page, in server order (oldest first)."""
        return list(self.iter_checkpoints(job_id, page_size=page_size))

    # Models and operations ------------------------------------------------------------

    def get_model(self, model_id: str | ModelName) -> Model:
        """A model by short id (in this account) or full name."""
        account, model = ModelName.parse_ref(model_id)
        name = ModelName(account or self.get_account_id(), model)
        return Model.model_validate(self._call(model_request(name)))

    def get_operation(self, name: str) -> OperationStatus:
        """A long-running operation's current status, by its resource name."""
        request = operation_request(check_operation_name(name))
        return OperationStatus.model_validate(self._call(request))

    def _refresh_operation(self, name: str) -> OperationStatus:
        return OperationStatus.model_validate(self._send(operation_request(name)))

    # Promotion ------------------------------------------------------------------------

    def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: str | CheckpointName | None = None,
        hot_load_deployment_id: str | None = None,
        timeout: float | None = None,
    ) -> Model:
        """Promote a sampler checkpoint to a model and wait for it (default up to 2 h).

        Preferred: ``promote_checkpoint(name=row["name"], output_model_id=..., base_model=...)``.
        ``base_model`` defaults to the trainer job's. The ``(job_id, checkpoint_id)`` form
        is deprecated.
        """
        plan = plan_promotion(
            "promote_checkpoint",
            job_id,
            checkpoint_id,
            output_model_id,
            base_model,
            name,
            hot_load_deployment_id,
        )
        operation = self._start_promotion(plan)
        return operation.result(_PROMOTE_TIMEOUT_S if timeout is None else timeout)

    def begin_promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: str | CheckpointName | None = None,
        hot_load_deployment_id: str | None = None,
    ) -> Operation[Model]:
        """Start a promotion and return its operation at once; ``.result(timeout)`` waits."""
        plan = plan_promotion(
            "begin_promote_checkpoint",
            job_id,
            checkpoint_id,
            output_model_id,
            base_model,
            name,
            hot_load_deployment_id,
        )
        return self._start_promotion(plan)

    def _start_promotion(self, plan: PromotionPlan) -> Operation[Model]:
        account = plan.account or self.get_account_id()
        base_model = plan.base_model
        if base_model is None:
            job = TrainerJobName(account, plan.job_id)
            base_model = parse_base_model(self._call(trainer_job_request(job)))
        return self._post_promotion(plan.resolve(account, base_model))

    def _post_promotion(self, promotion: Promotion) -> Operation[Model]:
        attempts = PromoteAttempts()
        policy = self._retry.with_predicate(attempts.should_retry)
        try:
            body = policy.call(lambda: self._send_promotion(promotion, attempts))
        except ConflictError as conflict:
            if not attempts.ambiguous_seen:
                raise
            model = self._recover_conflict(promotion, conflict)
            return self._model_operation(model)
        return self._promotion_operation(body)

    def _send_promotion(self, promotion: Promotion, attempts: PromoteAttempts) -> dict[str, Any]:
        try:
            return self._send(promotion.request(async_promotion=attempts.async_promotion))
        except BadRequestError as exc:
            if not attempts.drop_async_promotion(exc):
                raise
        return self._send(promotion.request(async_promotion=attempts.async_promotion))

    def _recover_conflict(self, promotion: Promotion, conflict: ConflictError) -> Model:
        """After an ambiguous attempt, a 409 may be that attempt's own model."""
        try:
            model = Model.model_validate(self._call(model_request(promotion.output_model)))
        except APIStatusError as exc:
            raise conflict from exc
        if not same_checkpoint(model, promotion):
            raise conflict
        return model

    def _model_operation(self, model: Model) -> Operation[Model]:
        """Wait for a recovered model until it is READY, like the operation it stands for."""
        status = model_status(model)
        if status.done:
            return Operation.completed(model, name=model.name)
        return Operation(
            status, refresh=self._refresh_model, parse=model_from_response, sleep=self._sleep
        )

    def _refresh_model(self, name: str) -> OperationStatus:
        return model_status(Model.model_validate(self._call(model_request(ModelName.parse(name)))))

    def _promotion_operation(self, body: dict[str, Any]) -> Operation[Model]:
        reply = parse_promote_reply(body)
        if isinstance(reply, Model):
            return Operation.completed(reply)
        return Operation(
            reply, refresh=self._refresh_operation, parse=model_from_response, sleep=self._sleep
        )


class AsyncFireworksClient(AsyncControlPlane):
    """The asyncio twin of :class:`FireworksClient`: the same methods, awaited."""

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

    # Names ----------------------------------------------------------------------------

    async def checkpoint_name(self, job_id: str | TrainerJobName, checkpoint_id: str) -> str:
        """The 4-segment name of a checkpoint (what ``promote_checkpoint(name=)`` takes)."""
        account, job = TrainerJobName.parse_ref(job_id)
        check_checkpoint_id(checkpoint_id)  # before any request
        return str(CheckpointName(account or await self.get_account_id(), job, checkpoint_id))

    # Checkpoint rows ------------------------------------------------------------------

    def iter_checkpoints(
        self, job_id: str | TrainerJobName, *, page_size: int = LIST_PAGE_SIZE
    ) -> AsyncPager[Checkpoint]:
        """A lazy pager over the job's rows, oldest first (items, or ``.pages``)."""
        check_page_size(page_size)
        TrainerJobName.parse_ref(job_id)

        async def fetch(token: str | None) -> Page[Checkpoint]:
            request = list_checkpoints_request(await self._job_name(job_id), page_size, token)
            return parse_checkpoint_page(await self._call(request))

        return AsyncPager(fetch)

    async def list_checkpoints(
        self, job_id: str | TrainerJobName, *, page_size: int = LIST_PAGE_SIZE
    ) -> list[Checkpoint]:
        """Every row of the trainer job, every page, in server order (oldest first)."""
        return [row async for row in self.iter_checkpoints(job_id, page_size=page_size)]

    # Models and operations ------------------------------------------------------------

    async def get_model(self, model_id: str | ModelName) -> Model:
        """A model by short id (in this account) or full name."""
        account, model = ModelName.parse_ref(model_id)
        name = ModelName(account or await self.get_account_id(), model)
        return Model.model_validate(await self._call(model_request(name)))

    async def get_operation(self, name: str) -> OperationStatus:
        """A long-running operation's current status, by its resource name."""
        request = operation_request(check_operation_name(name))
        return OperationStatus.model_validate(await self._call(request))

    async def _refresh_operation(self, name: str) -> OperationStatus:
        return OperationStatus.model_validate(await self._send(operation_request(name)))

    # Promotion ------------------------------------------------------------------------

    async def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: str | CheckpointName | None = None,
        hot_load_deployment_id: str | None = None,
        timeout: float | None = None,
    ) -> Model:
        """Promote a sampler checkpoint to a model and wait for it (default up to 2 h).

        Preferred: ``promote_checkpoint(name=row["name"], output_model_id=..., base_model=...)``.
        ``base_model`` defaults to the trainer job's. The ``(job_id, checkpoint_id)`` form
        is deprecated.
        """
        plan = plan_promotion(
            "promote_checkpoint",
            job_id,
            checkpoint_id,
            output_model_id,
            base_model,
            name,
            hot_load_deployment_id,
        )
        operation = await self._start_promotion(plan)
        return await operation.result(_PROMOTE_TIMEOUT_S if timeout is None else timeout)

    async def begin_promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: str | CheckpointName | None = None,
        hot_load_deployment_id: str | None = None,
    ) -> AsyncOperation[Model]:
        """Start a promotion and return its operation at once; ``.result(timeout)`` waits."""
        plan = plan_promotion(
            "begin_promote_checkpoint",
            job_id,
            checkpoint_id,
            output_model_id,
            base_model,
            name,
            hot_load_deployment_id,
        )
        return await self._start_promotion(plan)

    async def _start_promotion(self, plan: PromotionPlan) -> AsyncOperation[Model]:
        account = plan.account or await self.get_account_id()
        base_model = plan.base_model
        if base_model is None:
            job = TrainerJobName(account, plan.job_id)
            base_model = parse_base_model(await self._call(trainer_job_request(job)))
        return await self._post_promotion(plan.resolve(account, base_model))

    async def _post_promotion(self, promotion: Promotion) -> AsyncOperation[Model]:
        attempts = PromoteAttempts()
        policy = self._retry.with_predicate(attempts.should_retry)
        try:
            body = await policy.acall(lambda: self._send_promotion(promotion, attempts))
        except ConflictError as conflict:
            if not attempts.ambiguous_seen:
                raise
            model = await self._recover_conflict(promotion, conflict)
            return self._model_operation(model)
        return self._promotion_operation(body)

    async def _send_promotion(
        self, promotion: Promotion, attempts: PromoteAttempts
    ) -> dict[str, Any]:
        try:
            return await self._send(promotion.request(async_promotion=attempts.async_promotion))
        except BadRequestError as exc:
            if not attempts.drop_async_promotion(exc):
                raise
        return await self._send(promotion.request(async_promotion=attempts.async_promotion))

    async def _recover_conflict(self, promotion: Promotion, conflict: ConflictError) -> Model:
        """After an ambiguous attempt, a 409 may be that attempt's own model."""
        try:
            model = Model.model_validate(await self._call(model_request(promotion.output_model)))
        except APIStatusError as exc:
            raise conflict from exc
        if not same_checkpoint(model, promotion):
            raise conflict
        return model

    def _model_operation(self, model: Model) -> AsyncOperation[Model]:
        """Wait for a recovered model until it is READY, like the operation it stands for."""
        status = model_status(model)
        if status.done:
            return AsyncOperation.completed(model, name=model.name)
        return AsyncOperation(
            status, refresh=self._refresh_model, parse=model_from_response, sleep=self._async_sleep
        )

    async def _refresh_model(self, name: str) -> OperationStatus:
        reply = await self._call(model_request(ModelName.parse(name)))
        return model_status(Model.model_validate(reply))

    def _promotion_operation(self, body: dict[str, Any]) -> AsyncOperation[Model]:
        reply = parse_promote_reply(body)
        if isinstance(reply, Model):
            return AsyncOperation.completed(reply)
        return AsyncOperation(
            reply,
            refresh=self._refresh_operation,
            parse=model_from_response,
            sleep=self._async_sleep,
        )
