"""Hostile servers for the reliability suite: small real HTTP/1.1 servers on 127.0.0.1.

A test scripts the answer byte by byte (trickled headers, endless pages, huge bodies,
redirects, garbage), so the client under test sees a real socket. Each server runs its own
event loop on a thread, records what it received, and is stopped at the end of its ``with``.
Also here: the checks that an exception carries no httpx object and no API key.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.traceback import Traceback

KEY = "fw-HOSTILE-7c1e2a9b4d5f8e3a6b0c"


@dataclass
class Received:
    """One request as the server read it; the key is kept apart, out of the ``repr``.

    (A test's own objects show in the tracebacks it inspects: they must not hold the key.)
    """

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    api_key: str = field(default="", repr=False)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Conn:
    """The server side of one exchange: what to write back, and how slowly."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.keep_alive = True

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def reply(
        self,
        status: int,
        body: bytes | str | dict[str, Any] | list[Any] = b"",
        *,
        headers: dict[str, str] | None = None,
        reason: str = "X",
    ) -> None:
        """A whole reply at once, with its Content-Length."""
        if isinstance(body, dict | list):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        await self.send(head(status, len(data), headers, reason) + data)

    async def trickle(self, data: bytes, every_s: float) -> None:
        """``data`` one byte at a time; stops quietly when the client hangs up."""
        for index in range(len(data)):
            await self.send(data[index : index + 1])
            await asyncio.sleep(every_s)

    def close(self) -> None:
        self.keep_alive = False


def head(
    status: int, length: int | None, headers: dict[str, str] | None = None, reason: str = "X"
) -> bytes:
    """A status line and headers (a Content-Length unless ``length`` is None)."""
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


Handler = Callable[[Received, Conn], Awaitable[None]]


@dataclass
class HostileServer:
    """``with HostileServer(handler) as server``: ``server.url``, ``server.received``."""

    handler: Handler
    received: list[Received] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        started.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = Conn(writer)
        try:
            while conn.keep_alive:
                request = await _read_request(reader)
                if request is None:
                    break
                self.received.append(request)
                await self.handler(request, conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: what the tests often want
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    api_key = headers.pop("x-api-key", "")
    return Received(method, target, headers, body, api_key)


# Checks on what a failure carries --------------------------------------------------------

_HTTPX_TYPES = (httpx.Request, httpx.Response, httpx.Headers, httpx.HTTPError, httpx.URL)


def httpx_objects(exc: BaseException) -> list[str]:
    """Where in ``exc``, its attributes and its cause/context chain an httpx object sits."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(value: Any, where: str) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, _HTTPX_TYPES):
            found.append(f"{where}: {type(value).__name__}")
            return
        if isinstance(value, BaseException):
            for name, attr in vars(value).items():
                walk(attr, f"{where}.{name}")
            walk(value.args, f"{where}.args")
            walk(value.__cause__, f"{where}.__cause__")
            walk(value.__context__, f"{where}.__context__")
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}[{key!r}]")
        elif isinstance(value, list | tuple | set | frozenset):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(exc, "exc")
    return found


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception chained to it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def renderings(exc: BaseException) -> dict[str, str]:
    """Every way a user might see ``exc``: text, repr, attributes, tracebacks with locals."""
    plain = "".join(
        traceback.TracebackException(
            type(exc), exc, exc.__traceback__, capture_locals=True
        ).format()
    )
    console = Console(record=True, width=200, color_system=None, file=io.StringIO())
    console.print(
        Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=True, width=200)
    )
    return {
        "str": str(exc),
        "repr": repr(exc),
        "vars": "".join(repr(vars(e)) for e in chain(exc)),
        "traceback with locals": plain,
        "rich traceback with locals": console.export_text(),
    }


def leaks(exc: BaseException, key: str = KEY) -> dict[str, int]:
    """``{rendering: characters of the key shown}`` for every rendering showing 8 or more."""
    shown: dict[str, int] = {}
    for name, text in renderings(exc).items():
        longest = longest_part_of(key, text)
        if longest >= 8:
            shown[name] = longest
    return shown


def longest_part_of(key: str, text: str) -> int:
    """The length of the longest run of ``key``'s characters that ``text`` contains."""
    best = 0
    for start in range(len(key)):
        for end in range(len(key), start + best, -1):
            if key[start:end] in text:
                best = end - start
                break
    return best
