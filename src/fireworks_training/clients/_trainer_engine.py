"""Trainer futures at work: one event loop thread per trainer, ordered submits, result tasks.

Every request of a trainer connection runs as a coroutine on one daemon thread, so thousands
of futures in flight cost no thread each. Submits of a training client go through one queue
in ``seq_id`` order (docs/protocol.md §2.1); each submitted op then waits for its result in
its own task, at most ``MAX_POLLS`` at a time, so submits always find a free connection.
The HTTP side is ``_trainer_api.py``.
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
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._retry import PollTuning, RetryPolicy
from ..errors import ClientClosedError, FireworksError, InvalidArgumentError, RequestFailedError
from ..futures import CallbackFuture, TrainerFuture
from ._trainer_api import MAX_CONNECTIONS, AsyncTrainerAPI

__all__ = ["LoopThread", "OpSequencer", "TrainerConnection", "connect"]

T = TypeVar("T")
_log = logging.getLogger("fireworks_training.trainer")

MAX_POLLS = MAX_CONNECTIONS - 16  # a submit never waits behind long polls


class LoopThread:
    """An asyncio event loop running on one daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; after :meth:`close`, ``ClientClosedError``."""
        if self._closed:
            coro.close()
            raise ClientClosedError("the trainer client is closed; make a new one")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and block for its result (never from the loop thread)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise FireworksError("a blocking trainer call on the client's own loop thread")
        return self.spawn(coro).result()

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Call ``fn(*args)`` on the loop thread, in the order of calls."""
        self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Cancel what still runs, stop the loop and join its thread."""
        if self._closed:
            return
        self._closed = True
        asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class TrainerConnection:
    """One trainer: its API client and the loop thread every request of it runs on."""

    def __init__(self, api: AsyncTrainerAPI) -> None:
        self.api = api
        self.runner = LoopThread("fireworks-trainer")
        self.poll_slots = asyncio.Semaphore(MAX_POLLS)
        self._closed = False

    @property
    def base_url(self) -> str:
        """The trainer base URL."""
        return self.api.base_url

    def close(self) -> None:
        """Close the connection pool and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        self.runner.run(self.api.close())
        self.runner.close()


