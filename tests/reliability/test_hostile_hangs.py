"""No hostile server can hang a call (issue 15, §4, the client's part).

A reply trickled one byte at a time never trips httpx's per-read timeout; the whole request
is bounded by its deadline instead, sync and async, headers or body. A listing whose server
answers empty pages with fresh tokens without end stops with a ``ProtocolError``.
Each server here would finish on its own after some seconds, so a client that waits for it
fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from fireworks_training._paging import MAX_EMPTY_PAGES
from fireworks_training.errors import APITimeoutError, ProtocolError

from .hostile import Conn, HostileServer, Received, head
from .test_hostile_keys import CALLS

# About 10 s of trickle at 0.1 s a byte: far past the 1 s deadline, and a bound on the test.
BODY = json.dumps({"name": "accounts/acme/models/m", "state": "READY", "pad": "x" * 40}).encode()
EVERY_S = 0.1


async def trickled_body(request: Received, conn: Conn) -> None:
    await conn.send(head(200, len(BODY)))
    await conn.trickle(BODY, EVERY_S)


async def trickled_headers(request: Received, conn: Conn) -> None:
    await conn.trickle(head(200, len(BODY)) + BODY, EVERY_S)


TRICKLES = {"body": trickled_body, "headers and body": trickled_headers}


@pytest.mark.parametrize("what", sorted(TRICKLES))
@pytest.mark.parametrize("client", ["control", "control-async", "jobs", "trainer"])
def test_a_trickled_reply_ends_at_the_deadline(
    client: str, what: str, figures: dict[str, Any]
) -> None:
    call: Callable[..., None] = CALLS[client]
    with HostileServer(TRICKLES[what]) as server:
        began = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"no whole reply within 1 s") as info:
            call(server.url, timeout=1.0)
        figures["seconds_to_error"] = round(time.monotonic() - began, 2)
    assert info.value.request_sent
    figures["trickle_seconds_if_waited"] = round(len(BODY) * EVERY_S, 1)


# Reply headers at 0.4 s a byte: about 30 s if waited for, against a 1 s deadline.
SLOW_HEAD_EVERY_S = 0.4


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_headers_trickled_over_a_reused_connection_end_at_the_deadline(
    flavour: str, figures: dict[str, Any]
) -> None:
    """The second request on a keep-alive connection opens nothing, yet is bounded too."""
    from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient

    model = {"name": "accounts/acme/models/m", "state": "READY"}
    body = json.dumps(model).encode()
    slow_head = head(200, len(body))
    head_bytes_sent = 0

    async def second_trickles(request: Received, conn: Conn) -> None:
        nonlocal head_bytes_sent
        if len(server.received) == 1:
            await conn.reply(200, body)
            return
        for byte in slow_head:
            await asyncio.sleep(SLOW_HEAD_EVERY_S)
            await conn.send(bytes([byte]))
            head_bytes_sent += 1
        await conn.send(body)

    def twice(url: str) -> None:
        options: dict[str, Any] = {"account_id": "acme", "timeout": 1.0, "max_retries": 0}
        if flavour == "sync":
            with FireworksClient("k", url, **options) as client:
                assert client.get_model("m")["state"] == "READY"
                client.get_model("m")
            return

        async def run() -> None:
            async with AsyncFireworksClient("k", url, **options) as client:
                assert (await client.get_model("m"))["state"] == "READY"
                await client.get_model("m")

        asyncio.run(run())

    with HostileServer(second_trickles) as server:
        began = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"no whole reply within 1 s") as info:
            twice(server.url)
        figures["seconds_to_error"] = round(time.monotonic() - began, 2)
    assert info.value.request_sent
    assert len(server.received) == 2
    assert server.connections == 1  # the second request reused the first one's connection
    # The client hung up mid-headers (a client bounded per read only would wait for them all,
    # then find its deadline passed: the same error, 28 s late).
    assert head_bytes_sent < len(slow_head)
    figures["head_bytes_sent"] = f"{head_bytes_sent} of {len(slow_head)}"
    figures["trickle_seconds_if_waited"] = round(len(slow_head) * SLOW_HEAD_EVERY_S, 1)


class _Delegating(httpx.BaseTransport):
    """A caller's own transport: the deadline cannot find its connections."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_custom_transport_falls_back_to_the_reply_headers() -> None:
    """Requests over a transport that is not httpx's own still work, connection reused."""
    from fireworks_training.clients.fireworks import FireworksClient

    async def ready(request: Received, conn: Conn) -> None:
        await conn.reply(200, {"name": "accounts/acme/models/m", "state": "READY"})

    with (
        HostileServer(ready) as server,
        httpx.Client(transport=_Delegating()) as http,
        FireworksClient("k", server.url, account_id="acme", http_client=http) as client,
    ):
        states = [client.get_model("m")["state"] for _ in range(3)]
    assert states == ["READY"] * 3
    assert server.connections == 1


