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

from ..errors import ClientClosedError, FireworksError, InvalidArgumentError, RequestFailedError
from ..futures import TrainerFuture
from ._trainer_api import MAX_CONNECTIONS, AsyncTrainerAPI

__all__ = ["LoopThread", "OpSequencer", "TrainerConnection"]

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
                request_id = await self._conn.api.submit(future.op, item.body)
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
                reply = await self._conn.api.retrieve(request_id)
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
