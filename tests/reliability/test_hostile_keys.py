"""The API key never leaks through a failure, whatever the server does (issue 15, §3).

Every client (control plane and trainer jobs, sync and async, and the trainer) fails against
small hostile servers on 127.0.0.1 in every way a request can fail; each error is searched:
its text, repr and attributes, its cause/context chain, and its traceback rendered with
locals (plain and rich). Exceptions we raise hold no httpx object. A caller's http_client
that follows redirects never carries the key to another origin.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.clients.jobs import AsyncTrainerJobManager, TrainerJobManager
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.errors import APIStatusError, FireworksError, ProtocolError
from fireworks_training.retries import RetryPolicy

from .hostile import KEY, Conn, HostileServer, Received, head, httpx_objects, leaks

MODEL = {"name": "accounts/acme/models/m", "state": "READY"}
JOB = {"name": "accounts/acme/rlorTrainerJobs/j", "state": "JOB_STATE_RUNNING"}
BASE_MODEL = "accounts/fireworks/models/qwen3-8b"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# One call per client, each made the way a user makes it ------------------------------------


def control_call(url: str, *, close_first: bool = False, **options: Any) -> None:
    client = FireworksClient(KEY, url, account_id="acme", max_retries=0, **options)
    with client:
        if close_first:
            client.close()
        client.get_model("m")


def control_async_call(url: str, *, close_first: bool = False, **options: Any) -> None:
    async def run() -> None:
        async with AsyncFireworksClient(
            KEY, url, account_id="acme", max_retries=0, **options
        ) as client:
            if close_first:
                await client.close()
            await client.get_model("m")

    asyncio.run(run())


def jobs_call(url: str, *, close_first: bool = False, **options: Any) -> None:
    with TrainerJobManager(KEY, url, account_id="acme", max_retries=0, **options) as jobs:
        if close_first:
            jobs.close()
        jobs.get("j")


def jobs_async_call(url: str, *, close_first: bool = False, **options: Any) -> None:
    async def run() -> None:
        async with AsyncTrainerJobManager(
            KEY, url, account_id="acme", max_retries=0, **options
        ) as jobs:
            if close_first:
                await jobs.close()
            await jobs.get("j")

    asyncio.run(run())


def trainer_call(url: str, *, close_first: bool = False, **options: Any) -> None:
    policy = RetryPolicy(max_retries=0)
    timeout = options.get("timeout", 30.0)
    with FiretitanServiceClient(url, KEY, retry_policy=policy, timeout=timeout) as service:
        if close_first:
            service.close()
        service.create_training_client(BASE_MODEL)


CALLS: dict[str, Callable[..., None]] = {
    "control": control_call,
    "control-async": control_async_call,
    "jobs": jobs_call,
    "jobs-async": jobs_async_call,
    "trainer": trainer_call,
}


# What the server does -------------------------------------------------------------------


async def error_echoing_the_key(request: Received, conn: Conn) -> None:
    await conn.reply(400, {"error": {"message": f"bad key {request.api_key}"}})


async def never_answers(request: Received, conn: Conn) -> None:
    await asyncio.sleep(60)


async def html(request: Received, conn: Conn) -> None:
    await conn.reply(200, f"<html>{request.api_key}</html>")


async def wrong_shape(request: Received, conn: Conn) -> None:
    key = request.api_key
    await conn.reply(200, {"name": 5, "state": [key], "session_id": 5, "request_id": 5})


async def declares_two_gib(request: Received, conn: Conn) -> None:
    await conn.send(head(200, 2 * 1024**3 + 1))
    await asyncio.sleep(60)


async def drops_the_connection(request: Received, conn: Conn) -> None:
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
    conn.close()


SERVERS: dict[str, Any] = {
    "4xx echoing the key": error_echoing_the_key,
    "2xx not JSON": html,
    "2xx of the wrong shape": wrong_shape,
    "reply too large": declares_two_gib,
    "connection dropped mid-reply": drops_the_connection,
    "deadline": never_answers,
}


@pytest.fixture(params=sorted(CALLS))
def call(request: pytest.FixtureRequest) -> Callable[..., None]:
    return CALLS[request.param]


def failure_of(act: Callable[[], None]) -> BaseException:
    try:
        act()
    except Exception as exc:
        return exc
    raise AssertionError("expected a failure")


def assert_clean(exc: BaseException) -> None:
    assert isinstance(exc, FireworksError), repr(exc)
    assert httpx_objects(exc) == []
    assert leaks(exc) == {}


@pytest.mark.parametrize("behaviour", sorted(SERVERS))
def test_no_failure_carries_the_key_or_an_httpx_object(
    call: Callable[..., None], behaviour: str, figures: dict[str, Any]
) -> None:
    with HostileServer(SERVERS[behaviour]) as server:
        exc = failure_of(lambda: call(server.url, timeout=1.0))
    assert_clean(exc)
    figures["error"] = f"{type(exc).__name__}: {exc}"[:160]


def test_a_refused_connection_carries_neither(call: Callable[..., None]) -> None:
    exc = failure_of(lambda: call(closed_port_url(), timeout=1.0))
    assert_clean(exc)


def test_use_after_close_carries_neither(call: Callable[..., None]) -> None:
    with HostileServer(html) as server:
        exc = failure_of(lambda: call(server.url, close_first=True))
    assert_clean(exc)
    assert server.received == []


@pytest.mark.parametrize(
    "client", [FireworksClient, AsyncFireworksClient, TrainerJobManager, AsyncTrainerJobManager]
)
def test_a_bad_base_url_shows_no_key_in_the_traceback(client: type[Any]) -> None:
    exc = failure_of(lambda: client(KEY, "http://[::1", account_id="acme"))
    assert isinstance(exc, ValueError)
    assert leaks(exc) == {}


@pytest.mark.parametrize("where", ["json message", "text body"])
def test_an_error_body_is_masked_before_it_is_cut(where: str, figures: dict[str, Any]) -> None:
    # The key straddles the 500th character, where the one-line message is cut.
    filler = "e" * 485

    async def answer(request: Received, conn: Conn) -> None:
        text = f"{filler}{request.api_key} and more"
        body: Any = {"error": {"message": text}} if where == "json message" else text
        await conn.reply(400, body)

    with HostileServer(answer) as server:
        exc = failure_of(lambda: control_call(server.url))
    assert isinstance(exc, APIStatusError)
    assert leaks(exc) == {}
    assert "***" in exc.server_message
    figures["message_length"] = len(str(exc))


# Redirects --------------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """Another origin (another port), which must never hear from the client."""

    async def answer(request: Received, conn: Conn) -> None:
        await conn.reply(200, MODEL)

    with HostileServer(answer) as server:
        yield server


def redirecting_to(target: str, status: int) -> Any:
    async def answer(request: Received, conn: Conn) -> None:
        await conn.reply(status, b"", headers={"Location": f"{target}{request.target}"})

    return answer


def get_model_with(url: str, flavour: str, **http_options: Any) -> Any:
    if flavour == "sync":
        with (
            httpx.Client(**http_options) as http,
            FireworksClient(KEY, url, account_id="acme", max_retries=0, http_client=http) as c,
        ):
            return c.get_model("m")

    async def run() -> Any:
        async with (
            httpx.AsyncClient(**http_options) as http,
            AsyncFireworksClient(
                KEY, url, account_id="acme", max_retries=0, http_client=http
            ) as client,
        ):
            return await client.get_model("m")

    return asyncio.run(run())


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_another_origin_is_not_followed(
    elsewhere: HostileServer, flavour: str, status: int
) -> None:
    with HostileServer(redirecting_to(elsewhere.url, status)) as server:
        exc = failure_of(lambda: get_model_with(server.url, flavour, follow_redirects=True))
    assert isinstance(exc, ProtocolError)
    assert f"redirect to {elsewhere.url} not followed" in str(exc)
    assert elsewhere.received == []
    assert_clean(exc)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_same_origin_redirect_is_followed_when_the_http_client_follows(flavour: str) -> None:
    async def answer(request: Received, conn: Conn) -> None:
        if request.path.startswith("/old"):
            await conn.reply(307, b"", headers={"Location": request.target.removeprefix("/old")})
        else:
            await conn.reply(200, MODEL)

    with HostileServer(answer) as server:
        model = get_model_with(f"{server.url}/old", flavour, follow_redirects=True)
    assert model.name == MODEL["name"]
    paths = [r.path for r in server.received]
    assert paths == ["/old/v1/accounts/acme/models/m", "/v1/accounts/acme/models/m"]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_without_follow_redirects_a_redirect_is_its_status(
    elsewhere: HostileServer, flavour: str
) -> None:
    with HostileServer(redirecting_to(elsewhere.url, 302)) as server:
        exc = failure_of(lambda: get_model_with(server.url, flavour))
    assert isinstance(exc, APIStatusError)
    assert exc.status_code == 302
    assert elsewhere.received == []
