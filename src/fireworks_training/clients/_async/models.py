"""Models: read one by short id or full name; whether a base model is a mixture of experts.

docs/protocol.md §1.3 and §1.7.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..._async.operations import AsyncOperation
from ...checkpoints.names import ModelName
from ...checkpoints.types import Model, OperationStatus
from ...errors import APIStatusError
from .._base_client import Request
from .._profiles import model_details_unavailable, parse_moe
from .._promotion import model_from_response, model_status
from .accounts import AsyncAccounts
from .operations import AsyncOperations

__all__ = ["AsyncModelWaits", "AsyncModels", "model_request", "parse_model"]


def model_request(model: ModelName) -> Request:
    """``GET`` of a model."""
    return Request("GET", f"/v1/{model}")


def parse_model(body: Mapping[str, Any]) -> Model:
    """A model reply; one without a ``name`` is a :class:`ProtocolError`."""
    model = Model(body)
    _ = model.name
    return model


class AsyncModels(AsyncAccounts):
    """Reading models."""

    async def get_model(self, model_id: str | ModelName) -> Model:
        """A model by short id (in this account) or full name."""
        request = model_request(await self._model_name(model_id))
        return await self._call(request, parse=parse_model)

    async def model_is_moe(self, model: str | ModelName) -> bool:
        """Whether a base model is a mixture of experts (its ``baseModelDetails.moe``).

        A model the key cannot read raises :class:`ModelDetailsUnavailableError` (with the
        ``status_code``); a model without that detail raises ``ValueError``.
        """
        name = await self._model_name(model)
        try:
            body = await self._call(model_request(name))
        except APIStatusError as exc:
            raise model_details_unavailable(exc) from exc
        return parse_moe(body, str(name))


class AsyncModelWaits(AsyncModels, AsyncOperations):
    """A promoted model seen as the operation it stands for: done once READY."""

    def _model_operation(self, model: Model) -> AsyncOperation[Model]:
        """An operation that reads ``model`` until it is READY (done at once if it is)."""
        status = model_status(model)
        if status.done:
            return AsyncOperation.completed(model, name=model.name)
        return self._operation(status, model_from_response, refresh=self._refresh_model)

    async def _refresh_model(self, name: str) -> OperationStatus:
        model = await self._call(model_request(ModelName.parse(name)), parse=parse_model)
        return model_status(model)
