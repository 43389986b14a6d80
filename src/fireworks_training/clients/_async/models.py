"""Models: read one by short id or full name (docs/protocol.md §1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...checkpoints.names import ModelName
from ...checkpoints.types import Model
from .._base_client import Request
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
        return parse_model(await self._call(model_request(await self._model_name(model_id))))
