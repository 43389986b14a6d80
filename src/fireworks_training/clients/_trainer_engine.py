"""Trainer I/O: one event loop thread, one connection pool, ordered submits, long-poll retrieval.

Every request of a trainer connection runs as a coroutine on one daemon thread, so thousands
of futures in flight cost no thread each. Submits of a training client go through one queue
in ``seq_id`` order (PROTOCOL.md §2.1); each submitted op then waits for its result in its own
task, at most ``TRAINER_MAX_POLLS`` at a time, so submits always find a free connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import httpx

from .._constants import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    FUTURE_BACKOFF_CAP_S,
    FUTURE_POLL_TIMEOUT_S,
)
from .._retry import RetryPolicy, is_retryable
from ..errors import (
    APIConnectionError,
    APIStatusError,
    FireworksError,
    InvalidArgumentError,
    RequestFailedError,
)
from ..futures import TrainerFuture
from ._base_client import auth_headers
from ._http_errors import connection_error, error_from_response, redact

__all__ = ["LoopThread", "OpSequencer", "TrainerConnection", "submit_retryable"]

T = TypeVar("T")
_log = logging.getLogger("fireworks_training.trainer")

RETRIEVE_PATH = "/api/v1/retrieve_future"
MAX_CONNECTIONS = 64
MAX_POLLS = 48  # below MAX_CONNECTIONS: a submit never waits behind long polls
MAX_POLL_CONNECTION_FAILURES = 30
QUICK_REPOLLS = 3  # 408/5xx answers re-polled at once before backing off


def submit_retryable(exc: BaseException) -> bool:
    """Submits are retried on connection errors, timeouts, 408, 409, 429 and 5xx."""
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class LoopThread:
    """An asyncio event loop running on one daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and block for its result."""
        return self.spawn(coro).result()

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Call ``fn(*args)`` on the loop thread, in the order of calls."""
        self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Cancel what still runs, stop the loop and join its thread."""
        if self._closed:
            return
        self._closed = True
        self.run(_cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True)
class PollTuning:
    """Retrieval knobs: long-poll read timeout, backoff cap, budgets for failures in a row.

    A trainer that answers only 408/5xx or 429, or lets every long poll time out, is given
    up on after the budget (minutes, with the backoff) instead of being polled forever.
    """

    poll_timeout_s: float = FUTURE_POLL_TIMEOUT_S
    backoff_cap_s: float = FUTURE_BACKOFF_CAP_S
    max_connection_failures: int = MAX_POLL_CONNECTION_FAILURES
    max_server_errors: int = 40
    max_read_timeouts: int = 8
    max_rate_limited: int = 40


class TrainerConnection:
    """The HTTP side of one trainer: auth, typed errors, retries, the retrieve loop."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry_policy: RetryPolicy | None = None,
        additional_headers: Mapping[str, str] | None = None,
        tuning: PollTuning | None = None,
    ) -> None:
        self.base_url = base_url
        self._key = api_key
        policy = retry_policy or RetryPolicy()
        self._read_policy = policy.with_predicate(is_retryable)
        self._submit_policy = policy.with_predicate(submit_retryable)
        self._sleep = policy.async_sleep
        self._tuning = tuning or PollTuning()
        # The retry policy's cadence, capped lower: a result poll waits at most the cap.
        self._poll_backoff = replace(policy.backoff, cap_s=self._tuning.backoff_cap_s)
        self.runner = LoopThread("fireworks-trainer")
        self.poll_slots = asyncio.Semaphore(MAX_POLLS)
        headers = auth_headers(api_key, additional_headers)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=DEFAULT_CONNECT_TIMEOUT_S),
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
        )
        self._closed = False

    def close(self) -> None:
        """Close the connection pool and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        self.runner.run(self._http.aclose())
        self.runner.close()

    async def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, timeout: float | None
    ) -> httpx.Response:
        """One attempt; transport failures become our connection errors."""
        try:
            return await self._http.request(
                method,
                path,
                json=body,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise connection_error(exc, secret=self._key) from None

    async def _json_once(
        self, method: str, path: str, body: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        response = await self._send(method, path, body, None)
        if not response.is_success:
            raise error_from_response(response, secret=self._key)
        return _json_object(response)

    async def post(
        self, path: str, body: Mapping[str, Any], *, retry: bool = True
    ) -> dict[str, Any]:
        """POST under the submit retry rules (the body carries what makes a resend safe)."""
        if not retry:
            return await self._json_once("POST", path, body)
        return await self._submit_policy.acall(lambda: self._json_once("POST", path, body))

    async def get(self, path: str) -> dict[str, Any]:
        """GET under the idempotent retry rules."""
        return await self._read_policy.acall(lambda: self._json_once("GET", path, None))

    async def submit(self, op: str, body: Mapping[str, Any]) -> str:
        """Submit an op; its ``request_id``."""
        reply = await self.post(f"/api/v1/{op}", body)
        request_id = reply.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise RequestFailedError(f"{op} submit answer has no request_id", category="server")
        return request_id

    def _backoff(self, attempt: int) -> float:
        return self._poll_backoff.delay(attempt)

    async def retrieve(self, request_id: str) -> dict[str, Any]:
        """Poll ``retrieve_future`` until the op is finished (PROTOCOL.md §2.1)."""
        body = {"request_id": request_id, "allow_metadata_only": False}
        failures = quick = limited = timeouts = 0
        while True:
            try:
                response = await self._send(
                    "POST", RETRIEVE_PATH, body, self._tuning.poll_timeout_s
                )
            except APIConnectionError as exc:
                if isinstance(exc, TimeoutError) and exc.request_sent:
                    timeouts += 1
                    if timeouts > self._tuning.max_read_timeouts:
                        raise
                    continue  # the long poll outlived our read timeout: ask again
                failures += 1
                if failures > self._tuning.max_connection_failures:
                    raise
                await self._sleep(self._backoff(failures))
                continue
            failures = timeouts = 0
            status = response.status_code
            if status == 429:
                limited += 1
                error = error_from_response(response, secret=self._key)
                if limited > self._tuning.max_rate_limited:
                    raise error
                await self._sleep(error.retry_after or self._backoff(limited))
                continue
            if status == 408 or status >= 500:
                quick += 1
                if quick > self._tuning.max_server_errors:
                    raise error_from_response(response, secret=self._key)
                if quick > QUICK_REPOLLS:  # a broken server is not hammered
                    await self._sleep(self._backoff(quick - QUICK_REPOLLS))
                continue
            if not response.is_success:
                raise error_from_response(response, secret=self._key)
            reply = _json_object(response)
            if reply.get("type") == "try_again":
                quick = limited = 0
                continue
            if "error" in reply:
                raise RequestFailedError(
                    redact(str(reply["error"]), self._key),
                    category=str(reply.get("category") or "unknown").lower(),
                    request_id=request_id,
                )
            return reply


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = json.loads(response.text) if response.text else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        path = response.request.url.path
        raise RequestFailedError(
            f"{response.status_code} {response.request.method} {path}: answer is not a JSON object",
            category="server",
        )
    return value


@dataclass
class _Op(Generic[T]):
    future: TrainerFuture[T]
    body: dict[str, Any]
    parse: Callable[[dict[str, Any], str], T]


def _settle(
    future: concurrent.futures.Future[T], result: T | None, exc: BaseException | None
) -> None:
    if future.done():
        return
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]
    except concurrent.futures.InvalidStateError:  # cancelled by the user meanwhile
        pass


class OpSequencer:
    """Numbers a training client's ops, submits them in order, completes their futures."""

    def __init__(self, connection: TrainerConnection, model_id: str) -> None:
        self._conn = connection
        self._model_id = model_id
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        self._queue: asyncio.Queue[_Op[Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._broken: str | None = None
        self._pump = connection.runner.spawn(self._submit_in_order())

    def enqueue(
        self, op: str, fields: Mapping[str, Any], parse: Callable[[dict[str, Any], str], T]
    ) -> TrainerFuture[T]:
        """Number the op now; it is submitted after every lower-numbered op."""
        try:
            # Checked here, before a seq_id is taken: an op that cannot be sent (NaN, an
            # object JSON does not know) must not leave a hole in the sequence.
            json.dumps(fields, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{op}: the request cannot be sent as JSON: {exc}") from None
        with self._lock:
            if self._closed:
                raise FireworksError("the training client is closed")
            self._count += 1
            future: TrainerFuture[T] = TrainerFuture(op, seq_id=self._count)
            body = {"model_id": self._model_id, **fields, "seq_id": self._count, "type": op}
            self._pending.add(future.future())
            future.future().add_done_callback(self._pending.discard)
            # call_soon_threadsafe keeps call order, so the queue holds ops in seq_id order.
            self._conn.runner.call_soon(self._queue.put_nowait, _Op(future, body, parse))
        return future

    async def _submit_in_order(self) -> None:
        while True:
            item = await self._queue.get()
            future = item.future
            if self._broken is not None:
                _settle(future.future(), None, self._broken_error(future))
                continue
            try:
                request_id = await self._conn.submit(future.op, item.body)
            except Exception as exc:
                # The trainer runs ops strictly by seq_id: every later op would wait forever.
                self._broken = f"{future.op} (seq_id {future.seq_id}) could not be submitted"
                _settle(future.future(), None, exc)
                continue
            future.request_id = request_id
            _log.debug("submitted %s seq_id=%s request_id=%s", future.op, future.seq_id, request_id)
            task = asyncio.create_task(self._finish(item, request_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            future.future().add_done_callback(functools.partial(self._on_user_cancel, task=task))

    def _broken_error(self, future: TrainerFuture[Any]) -> RequestFailedError:
        return RequestFailedError(
            f"{future.op} (seq_id {future.seq_id}) not submitted: {self._broken}, and the "
            "trainer runs ops in seq_id order; start a new training client",
            category="unknown",
        )

    def _on_user_cancel(
        self, future: concurrent.futures.Future[Any], *, task: asyncio.Task[None]
    ) -> None:
        if future.cancelled():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._conn.runner.call_soon(task.cancel)

    async def _finish(self, item: _Op[T], request_id: str) -> None:
        if item.future.done():
            return
        async with self._conn.poll_slots:
            try:
                reply = await self._conn.retrieve(request_id)
                result = item.parse(reply, request_id)
            except Exception as exc:
                _settle(item.future.future(), None, exc)
                return
        _settle(item.future.future(), result, None)

    def close(self) -> None:
        """Stop submitting and waiting; futures not finished yet are cancelled."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pump.cancel()
        self._conn.runner.run(self._cancel_tasks())
        for future in list(self._pending):
            future.cancel()

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