def connect(
    base_url: str,
    api_key: str | None,
    timeout: float,
    max_retries: int,
    retry_policy: RetryPolicy | None,
    additional_headers: Mapping[str, str] | None,
    tuning: PollTuning | None,
) -> TrainerConnection:
    """A connection to the trainer at ``base_url`` (checked before anything starts)."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise InvalidArgumentError("base_url (the trainer URL) is required")
    api = AsyncTrainerAPI(
        base_url.strip(),
        api_key,
        timeout=timeout,
        retry_policy=retry_policy or RetryPolicy(max_retries=max_retries),
        additional_headers=additional_headers,
        tuning=tuning,
    )
    return TrainerConnection(api)


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


def _when_done(
    inner: concurrent.futures.Future[Any],
    loop: asyncio.AbstractEventLoop,
    waiter: asyncio.Future[None],
) -> None:
    """Resolve ``waiter`` (on ``loop``) once ``inner`` is done, however it ended."""

    def resolve() -> None:
        if not waiter.done():
            waiter.set_result(None)

    def done(_: concurrent.futures.Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(resolve)

    if isinstance(inner, CallbackFuture):
        inner.add_inline_callback(done)
    else:  # pragma: no cover - every future made here is a CallbackFuture
        inner.add_done_callback(done)


class OpSequencer:
    """Numbers a training client's ops, submits them in order, completes their futures."""

    def __init__(self, connection: TrainerConnection, model_id: str) -> None:
        self._conn = connection
        self._model_id = model_id
        self._lock = threading.Lock()
        self._count = 0
        self._closed: str | None = None  # why no op may be enqueued any more
        self._queue: asyncio.Queue[_Op[Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._broken: str | None = None
        self._shut = False
        self._pump = connection.runner.spawn(self._submit_in_order())

    def enqueue(
        self,
        op: str,
        fields: Mapping[str, Any],
        parse: Callable[[dict[str, Any], str], T],
        *,
        typed: bool = True,
    ) -> TrainerFuture[T]:
        """Number the op now; it is submitted after every lower-numbered op.

        ``typed``: the body carries ``"type": op`` (the official client leaves it out of
        forward, forward/backward and load_adapter requests).
        """
        try:
            # Checked here, before a seq_id is taken: an op that cannot be sent (NaN, an
            # object JSON does not know) must not leave a hole in the sequence.
            json.dumps(fields, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{op}: the request cannot be sent as JSON: {exc}") from None
        with self._lock:
            if self._closed is not None:
                raise ClientClosedError(self._closed)
            self._count += 1
            future: TrainerFuture[T] = TrainerFuture(op, seq_id=self._count)
            body = {"model_id": self._model_id, **fields, "seq_id": self._count}
            if typed:
                body["type"] = op
            self._track(future.future())
            # call_soon_threadsafe keeps call order, so the queue holds ops in seq_id order.
            self._conn.runner.call_soon(self._queue.put_nowait, _Op(future, body, parse))
        return future

    def _track(self, future: concurrent.futures.Future[Any]) -> None:
        self._pending.add(future)
        if isinstance(future, CallbackFuture):
            future.add_inline_callback(self._pending.discard)
        else:  # pragma: no cover - every future made here is a CallbackFuture
            future.add_done_callback(self._pending.discard)

    def unload(self, parse: Callable[[dict[str, Any], str], T]) -> TrainerFuture[T]:
        """``unload_model`` once every op in flight finished; no op may follow it."""
        with self._lock:
            if self._closed is not None:
                raise ClientClosedError(self._closed)
            self._closed = "the model was unloaded; create a new training client"
            pending = list(self._pending)
        future: TrainerFuture[T] = TrainerFuture("unload_model")
        self._track(future.future())
        body = {"model_id": self._model_id, "type": "unload_model"}
        self._conn.runner.spawn(self._unload(pending, _Op(future, body, parse)))
        return future

    async def _unload(self, pending: list[concurrent.futures.Future[Any]], item: _Op[T]) -> None:
        loop = asyncio.get_running_loop()
        waiters = []
        for inner in pending:
            waiter: asyncio.Future[None] = loop.create_future()
            _when_done(inner, loop, waiter)
            waiters.append(waiter)
        await asyncio.gather(*waiters)
        try:
            request_id, roundtrip_s = await self._conn.api.submit("unload_model", item.body)
        except Exception as exc:
            _settle(item.future.future(), None, exc)
            return
        item.future.request_id = request_id
        await self._finish(item, request_id, roundtrip_s)

    async def _submit_in_order(self) -> None:
        while True:
            item = await self._queue.get()
            future = item.future
            if self._broken is not None:
                _settle(future.future(), None, self._broken_error(future))
                continue
            try:
                request_id, roundtrip_s = await self._conn.api.submit(future.op, item.body)
            except Exception as exc:
                # The trainer runs ops strictly by seq_id: every later op would wait forever.
                self._broken = f"{future.op} (seq_id {future.seq_id}) could not be submitted"
                _settle(future.future(), None, exc)
                continue
            future.request_id = request_id
            _log.debug("submitted %s seq_id=%s request_id=%s", future.op, future.seq_id, request_id)
            task = asyncio.create_task(self._finish(item, request_id, roundtrip_s))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            cancel = functools.partial(self._on_user_cancel, task=task)
            inner = future.future()
            if isinstance(inner, CallbackFuture):
                inner.add_inline_callback(cancel)
            else:  # pragma: no cover - every future made here is a CallbackFuture
                inner.add_done_callback(cancel)

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

    async def _finish(self, item: _Op[T], request_id: str, roundtrip_s: float) -> None:
        if item.future.done():
            return
        async with self._conn.poll_slots:
            try:
                reply = await self._conn.api.retrieve(request_id, item.future.op, roundtrip_s)
                result = item.parse(reply, request_id)
            except Exception as exc:
                _settle(item.future.future(), None, exc)
                return
        _settle(item.future.future(), result, None)

    def close(self) -> None:
        """Stop submitting and waiting; futures not finished yet are cancelled."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
            self._closed = "the training client is closed"
        self._pump.cancel()
        self._conn.runner.run(self._cancel_tasks())
        for future in list(self._pending):
            future.cancel()

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
