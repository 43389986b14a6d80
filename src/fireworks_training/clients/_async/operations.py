"""Long-running operations: read one by name, hold one while it runs (docs/protocol.md §1.4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ..._async.operations import AsyncOperation
from ...checkpoints.names import OperationName
from ...checkpoints.types import OperationStatus
from .._base_client import Request
from ._base_client import AsyncAPIClient

__all__ = ["AsyncOperations", "operation_request", "parse_operation"]

T = TypeVar("T")


def operation_request(name: OperationName | str) -> Request:
    """``GET`` of a long-running operation (a name the server gave is used as given)."""
    return Request("GET", f"/v1/{name}")


def parse_operation(body: Mapping[str, Any]) -> OperationStatus:
    """An operation reply, every field checked (it is small): a :class:`ProtocolError` else."""
    return OperationStatus.model_validate(body)


class AsyncOperations(AsyncAPIClient):
    """Reading operations, and the operation objects callers hold."""

    async def get_operation(self, name: str | OperationName) -> OperationStatus:
        """A long-running operation's current status, by its resource name."""
        request = operation_request(OperationName.parse(name))
        return await self._call(request, parse=parse_operation)

    async def _refresh_operation(self, name: str) -> OperationStatus:
        # One attempt: the operation itself retries transient poll failures.
        return await self._send(operation_request(name), parse_operation)

    def _operation(
        self,
        status: OperationStatus,
        parse: Callable[[dict[str, Any]], T],
        refresh: Callable[[str], Awaitable[OperationStatus]] | None = None,
    ) -> AsyncOperation[T]:
        """An operation object polling with this client (``refresh``: another way to poll)."""
        return AsyncOperation(
            status,
            refresh=refresh or self._refresh_operation,
            parse=parse,
            sleep=self._retry.async_sleep,
        )
