"""Trainer futures: ``tinker.APIFuture`` implementations over ``concurrent.futures.Future``.

A :class:`TrainerFuture` is completed by the client's background event loop; it holds no
thread of its own, so thousands can be in flight at once. Read it with ``.result(timeout)``,
``await future``, ``await future.result_async(timeout)``, or hand ``.future()`` to code that
works with standard futures. Cancelling ``.future()`` stops waiting for the result; the op
itself was already sent and goes on on the trainer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from typing import TypeVar

import tinker

__all__ = ["TrainerFuture"]

T = TypeVar("T")


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
        self._future: concurrent.futures.Future[T] = future or concurrent.futures.Future()

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
        self._future.add_done_callback(on_done)
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
