"""What both operation classes share and that does no I/O: state, outcome, deadline.

docs/protocol.md §1.4. ``AsyncOperation`` (``_async/operations.py``) and the ``Operation``
generated from it only poll and sleep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from ._backoff import Backoff
from ._constants import OPERATION_FIRST_POLL_S, OPERATION_POLL_CAP_S, OPERATION_POLL_MULTIPLIER
from ._protocol import as_protocol_error, parsed
from ._retry import is_retryable
from .checkpoints.types import OperationStatus
from .errors import InvalidArgumentError, OperationError, OperationTimeoutError

__all__ = ["NOT_SET", "BaseOperation", "Parse", "check_wait", "poll_delays"]

T = TypeVar("T")

Parse = Callable[[dict[str, Any]], T]
NOT_SET: Any = object()


def poll_delays(
    first_s: float = OPERATION_FIRST_POLL_S,
    multiplier: float = OPERATION_POLL_MULTIPLIER,
    cap_s: float = OPERATION_POLL_CAP_S,
) -> Iterator[float]:
    """The waits before each poll: ``first_s``, then x``multiplier``, capped at ``cap_s``."""
    return Backoff(first_s, multiplier, cap_s).delays()


def check_wait(timeout: object) -> float | None:
    """A wait's ``timeout``: None (no limit) or a finite number of seconds >= 0."""
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise InvalidArgumentError(
            f"timeout must be a finite number of seconds >= 0, or None for no limit; "
            f"got {timeout!r}"
        )
    return float(timeout)


class BaseOperation(Generic[T]):
    """State and outcome of an operation; the async class and its sync twin only wait."""

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
        self._value: T = NOT_SET
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
        if self._value is not NOT_SET:
            return self._value
        error = self._error()
        if error is not None:
            raise error
        response = self._status.response
        if response is None:
            raise OperationError(
                f"operation {self.name} finished without a response", operation=self.name
            )
        data = {k: v for k, v in response.items() if k != "@type"}
        self._value = parsed(self._parse, data, where=f"operation {self.name}: response")
        return self._value

    def _failure(self) -> OperationError | None:
        """The :class:`OperationError` :meth:`_outcome` raises, if any (a reply of the wrong
        shape is raised: it is not the operation's outcome)."""
        try:
            self._outcome()
        except OperationError as exc:
            return exc
        return None

    def _deadline(self, timeout: float | None) -> float:
        seconds = check_wait(timeout)
        return math.inf if seconds is None else self._clock() + seconds

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
        """Keep a transient failure for the next poll; raise any other.

        Called outside the ``except`` block that caught ``exc``, so what it raises chains
        nothing; a poll reply of the wrong shape is a ``ProtocolError``.
        """
        if self._is_transient(exc):
            self._last_poll_error = exc
            return
        raise as_protocol_error(exc, where=f"operation {self.name}: poll") or exc
