"""Models: read one by short id or full name; whether a base model is a mixture of experts.

docs/protocol.md §1.3 and §1.7.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...checkpoints.names import ModelName
from ...checkpoints.types import Model
from ...errors import APIStatusError
from .._base_client import Request
from .._profiles import model_details_unavailable, parse_moe
from .accounts import AsyncAccounts

__all__ = ["AsyncModels", "model_request", "parse_model"]


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
