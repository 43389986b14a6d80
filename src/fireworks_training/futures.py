"""Trainer futures: ``tinker.APIFuture`` implementations over ``concurrent.futures.Future``.

A :class:`TrainerFuture` is completed by the client's background event loop; it holds no
thread of its own, so thousands can be in flight at once. Read it with ``.result(timeout)``,
``await future``, ``await future.result_async(timeout)``, or hand ``.future()`` to code that
works with standard futures. Cancelling ``.future()`` stops waiting for the result; the op
itself was already sent and goes on on the trainer.

Done-callbacks added to ``.future()`` run on one callback thread, never on the client's
event loop thread: a callback may call the client (even block on another result) without
stalling the loop that completes every future.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import tinker

__all__ = ["CallbackFuture", "TrainerFuture", "chain"]

T = TypeVar("T")
U = TypeVar("U")
_log = logging.getLogger("fireworks_training.trainer")


class _CallbackThread:
    """One daemon thread that runs users' done-callbacks in the order futures finished."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[Callable[[Any], object], Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[Any], object], future: Any) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fireworks-trainer-callbacks", daemon=True
                )
                self._thread.start()
        self._queue.put((fn, future))

    def _run(self) -> None:
        while True:
            fn, future = self._queue.get()
            try:
                fn(future)
            except Exception:
                # What concurrent.futures does with a failing callback: log it, go on.
                _log.exception("exception calling callback for %r", future)


_CALLBACKS = _CallbackThread()


class CallbackFuture(concurrent.futures.Future[T]):
    """A ``concurrent.futures.Future`` whose done-callbacks never run on the completing thread.

    A callback added before the future finishes runs on the callback thread; one added after
    runs at once in the caller's thread, as the standard library does.
    """

    def add_done_callback(self, fn: Callable[[concurrent.futures.Future[T]], object]) -> None:
        """Run ``fn(future)`` once the future is done, off the client's event loop thread."""
        if self.done():
            super().add_done_callback(fn)  # runs now, in the caller's thread
            return
        super().add_done_callback(lambda future: _CALLBACKS.submit(fn, future))

    def add_inline_callback(self, fn: Callable[[concurrent.futures.Future[T]], object]) -> None:
        """For the SDK's own short callbacks: run ``fn`` in the thread that completes it."""
        super().add_done_callback(fn)


def _add_inline(
    future: concurrent.futures.Future[T], fn: Callable[[concurrent.futures.Future[T]], object]
) -> None:
    if isinstance(future, CallbackFuture):
        future.add_inline_callback(fn)
    else:
        future.add_done_callback(fn)


class TrainerFuture(tinker.APIFuture[T]):
    """The pending result of one trainer op (``op``, ``seq_id``, ``request_id`` once sent)."""

    def __init__(
        self,
        op: str,
        seq_id: int | None = None,
        future: concurrent.futures.Future[T] | None = None,
    ) -> None:
        self.op = op
        self.seq_id = seq_id
        self.request_id: str | None = None
        self._future: concurrent.futures.Future[T] = future or CallbackFuture()

    def result(self, timeout: float | None = None) -> T:
        """Block until the op finishes; ``TimeoutError`` when ``timeout`` runs out first."""
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            if self._future.done():
                raise  # the op itself failed with a timeout error (e.g. APITimeoutError)
            raise TimeoutError(
                f"{self.op} (seq_id {self.seq_id}) not finished after {timeout} s; "
                "it goes on on the trainer"
            ) from None

    async def result_async(self, timeout: float | None = None) -> T:
        """Await the result; ``TimeoutError`` when ``timeout`` runs out first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()

        def on_done(source: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop closed meanwhile
                loop.call_soon_threadsafe(_copy_outcome, source, waiter)

        # Not asyncio.wrap_future: a timeout here must not cancel the op's own future.
        _add_inline(self._future, on_done)
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                raise  # the op itself failed with a timeout error (e.g. APITimeoutError)
            raise TimeoutError(
                f"{self.op} (seq_id {self.seq_id}) not finished after {timeout} s; "
                "it goes on on the trainer"
            ) from None

    def future(self) -> concurrent.futures.Future[T]:
        """The underlying ``concurrent.futures.Future``."""
        return self._future

    def done(self) -> bool:
        """True once the op finished, failed or was cancelled."""
        return self._future.done()

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return (
            f"<TrainerFuture {self.op} seq_id={self.seq_id} request_id={self.request_id!r} {state}>"
        )


def chain(source: TrainerFuture[T], transform: Callable[[T], U]) -> TrainerFuture[U]:
    """A future of ``transform(result)`` once ``source`` succeeds (its failure otherwise).

    ``transform`` is the SDK's own short code: it runs in the thread that completes
    ``source``. Cancelling the returned future stops waiting only.
    """
    target: TrainerFuture[U] = TrainerFuture(source.op, source.seq_id)
    target.request_id = source.request_id

    def settle(done: concurrent.futures.Future[T]) -> None:
        out = target.future()
        if out.done():
            return
        target.request_id = source.request_id
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            if done.cancelled():
                out.cancel()
            elif (exc := done.exception()) is not None:
                out.set_exception(exc)
            else:
                try:
                    value = transform(done.result())
                except Exception as failure:
                    out.set_exception(failure)
                else:
                    out.set_result(value)

    _add_inline(source.future(), settle)
    return target


def _copy_outcome(source: concurrent.futures.Future[T], waiter: asyncio.Future[T]) -> None:
    if waiter.done():
        return
    if source.cancelled():
        waiter.cancel()
        return
    exc = source.exception()
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(source.result())
