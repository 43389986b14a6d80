"""Checkpoint rows of a trainer job and their promotion (docs/protocol.md §1.2, §1.3).

Rows are listed page by page, oldest first. Promotion rules that need no I/O (arguments, the
request, its reply, retry and recovery decisions) are in ``_promotion.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from ..._async.operations import AsyncOperation
from ..._async.pagination import AsyncPager
from ..._base_operation import check_wait
from ..._constants import LIST_PAGE_SIZE, MAX_PAGE_SIZE
from ..._constants import PROMOTE_DEFAULT_TIMEOUT_S as _PROMOTE_TIMEOUT_S
from ..._models import WireObject
from ..._paging import Page
from ...checkpoints.names import CheckpointName, TrainerJobName, check_checkpoint_id
from ...checkpoints.types import Checkpoint, Model, OperationStatus
from ...errors import (
    APIStatusError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    ProtocolError,
)
from .._base_client import Request
from .._job_rules import job_request
from .._promotion import (
    PromoteAttempts,
    Promotion,
    PromotionPlan,
    model_from_response,
    parse_base_model,
    parse_promote_reply,
    plan_promotion,
    same_checkpoint,
    still_uploading,
)
from .models import AsyncModelWaits, model_request, parse_model

__all__ = [
    "AsyncCheckpoints",
    "check_page_size",
    "list_checkpoints_request",
    "next_page_token",
    "parse_checkpoint_page",
    "wrap_rows",
]


def check_page_size(page_size: int) -> int:
    """A page size in 1..1000, else :class:`InvalidArgumentError`."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidArgumentError(f"page_size must be an int, got {type(page_size).__name__}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"page_size must be in 1..{MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def list_checkpoints_request(job: TrainerJobName, page_size: int, token: str | None) -> Request:
    """One page of a trainer job's checkpoint rows."""
    params: dict[str, str | int] = {"pageSize": page_size}
    if token:
        params["pageToken"] = token
    return Request("GET", f"/v1/{job}/checkpoints", params=params)


def parse_checkpoint_page(body: Mapping[str, Any]) -> Page[Checkpoint]:
    """One page of rows; older servers name the list ``rlorTrainerJobCheckpoints``.

    Each row is wrapped as it came (no per-row validation): only that it is an object with
    a string ``name`` is checked here, the rest when a typed property reads it.
    """
    rows = body.get("checkpoints")
    if rows is None:
        rows = body.get("rlorTrainerJobCheckpoints")
    return Page(wrap_rows(Checkpoint, rows), next_page_token(body))


R = TypeVar("R", bound=WireObject)


def wrap_rows(row_type: type[R], rows: object) -> list[R]:
    """The rows of a page as ``row_type``; a row that is not an object with a name is a
    :class:`ProtocolError`."""
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise ProtocolError(f"a page of {row_type.WHAT}s must be a list, got {type(rows).__name__}")
    items = row_type._wrap(rows)
    if items is None:
        bad = next(
            row for row in rows if not isinstance(row, dict) or not isinstance(row.get("name"), str)
        )
        raise ProtocolError(f"a {row_type.WHAT} must be an object with a name, got {bad!r:.80}")
    return items


def next_page_token(body: Mapping[str, Any]) -> str | None:
    """``nextPageToken`` (or ``next_page_token``); None when empty or absent."""
    token = body.get("nextPageToken")
    if token is None:
        token = body.get("next_page_token")
    return token if isinstance(token, str) and token else None


class AsyncCheckpoints(AsyncModelWaits):
    """Listing a trainer job's checkpoint rows and promoting them to models."""

    async def checkpoint_name(self, job_id: str | TrainerJobName, checkpoint_id: str) -> str:
        """The 4-segment name of a checkpoint (what ``promote_checkpoint(name=)`` takes)."""
        account, job = TrainerJobName.parse_ref(job_id)
        check_checkpoint_id(checkpoint_id)  # before any request
        return str(CheckpointName(account or await self.get_account_id(), job, checkpoint_id))

    def iter_checkpoints(
        self, job_id: str | TrainerJobName, *, page_size: int = LIST_PAGE_SIZE
    ) -> AsyncPager[Checkpoint]:
        """A lazy pager over the job's rows, oldest first (items, or ``.pages``)."""
        check_page_size(page_size)
        TrainerJobName.parse_ref(job_id)

        async def fetch(token: str | None) -> Page[Checkpoint]:
            request = list_checkpoints_request(await self._job_name(job_id), page_size, token)
            return await self._call(request, parse=parse_checkpoint_page)

        return AsyncPager(fetch)

    async def list_checkpoints(
        self, job_id: str | TrainerJobName, *, page_size: int = LIST_PAGE_SIZE
    ) -> list[Checkpoint]:
        """Every row of the trainer job, every page, in server order (oldest first)."""
        return await self.iter_checkpoints(job_id, page_size=page_size)._collect()

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
        check_wait(timeout)  # before anything is sent
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
            base_model = await self._call(job_request(job), parse=parse_base_model)
        return await self._post_promotion(plan.resolve(account, base_model))

    async def _post_promotion(self, promotion: Promotion) -> AsyncOperation[Model]:
        attempts = PromoteAttempts()
        policy = self._retry.with_predicate(attempts.should_retry)
        try:
            reply = await policy.acall(lambda: self._send_promotion(promotion, attempts))
        except ConflictError as conflict:
            if not attempts.ambiguous_seen:
                raise
            model = await self._recover_conflict(promotion, conflict)
            return self._model_operation(model)
        if isinstance(reply, Model):
            if still_uploading(reply):
                return self._model_operation(reply)
            return AsyncOperation.completed(reply)
        return self._operation(reply, model_from_response)

    async def _send_promotion(
        self, promotion: Promotion, attempts: PromoteAttempts
    ) -> Model | OperationStatus:
        try:
            request = promotion.request(async_promotion=attempts.async_promotion)
            return await self._send(request, parse_promote_reply)
        except BadRequestError as exc:
            if not attempts.drop_async_promotion(exc):
                raise
        request = promotion.request(async_promotion=attempts.async_promotion)
        return await self._send(request, parse_promote_reply)

    async def _recover_conflict(self, promotion: Promotion, conflict: ConflictError) -> Model:
        """After an ambiguous attempt, a 409 may be that attempt's own model."""
        try:
            model = await self._call(model_request(promotion.output_model), parse=parse_model)
        except APIStatusError as exc:
            raise conflict from exc
        if not same_checkpoint(model, promotion):
            raise conflict
        return model