@pytest.mark.parametrize(
    "client",
    [
        object(),  # no transport at all
        SimpleNamespace(_transport=SimpleNamespace(_pool=SimpleNamespace(_requests=None))),
        SimpleNamespace(_transport=None, _mounts={"all://": None}),
        SimpleNamespace(_transport=SimpleNamespace(_pool=SimpleNamespace(_requests=[object()]))),
    ],
)
def test_the_connection_lookup_gives_none_on_unknown_internals(client: Any) -> None:
    """Another httpx or httpcore than the one it was written against: no socket, no error."""
    from fireworks_training.clients._deadline import _assigned_stream

    assert _assigned_stream(client, object()) is None


def test_the_async_deadline_bounds_each_attempt_not_the_retries(figures: dict[str, Any]) -> None:
    """Each attempt gets the whole deadline; the retry policy bounds the attempts."""
    from fireworks_training.clients.fireworks import AsyncFireworksClient

    async def run(url: str) -> None:
        async with AsyncFireworksClient(
            "k", url, account_id="acme", timeout=1.0, max_retries=1
        ) as client:
            await client.get_model("m")

    with HostileServer(trickled_body) as server:
        with pytest.raises(APITimeoutError):
            asyncio.run(run(server.url))
        figures["attempts"] = len(server.received)
    assert len(server.received) == 2


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_endless_empty_pages_stop_the_listing(flavour: str, figures: dict[str, Any]) -> None:
    from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient

    async def pages(request: Received, conn: Conn) -> None:
        served = len(server.received)
        # A bound for the test: a client without one would list 500 pages, then end.
        token = {"nextPageToken": f"t{served}"} if served < 500 else {}
        await conn.reply(200, {"checkpoints": [], **token})

    def listing(url: str) -> None:
        if flavour == "sync":
            with FireworksClient("k", url, account_id="acme") as client:
                client.list_checkpoints("j")
            return

        async def run() -> None:
            async with AsyncFireworksClient("k", url, account_id="acme") as client:
                await client.list_checkpoints("j")

        asyncio.run(run())

    with (
        HostileServer(pages) as server,
        pytest.raises(ProtocolError, match="32 empty pages in a row"),
    ):
        listing(server.url)
    assert len(server.received) == MAX_EMPTY_PAGES
    figures["pages_requested"] = len(server.received)


def test_empty_pages_between_rows_are_fine() -> None:
    """Fewer than the bound in a row, with rows between: the listing goes on to its end."""
    from fireworks_training.clients.fireworks import FireworksClient

    row = {"name": "accounts/acme/rlorTrainerJobs/j/checkpoints/step-1"}

    async def pages(request: Received, conn: Conn) -> None:
        served = len(server.received)
        items = [row] if served % (MAX_EMPTY_PAGES - 1) == 0 else []
        token = {"nextPageToken": f"t{served}"} if served < 3 * MAX_EMPTY_PAGES else {}
        await conn.reply(200, {"checkpoints": items, **token})

    with HostileServer(pages) as server, FireworksClient("k", server.url, account_id="a") as c:
        rows = c.list_checkpoints("j")
    # Rows on requests 31, 62 and 93; 30 empty pages in a row at most; no token on the 96th.
    assert len(rows) == 3
    assert len(server.received) == 3 * MAX_EMPTY_PAGES
