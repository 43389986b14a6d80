"""One deadline for a whole request, however slowly the server answers.

httpx's timeouts are per phase and per read: a server that sends one byte a second never
trips a 2 s read timeout and can stretch a reply over minutes. A request is bounded instead
by one deadline from its start (see :func:`total_seconds`):

- ``AsyncDeadline`` cancels the request when the deadline passes (``asyncio.timeout``).
- ``Deadline``, for the sync client, has a watchdog thread shut the request's socket down
  when the deadline passes, which ends a blocked read at once; the body is also checked
  between chunks. The socket is learned when the request starts to be sent (from the
  connection the pool gave it, new or reused), when a new connection opens, and from the
  reply's headers. A custom transport whose connection cannot be found that way is bounded
  per read until its reply's headers arrive.

Both raise ``TimeoutError`` out of the ``with`` block when the deadline ended the request.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx

__all__ = ["AsyncDeadline", "Deadline", "total_seconds"]

_NEW_CONNECTION_EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")
_SENDING_EVENTS = ("http11.send_request_headers.started", "http2.send_request_headers.started")


def total_seconds(timeout: httpx.Timeout) -> float | None:
    """The deadline of a whole request: the largest phase timeout; None without a read limit."""
    if timeout.read is None:
        return None
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return max(value for value in phases if value is not None)


class AsyncDeadline:
    """``async with AsyncDeadline(seconds)``: the block is cancelled when time runs out."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expired = False
        import asyncio  # here, not at the top: the sync client's import does not load asyncio

        self._scope = asyncio.timeout(seconds)

    async def __aenter__(self) -> AsyncDeadline:
        await self._scope.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            await self._scope.__aexit__(exc_type, exc, tb)
        except TimeoutError:
            self.expired = True
            raise
        return None

    def extensions(self, http: httpx.AsyncClient) -> dict[str, Any]:
        """httpx request extensions the deadline needs (none: cancellation does it all)."""
        return {}

    def watch(self, response: httpx.Response) -> None:
        """Nothing to do: cancellation reaches every read."""

    def release(self) -> None:
        """Nothing to do: cancellation touches no connection after the block."""

    def check(self) -> None:
        """Nothing to do: the cancellation arrives at the next read by itself.

        (Raising here instead could leave the task's pending cancellation behind.)
        """


class Deadline:
    """``with Deadline(seconds)``: the request's socket is shut down when time runs out."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expired = False
        self.end = None if seconds is None else time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._http: httpx.Client | None = None

    def __enter__(self) -> Deadline:
        if self.end is not None:
            _watchdog().schedule(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()
        if self.end is not None:
            _watchdog().forget()
        if self.expired and exc_type is not None and issubclass(exc_type, httpx.HTTPError):
            raise TimeoutError  # the read failed because the watchdog shut the socket

    def extensions(self, http: httpx.Client) -> dict[str, Any]:
        """The trace hook that learns the socket of the connection ``http`` sends on."""
        self._http = http
        return {"trace": self._trace}

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event in _NEW_CONNECTION_EVENTS:
            self._add(info.get("return_value"))
        elif event in _SENDING_EVENTS and not self._sockets and self._http is not None:
            # A reused keep-alive connection opens nothing: find the one the pool gave us.
            self._add(_assigned_stream(self._http, info.get("request")))

    def watch(self, response: httpx.Response) -> None:
        """Shut ``response``'s connection down if the deadline passes while it is read."""
        self._add(response.extensions.get("network_stream"))

    def _add(self, stream: Any) -> None:
        try:
            sock = stream.get_extra_info("socket") if stream is not None else None
        except Exception:  # a custom transport's stream: bounded per read, as without us
            return
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._done:
                return
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def release(self) -> None:
        """Forget the sockets: their connections may go back to the pool for other requests.

        Called before a reply is closed. The watchdog shuts sockets down under the same
        lock, so none is touched once this returns.
        """
        with self._lock:
            self._sockets.clear()

    def check(self) -> None:
        """Raise ``TimeoutError`` when the deadline has passed."""
        if self.expired or (self.end is not None and time.monotonic() >= self.end):
            self.expired = True
            raise TimeoutError

    def fire(self) -> None:
        """Called by the watchdog at the deadline: end the reads of this request."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    @property
    def done(self) -> bool:
        """Whether the request has ended (the watchdog then skips it)."""
        return self._done


def _assigned_stream(http: httpx.Client, request: object) -> Any:
    """The network stream of the connection ``http``'s pool assigned to ``request``, or None.

    ``request`` is the httpcore request a trace event names. Written against httpx 0.29 and
    httpcore 1.0.9, whose pools keep a ``PoolRequest`` (``.request``, ``.connection``) per
    request in flight; an ``HTTPConnection`` wraps an HTTP/1.1 or HTTP/2 connection holding
    ``_network_stream`` (a proxy's connection wraps one more level). None of that is public:
    every step is a guarded lookup, and anything else (another version, a custom transport)
    gives None, which leaves the socket to be learned from the reply's headers as before.
    """
    if request is None:
        return None
    try:
        mounts = getattr(http, "_mounts", None)
        transports = [getattr(http, "_transport", None)]
        if isinstance(mounts, dict):
            transports += list(mounts.values())
        for transport in transports:
            pending = getattr(getattr(transport, "_pool", None), "_requests", None)
            if not isinstance(pending, list):
                continue
            for pool_request in list(pending):  # a copy: other threads' requests come and go
                if getattr(pool_request, "request", None) is request:
                    return _network_stream(getattr(pool_request, "connection", None))
    except Exception:  # never let a lookup in another library's internals fail a request
        return None
    return None


def _network_stream(connection: object) -> Any:
    for _ in range(3):  # HTTPConnection -> HTTP11Connection; a proxy's adds one level
        stream = getattr(connection, "_network_stream", None)
        if stream is not None:
            return stream
        connection = getattr(connection, "_connection", None)
    return None


def _shutdown(sock: socket.socket) -> None:
    # The plain socket's method even for TLS: ``SSLSocket.shutdown`` would also drop its TLS
    # state under the reading thread; shutting the descriptor down makes that read end.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread firing the deadlines of sync requests, earliest first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._forgotten = 0

    def forget(self) -> None:
        """A scheduled deadline ended early; drop ended ones once they are half the heap."""
        with self._cond:
            self._forgotten += 1
            if self._forgotten > 64 and 2 * self._forgotten > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._forgotten = 0

    def schedule(self, deadline: Deadline) -> None:
        assert deadline.end is not None
        with self._cond:
            entry = (deadline.end, next(self._order), deadline)
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():  # first use, or forked
                self._thread = threading.Thread(
                    target=self._run, name="fireworks-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                # Woken only for a new earliest deadline: the thread already waits until the
                # earliest one, and waking it on every request costs a thread switch each.
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
            due.fire()

    def _next_due(self) -> Deadline:
        while True:
            if not self._heap:
                self._cond.wait()
                continue
            end, _, deadline = self._heap[0]
            if deadline.done:
                heapq.heappop(self._heap)
                self._forgotten = max(self._forgotten - 1, 0)
                continue
            left = end - time.monotonic()
            if left <= 0:
                heapq.heappop(self._heap)
                return deadline
            self._cond.wait(left)


_WATCHDOG: _Watchdog | None = None
_WATCHDOG_LOCK = threading.Lock()


def _watchdog() -> _Watchdog:
    global _WATCHDOG
    with _WATCHDOG_LOCK:
        if _WATCHDOG is None:
            _WATCHDOG = _Watchdog()
        return _WATCHDOG
