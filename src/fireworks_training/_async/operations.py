"""``AsyncOperation``: a long-running operation the caller holds while the server works.

Three separate knobs: the overall ``timeout`` (the caller's, per ``result`` call), the
polling cadence (first poll after about 0.5 s, then x1.5 up to 10 s) and the handling of
failed polls (connection errors, 408, 429 and 5xx are retried within the deadline; anything
else is raised). ``refresh`` is injected, so nothing here speaks HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._base_operation import BaseOperation, Parse, poll_delays
from .._retry import is_retryable
from ..checkpoints.types import OperationStatus
from ..errors import OperationError

__all__ = ["AsyncOperation"]

T = TypeVar("T")


class AsyncOperation(BaseOperation[T]):
    """A long-running operation: ``done()``, ``result(timeout)``, ``exception(timeout)``."""

    def __init__(
        self,
        status: OperationStatus,
        *,
        refresh: Callable[[str], Awaitable[OperationStatus]],
        parse: Parse[T],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        is_transient: Callable[[BaseException], bool] = is_retryable,
    ) -> None:
        super().__init__(status, parse=parse, clock=clock, is_transient=is_transient)
        self._refresh = refresh
        self._sleep = sleep

    @classmethod
    def completed(cls, value: T, *, name: str = "") -> AsyncOperation[T]:
        """An operation that is already done with ``value``."""
        op: AsyncOperation[T] = cls(
            OperationStatus(name=name, done=True), refresh=_no_refresh, parse=_no_parse
        )
        op._value = value
        return op

    async def done(self) -> bool:
        """Whether the operation has finished; asks the server once when not known yet."""
        if not self._status.done:
            await self._poll()
        return self._status.done

    async def result(self, timeout: float | None = None) -> T:
        """Wait up to ``timeout`` seconds (None: no limit) and return the result.

        Raises :class:`OperationError` when the operation failed and
        :class:`OperationTimeoutError` (a ``TimeoutError``) when time ran out.
        """
        await self._wait(timeout)
        return self._outcome()

    async def exception(self, timeout: float | None = None) -> OperationError | None:
        """Wait like :meth:`result`; the :class:`OperationError` it would raise (a failure,
        or done without a result), or None when it succeeded."""
        await self._wait(timeout)
        return self._failure()

    async def _wait(self, timeout: float | None) -> None:
        deadline = self._deadline(timeout)
        delays = poll_delays()
        while not self._status.done:
            remaining = self._remaining(deadline, timeout)
            await self._sleep(min(next(delays), remaining))
            await self._poll()

    async def _poll(self) -> None:
        failure: Exception
        try:
            status = await self._refresh(self.name)
        except Exception as exc:
            failure = exc
        else:
            self._update(status)
            return
        self._poll_failed(failure)


async def _no_refresh(name: str) -> OperationStatus:
    raise AssertionError(f"a completed operation is never refreshed: {name}")  # pragma: no cover


def _no_parse(response: dict[str, Any]) -> Any:
    raise AssertionError("a completed operation is never parsed")  # pragma: no cover
