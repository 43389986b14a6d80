"""Retry policies, one object shared by sync and async code (tenacity underneath).

What is retried: idempotent calls on connection errors, timeouts, 408, 429, 500, 502, 503
and 504, honouring ``Retry-After`` (capped), with exponential backoff and jitter, a bounded
number of attempts and an overall deadline that no wait runs past (a ``Retry-After`` past
it ends the call at once). Never 400/401/403/404/409/501. ``PollTuning`` holds the budgets
of the trainer's result polls. Both are public in ``fireworks_training.retries``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ._backoff import Backoff
from ._constants import (
    DEFAULT_MAX_RETRIES,
    FUTURE_BACKOFF_CAP_S,
    FUTURE_POLL_TIMEOUT_S,
    RETRY_AFTER_CAP_S,
    RETRY_DEADLINE_S,
    RETRY_INITIAL_WAIT_S,
    RETRY_MAX_WAIT_S,
)
from .errors import APIConnectionError, APIStatusError

# tenacity (which loads asyncio), asyncio and email are imported where they are used, so
# that the sync client's import loads none of them.
if TYPE_CHECKING:
    import tenacity

__all__ = [
    "RETRYABLE_STATUSES",
    "PollTuning",
    "RetryPolicy",
    "is_retryable",
    "parse_retry_after",
    "surely_not_acted",
]

_T = TypeVar("_T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), capped at 60 s."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def is_retryable(exc: BaseException) -> bool:
    """True for failures an idempotent call may be retried on."""
    if isinstance(exc, APIConnectionError):
        return True
    return isinstance(exc, APIStatusError) and exc.status_code in RETRYABLE_STATUSES


def surely_not_acted(exc: BaseException) -> bool:
    """True for failures after which the server surely did not act (safe to resend a POST).

    A connection that failed before the request was sent, 429, or 503 with ``Retry-After``.
    """
    if isinstance(exc, APIConnectionError):
        return not exc.request_sent
    if isinstance(exc, APIStatusError):
        if exc.status_code == 429:
            return True
        return exc.status_code == 503 and exc.retry_after is not None
    return False


def _sleep_sync(seconds: float) -> None:
    time.sleep(seconds)


async def _sleep_async(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often, how long and on what to retry.

    ``max_retries`` counts retries after the first attempt; ``deadline_s`` bounds the whole
    call from its first attempt: no attempt starts after it, a backoff wait is cut to the time
    left, and a ``Retry-After`` reaching past it ends the call with the last error.
    ``sleep``/``async_sleep``/``clock`` are injectable so tests run without waiting.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    deadline_s: float = RETRY_DEADLINE_S
    initial_wait_s: float = RETRY_INITIAL_WAIT_S
    max_wait_s: float = RETRY_MAX_WAIT_S
    retry_on: Callable[[BaseException], bool] = is_retryable
    sleep: Callable[[float], None] = field(default=_sleep_sync, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(default=_sleep_async, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.deadline_s <= 0:
            raise ValueError(f"deadline_s must be > 0, got {self.deadline_s}")

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts: doubling from ``initial_wait_s``, jittered, capped."""
        return Backoff(self.initial_wait_s, 2.0, self.max_wait_s, jitter_s=self.initial_wait_s)

    def with_predicate(self, retry_on: Callable[[BaseException], bool]) -> RetryPolicy:
        """The same policy retrying on a different set of failures."""
        return replace(self, retry_on=retry_on)

    @staticmethod
    def _asked_wait(state: tenacity.RetryCallState) -> float | None:
        """The wait the server asked for (``Retry-After``) after the last attempt, if any."""
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, APIStatusError):
            return exc.retry_after
        return None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        asked = self._asked_wait(state)
        if asked is not None:
            return asked
        return self.backoff.delay(state.attempt_number)

    def _kwargs(self, started_at: float | None = None) -> dict[str, Any]:
        import tenacity

        # Reset at each run's first attempt, unless that attempt already ran (``call``).
        started = [self.clock() if started_at is None else started_at]

        def before(state: tenacity.RetryCallState) -> None:
            if state.attempt_number == 1 and started_at is None:
                started[0] = self.clock()

        def time_left() -> float:
            return self.deadline_s - (self.clock() - started[0])

        def wait(state: tenacity.RetryCallState) -> float:
            return max(min(self._wait(state), time_left()), 0.0)

        def stop(state: tenacity.RetryCallState) -> bool:
            left = time_left()
            if state.attempt_number > self.max_retries or left <= 0:
                return True
            # A server's Retry-After past the deadline: an attempt sooner would be refused.
            asked = self._asked_wait(state)
            return asked is not None and asked > left

        return {
            "before": before,
            "stop": stop,
            "wait": wait,
            "retry": tenacity.retry_if_exception(self.retry_on),
            "reraise": True,
        }

    def retrying(self) -> tenacity.Retrying:
        """A fresh synchronous retry controller."""
        return self._retrying()

    def async_retrying(self) -> tenacity.AsyncRetrying:
        """A fresh asynchronous retry controller."""
        return self._async_retrying()

    def _retrying(self, started_at: float | None = None) -> tenacity.Retrying:
        import tenacity

        return tenacity.Retrying(sleep=self.sleep, **self._kwargs(started_at))

    def _async_retrying(self, started_at: float | None = None) -> tenacity.AsyncRetrying:
        import tenacity

        return tenacity.AsyncRetrying(sleep=self.async_sleep, **self._kwargs(started_at))

    # The first attempt runs without a retry controller: most calls succeed at once, and
    # building one costs more than a small request's own work. A failure is handed to the
    # controller as its first attempt, from the time that attempt started, so the decisions,
    # waits and errors are those of running every attempt under it.

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` under this policy."""
        started = self.clock()
        try:
            return fn()
        except BaseException as exc:  # the controller re-raises what it does not retry
            failed = [exc]
        for attempt in self._retrying(started):
            with attempt:
                return fn() if not failed else _reraise(failed)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def acall(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        """Await ``fn()`` under this policy."""
        started = self.clock()
        try:
            return await fn()
        except BaseException as exc:  # the controller re-raises what it does not retry
            failed = [exc]
        async for attempt in self._async_retrying(started):
            with attempt:
                return await fn() if not failed else _reraise(failed)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _reraise(failed: list[BaseException]) -> NoReturn:
    """Raise the first attempt's failure once more, inside the retry controller."""
    raise failed.pop()


@dataclass(frozen=True)
class PollTuning:
    """How a trainer future's result is polled (docs/protocol.md §2.1, §2.5).

    ``poll_timeout_s`` is the read timeout of one long poll; waits between polls follow the
    retry policy's backoff capped at ``backoff_cap_s``. A trainer that answers only
    408/5xx, only 429, fails to connect, or lets every long poll time out is given up on
    after the matching budget of failures in a row instead of being polled forever.
    """

    poll_timeout_s: float = FUTURE_POLL_TIMEOUT_S
    backoff_cap_s: float = FUTURE_BACKOFF_CAP_S
    max_connection_failures: int = 30
    max_server_errors: int = 40
    max_read_timeouts: int = 8
    max_rate_limited: int = 40
