"""Every reply that breaks the protocol is one clear error (issue 15, §5, the library's part).

Replies of the wrong shape, for every call that parses one, are a one-line ``ProtocolError``
naming the request (never pydantic's ``ValidationError``); replies larger than the client's
limit fail without being read; a closed client, an async client on a second event loop and a
base URL that cannot work are each one clear ``FireworksError`` or bad input.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.clients.jobs import AsyncTrainerJobManager, TrainerJobManager
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL
from fireworks_training.emulator import Emulator
from fireworks_training.errors import (
    BadRequestError,
    ClientClosedError,
    FireworksError,
    InvalidArgumentError,
    ProtocolError,
)

from .hostile import KEY, Conn, HostileServer, Received, head

ACCOUNT = "acme"
CHECKPOINT = f"accounts/{ACCOUNT}/rlorTrainerJobs/j/checkpoints/step-1-a1b2c3d4"
OPERATION = f"accounts/{ACCOUNT}/operations/op-1"


def routes(table: dict[str, Any]) -> Callable[[Received, Conn], Awaitable[None]]:
    """A server answering each path (its last segment, or ``:promote``) from ``table``."""

    async def answer(request: Received, conn: Conn) -> None:
        for suffix, reply in table.items():
            if request.path.endswith(suffix):
                await conn.reply(200, reply)
                return
        await conn.reply(404, {"error": {"message": f"no route {request.path}"}})

    return answer


async def run(flavour: str, act: Callable[[Any], Any], url: str, **options: Any) -> Any:
    """``act(client)`` on a control-plane client of ``flavour``; awaited when async."""
    if flavour == "sync":
        with FireworksClient(KEY, url, max_retries=0, **options) as client:
            return act(client)
    async with AsyncFireworksClient(KEY, url, max_retries=0, **options) as client:
        result = act(client)
        return await result if inspect.isawaitable(result) else result


def outcome(flavour: str, act: Callable[[Any], Any], url: str, **options: Any) -> Any:
    return asyncio.run(run(flavour, act, url, **options))


def promote(client: Any) -> Any:
    return client.promote_checkpoint(
        name=CHECKPOINT, output_model_id="out", base_model="accounts/fireworks/models/b"
    )


def promote_then_wait(client: Any) -> Any:
    begun = client.begin_promote_checkpoint(
        name=CHECKPOINT, output_model_id="out", base_model="accounts/fireworks/models/b"
    )
    if not inspect.isawaitable(begun):
        return begun.result(30)

    async def finish() -> Any:
        return await (await begun).result(30)

    return finish()


def each_row(client: Any, read: Callable[[Any], Any]) -> Any:
    """``read`` every listed row (awaiting the async client's listing)."""
    listed = client.list_checkpoints("j")
    if not inspect.isawaitable(listed):
        return [read(row) for row in listed]

    async def rows() -> Any:
        return [read(row) for row in await listed]

    return rows()


# (what is called, the replies of the hostile server, how the call is made)
WRONG_SHAPES: dict[str, tuple[dict[str, Any], Callable[[Any], Any], dict[str, Any]]] = {
    "accounts is not a list": (
        {"/accounts": {"accounts": 5}},
        lambda c: c.get_account_id(),
        {},
    ),
    "model name is a number": (
        {"/models/m": {"name": 5}},
        lambda c: c.get_model("m"),
        {"account_id": ACCOUNT},
    ),
    "rows are not a list": (
        {"/checkpoints": {"checkpoints": "rows"}},
        lambda c: c.list_checkpoints("j"),
        {"account_id": ACCOUNT},
    ),
    "a row without a name": (
        {"/checkpoints": {"checkpoints": [{"promotable": True}]}},
        lambda c: c.list_checkpoints("j"),
        {"account_id": ACCOUNT},
    ),
    "a row with a garbage time (read when used: listing checks names only)": (
        {"/checkpoints": {"checkpoints": [{"name": CHECKPOINT, "createTime": "yesterday"}]}},
        lambda c: each_row(c, lambda row: row.create_time),
        {"account_id": ACCOUNT},
    ),
    "operation done is not a bool": (
        {"/op-1": {"name": OPERATION, "done": "perhaps"}},
        lambda c: c.get_operation(OPERATION),
        {},
    ),
    "promote reply model without a name": (
        {":promote": {"model": {"state": "READY"}}},
        promote,
        {},
    ),
    "promote result without a name": (
        {":promote": {"operation": {"name": OPERATION, "done": True, "response": {"x": 1}}}},
        promote_then_wait,
        {},
    ),
    "operation poll of the wrong shape": (
        {
            ":promote": {"operation": {"name": OPERATION, "done": False}},
            "/op-1": {"name": OPERATION, "done": {"no": 1}},
        },
        promote_then_wait,
        {},
    ),
    "trainer job of the wrong shape (base model lookup)": (
        {"/rlorTrainerJobs/j": {"name": ["j"]}},
        lambda c: c.promote_checkpoint(name=CHECKPOINT, output_model_id="out"),
        {},
    ),
}


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("case", sorted(WRONG_SHAPES))
def test_a_reply_of_the_wrong_shape_is_one_protocol_error(
    case: str, flavour: str, figures: dict[str, Any]
) -> None:
    table, act, options = WRONG_SHAPES[case]
    with HostileServer(routes(table)) as server, pytest.raises(ProtocolError) as info:
        outcome(flavour, act, server.url, **options)
    message = str(info.value)
    assert "\n" not in message
    # A field read lazily names the row (the request is long done); the rest name the request.
    lazy = "read when used" in case
    assert lazy or "does not match the protocol" in message or "not a JSON object" in message
    assert not lazy or "createTime must be an RFC 3339 timestamp" in message
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    figures["error"] = message[:200]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_trainer_job_of_the_wrong_shape_is_a_protocol_error(flavour: str) -> None:
    def get(url: str) -> None:
        if flavour == "sync":
            with TrainerJobManager(KEY, url, account_id=ACCOUNT) as jobs:
                jobs.get("j")
            return

        async def get_async() -> None:
            async with AsyncTrainerJobManager(KEY, url, account_id=ACCOUNT) as jobs:
                await jobs.get("j")

        asyncio.run(get_async())

    with (
        HostileServer(routes({"/rlorTrainerJobs/j": {"state": {"x": 1}}})) as server,
        pytest.raises(ProtocolError, match=r"^200 GET /v1/accounts/acme/rlorTrainerJobs/j"),
    ):
        get(server.url)


# Size ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_reply_declared_too_large_is_not_read(flavour: str, figures: dict[str, Any]) -> None:
    declared = 150 * 1024 * 1024  # the 150 MB reply; the default limit is 64 MiB

    async def huge(request: Received, conn: Conn) -> None:
        await conn.send(head(200, declared))
        await conn.send(b"[" + b"0," * 1024)
        await asyncio.sleep(30)

    with (
        HostileServer(huge) as server,
        pytest.raises(ProtocolError, match="reply larger than 67108864 bytes"),
    ):
        outcome(flavour, lambda c: c.get_model("m"), server.url, account_id=ACCOUNT)
    figures["declared_bytes"] = declared


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_reply_streamed_past_the_limit_stops_there(flavour: str, figures: dict[str, Any]) -> None:
    sent = [0]
    chunk = b'{"pad": "' + b"x" * 65536

    async def endless(request: Received, conn: Conn) -> None:
        await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while sent[0] < 256 * 1024 * 1024:  # a bound for the test: 256 MiB
            await conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent[0] += len(chunk)

    def act(client: Any) -> Any:
        client.max_reply_bytes = 1024 * 1024
        return client.get_model("m")

    with (
        HostileServer(endless) as server,
        pytest.raises(ProtocolError, match="reply larger than 1048576 bytes"),
    ):
        outcome(flavour, act, server.url, account_id=ACCOUNT)
    figures["server_wrote_mib"] = round(sent[0] / 2**20, 1)
    assert sent[0] < 256 * 1024 * 1024


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_compressed_reply_is_limited_by_its_decoded_size(flavour: str) -> None:
    bomb = gzip.compress(b'{"pad": "' + b"0" * (8 * 1024 * 1024) + b'"}')

    async def compressed(request: Received, conn: Conn) -> None:
        await conn.reply(200, bomb, headers={"Content-Encoding": "gzip"})

    def act(client: Any) -> Any:
        client.max_reply_bytes = 1024 * 1024
        return client.get_model("m")

    with (
        HostileServer(compressed) as server,
        pytest.raises(ProtocolError, match="reply larger than 1048576 bytes"),
    ):
        outcome(flavour, act, server.url, account_id=ACCOUNT)
    assert len(bomb) < 64 * 1024  # declared small: only decoding shows the size


def test_a_huge_error_reply_is_its_status_read_in_part() -> None:
    async def error(request: Received, conn: Conn) -> None:
        await conn.reply(400, "bad request: " + "y" * (8 * 1024 * 1024))

    with HostileServer(error) as server, pytest.raises(BadRequestError) as info:
        outcome("sync", lambda c: c.get_model("m"), server.url, account_id=ACCOUNT)
    assert len(info.value.server_message) <= 64 * 1024
    assert len(str(info.value)) < 600


def test_max_reply_bytes_is_checked() -> None:
    with FireworksClient(KEY, "http://127.0.0.1:9", account_id=ACCOUNT) as client:
        assert client.max_reply_bytes == 64 * 1024 * 1024
        with pytest.raises(InvalidArgumentError):
            client.max_reply_bytes = 0


def test_a_key_echoed_in_a_reply_body_is_masked() -> None:
    echoed = routes({"/models/m": {"name": "accounts/acme/models/m", "displayName": KEY}})
    with HostileServer(echoed) as server:
        model = outcome("sync", lambda c: c.get_model("m"), server.url, account_id=ACCOUNT)
    assert model.display_name == "***"


# Closed clients, event loops, base URLs ----------------------------------------------------


def test_every_control_client_is_closed_for_good() -> None:
    with HostileServer(routes({"/models/m": {"name": "accounts/acme/models/m"}})) as server:
        sync = FireworksClient(KEY, server.url, account_id=ACCOUNT)
        sync.close()
        with pytest.raises(ClientClosedError, match="this FireworksClient is closed"):
            sync.get_model("m")
        jobs = TrainerJobManager(KEY, server.url, account_id=ACCOUNT)
        jobs.close()
        with pytest.raises(ClientClosedError):
            jobs.get("j")

        async def closed_async() -> None:
            client = AsyncFireworksClient(KEY, server.url, account_id=ACCOUNT)
            await client.close()
            await client.get_model("m")

        with pytest.raises(ClientClosedError, match="this AsyncFireworksClient is closed"):
            asyncio.run(closed_async())
        http = httpx.Client()
        with FireworksClient(KEY, server.url, account_id=ACCOUNT, http_client=http) as client:
            http.close()
            with pytest.raises(ClientClosedError, match="http_client of this FireworksClient"):
                client.get_model("m")
    assert server.received == []


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emulator", long_poll_seconds=0.5) as emulator:
        yield emulator


def test_the_trainer_clients_are_closed_for_good(emu: Emulator) -> None:
    job = emu.create_trainer_job(job_id="closed", base_model=BASE_MODEL)
    service = FiretitanServiceClient(emu.trainer_url(job), emu.api_key)
    trainer = service.create_training_client(BASE_MODEL)
    service.close()
    with pytest.raises(ClientClosedError, match="trainer client is closed"):
        trainer.list_checkpoints()
    with pytest.raises(FireworksError, match="closed"):
        trainer.save_state("after-close")
    with pytest.raises(FireworksError, match="closed"):
        service.create_training_client(BASE_MODEL)


def test_an_async_client_on_a_second_event_loop_says_so() -> None:
    async def answer(request: Received, conn: Conn) -> None:
        # "Connection: close": the first loop leaves no pooled connection behind.
        await conn.reply(200, {"name": "accounts/acme/models/m"}, headers={"Connection": "close"})
        conn.close()

    with HostileServer(answer) as server:
        client = AsyncFireworksClient(KEY, server.url, account_id=ACCOUNT)
        assert asyncio.run(client.get_model("m")).name == "accounts/acme/models/m"
        with pytest.raises(FireworksError, match="first used on another event loop") as info:
            asyncio.run(client.get_model("m"))
        asyncio.run(client.close())  # from a third loop: closes nothing of the first loop's
    assert "\n" not in str(info.value)
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid port"),
        ("http://127.0.0.1:99999", "port 99999 is not in 1..65535"),
        ("ftp://example.com", "scheme"),
        ("http://", "no host"),
    ],
)
@pytest.mark.parametrize("client", [FireworksClient, AsyncFireworksClient, TrainerJobManager])
def test_a_base_url_that_cannot_work_is_bad_input(
    client: type[Any], url: str, problem: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        client(KEY, url, account_id=ACCOUNT)
