"""Long-running operations: an object the caller holds while the server works.

``Operation[T]`` and ``AsyncOperation[T]`` share one core. Three separate knobs: the overall
``timeout`` (the caller's, per ``result`` call), the polling cadence (first poll after about
0.5 s, then x1.5 up to 10 s) and the handling of failed polls (connection errors, 408, 429
and 5xx are retried within the deadline; anything else is raised). ``refresh`` is injected,
so nothing here speaks HTTP.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

from ._backoff import Backoff
from ._constants import OPERATION_FIRST_POLL_S, OPERATION_POLL_CAP_S, OPERATION_POLL_MULTIPLIER
from ._retry import is_retryable
from .checkpoints.types import OperationStatus, RpcStatus
from .errors import OperationError, OperationTimeoutError

__all__ = ["AsyncOperation", "Operation", "OperationStatus", "RpcStatus", "poll_delays"]

T = TypeVar("T")

Parse = Callable[[dict[str, Any]], T]
_NOT_SET: Any = object()


def poll_delays(
    first_s: float = OPERATION_FIRST_POLL_S,
    multiplier: float = OPERATION_POLL_MULTIPLIER,
    cap_s: float = OPERATION_POLL_CAP_S,
) -> Iterator[float]:
    """The waits before each poll: ``first_s``, then x``multiplier``, capped at ``cap_s``."""
    return Backoff(first_s, multiplier, cap_s).delays()


def _sleep_async(seconds: float) -> Awaitable[None]:
    return asyncio.sleep(seconds)


class _OperationCore(Generic[T]):
    """State and outcome of an operation; the subclasses only wait."""

    def __init__(
        self,
        status: OperationStatus,
        *,
        parse: Parse[T],
        clock: Callable[[], float] = time.monotonic,
        is_transient: Callable[[BaseException], bool] = is_retryable,
    ) -> None:
        self._status = status
        self._parse = parse
        self._clock = clock
        self._is_transient = is_transient
        self._value: T = _NOT_SET
        self._last_poll_error: BaseException | None = None

    @property
    def name(self) -> str:
        """The operation's resource name (empty for one the server finished at once)."""
        return self._status.name

    @property
    def status(self) -> OperationStatus:
        """The operation as last reported by the server."""
        return self._status

    @property
    def metadata(self) -> dict[str, Any]:
        """The operation's metadata as last reported."""
        return dict(self._status.metadata)

    @property
    def status_message(self) -> str | None:
        """Progress text from the metadata, if any."""
        return self._status.status_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, done={self._status.done})"

    def _error(self) -> OperationError | None:
        error = self._status.error
        if not self._status.done or error is None:
            return None
        return OperationError(
            f"operation {self.name} failed: {error.code} {error.message}".rstrip(),
            operation=self.name,
            code=error.code,
        )

    def _outcome(self) -> T:
        if self._value is not _NOT_SET:
            return self._value
        error = self._error()
        if error is not None:
            raise error
        response = self._status.response
        if response is None:
            raise OperationError(
                f"operation {self.name} finished without a response", operation=self.name
            )
        self._value = self._parse({k: v for k, v in response.items() if k != "@type"})
        return self._value

    def _deadline(self, timeout: float | None) -> float:
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0, got {timeout}")
        return math.inf if timeout is None else self._clock() + timeout

    def _remaining(self, deadline: float, timeout: float | None) -> float:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise OperationTimeoutError(
                f"operation {self.name} not done after {timeout:g} s", operation=self.name
            ) from self._last_poll_error
        return remaining

    def _update(self, status: OperationStatus) -> None:
        self._status = status
        self._last_poll_error = None

    def _poll_failed(self, exc: BaseException) -> None:
        if not self._is_transient(exc):
            raise exc
        self._last_poll_error = exc


class Operation(_OperationCore[T]):
    """A long-running operation: ``done()``, ``result(timeout)``, ``exception(timeout)``."""

    def __init__(
        self,
        status: OperationStatus,
        *,
        refresh: Callable[[str], OperationStatus],
        parse: Parse[T],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        is_transient: Callable[[BaseException], bool] = is_retryable,
    ) -> None:
        super().__init__(status, parse=parse, clock=clock, is_transient=is_transient)
        self._refresh = refresh
        self._sleep = sleep

    @classmethod
    def completed(cls, value: T, *, name: str = "") -> Operation[T]:
        """An operation that is already done with ``value``."""
        op: Operation[T] = cls(
            OperationStatus(name=name, done=True), refresh=_no_refresh, parse=_no_parse
        )
        op._value = value
        return op

    def done(self) -> bool:
        """Whether the operation has finished; asks the server once when not known yet."""
        if not self._status.done:
            self._poll()
        return self._status.done

    def result(self, timeout: float | None = None) -> T:
        """Wait up to ``timeout`` seconds (None: no limit) and return the result.

        Raises :class:`OperationError` when the operation failed and
        :class:`OperationTimeoutError` (a ``TimeoutError``) when time ran out.
        """
        self._wait(timeout)
        return self._outcome()

    def exception(self, timeout: float | None = None) -> OperationError | None:
        """Wait like :meth:`result`; the operation's error, or None when it succeeded."""
        self._wait(timeout)
        return self._error()

    def _wait(self, timeout: float | None) -> None:
        deadline = self._deadline(timeout)
        delays = poll_delays()
        while not self._status.done:
            remaining = self._remaining(deadline, timeout)
            self._sleep(min(next(delays), remaining))
            self._poll()

    def _poll(self) -> None:
        try:
            status = self._refresh(self.name)
        except Exception as exc:
            self._poll_failed(exc)
            return
        self._update(status)


class AsyncOperation(_OperationCore[T]):
    """The asyncio twin of :class:`Operation`: ``await op.result(timeout)``."""

    def __init__(
        self,
        status: OperationStatus,
        *,
        refresh: Callable[[str], Awaitable[OperationStatus]],
        parse: Parse[T],
        sleep: Callable[[float], Awaitable[None]] = _sleep_async,
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
            OperationStatus(name=name, done=True), refresh=_no_refresh_async, parse=_no_parse
        )
        op._value = value
        return op

    async def done(self) -> bool:
        """Whether the operation has finished; asks the server once when not known yet."""
        if not self._status.done:
            await self._poll()
        return self._status.done

    async def result(self, timeout: float | None = None) -> T:
        """Wait up to ``timeout`` seconds (None: no limit) and return the result."""
        await self._wait(timeout)
        return self._outcome()

    async def exception(self, timeout: float | None = None) -> OperationError | None:
        """Wait like :meth:`result`; the operation's error, or None when it succeeded."""
        await self._wait(timeout)
        return self._error()

    async def _wait(self, timeout: float | None) -> None:
        deadline = self._deadline(timeout)
        delays = poll_delays()
        while not self._status.done:
            remaining = self._remaining(deadline, timeout)
            await self._sleep(min(next(delays), remaining))
            await self._poll()

    async def _poll(self) -> None:
        try:
            status = await self._refresh(self.name)
        except Exception as exc:
            self._poll_failed(exc)
            return
        self._update(status)


def _no_refresh(name: str) -> OperationStatus:
    raise AssertionError(f"a completed operation is never refreshed: {name}")  # pragma: no cover


async def _no_refresh_async(name: str) -> OperationStatus:
    raise AssertionError(f"a completed operation is never refreshed: {name}")  # pragma: no cover


def _no_parse(response: dict[str, Any]) -> Any:
    raise AssertionError("a completed operation is never parsed")  # pragma: no cover
