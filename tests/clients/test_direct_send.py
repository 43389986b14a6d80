"""A client's own pool is sent on through its transport directly: the wire is httpx's.

``send`` straight to the transport skips what httpx's ``Client.send`` adds around it (auth,
event hooks, redirect bookkeeping, the cookie jar), none of which a pool of our own uses.
These tests hold the two paths to the same bytes, and keep what httpx would have done:
a reply's cookies go back to the server, and httpx's own request log is still written.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.clients._base_client import Request

from .conftest import ACCOUNT, BASE, JOB, KEY, AnyClient, call, make_client, row

pytestmark = pytest.mark.anyio

LIST_PATH = f"/v1/accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints"


def _page(token: str | None = None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"checkpoints": [row("step-1")]}
    if token:
        body["nextPageToken"] = token
    return httpx.Response(200, json=body, headers=headers)


def _wire(request: httpx.Request) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    return request.method, str(request.url), list(request.headers.raw), request.content


def _through_send(flavour: str) -> AnyClient:
    """The same client, made to send through httpx's ``Client.send`` (a pool of the caller's)."""
    http: httpx.Client | httpx.AsyncClient
    http = httpx.Client(timeout=60.0) if flavour == "sync" else httpx.AsyncClient(timeout=60.0)
    return make_client(flavour, account_id=ACCOUNT, http_client=http)


async def _close(direct: AnyClient, via_send: AnyClient) -> None:
    """Both clients, and the pool the second was given (which it leaves open)."""
    await call(direct.close())
    await call(via_send.close())
    http = via_send._http
    await (http.aclose() if isinstance(http, httpx.AsyncClient) else call(http.close()))


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_own_pool_sends_the_bytes_httpx_send_would(
    flavour: str, router: respx.MockRouter
) -> None:
    route = router.get(LIST_PATH).mock(side_effect=[_page("t/1 +"), _page()] * 2)
    direct = make_client(flavour, account_id=ACCOUNT)
    assert direct._direct_headers is not None  # the path under test is taken
    via_send = _through_send(flavour)
    assert via_send._direct_headers is None
    try:
        assert len(await call(direct.list_checkpoints(JOB, page_size=7))) == 2
        assert len(await call(via_send.list_checkpoints(JOB, page_size=7))) == 2
    finally:
        await _close(direct, via_send)
    sent = [_wire(c.request) for c in route.calls]
    assert sent[:2] == sent[2:]
    assert sent[1][1] == f"{BASE}{LIST_PATH}?pageSize=7&pageToken=t%2F1+%2B"
    headers = dict(route.calls[0].request.headers)
    assert headers["x-api-key"] == KEY
    assert {"accept", "accept-encoding", "connection", "user-agent"} <= headers.keys()


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_post_body_and_extra_headers_match_too(
    flavour: str, router: respx.MockRouter
) -> None:
    name = f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/step-1"
    route = router.post(f"/v1/{name}:promote").mock(
        return_value=httpx.Response(200, json={"name": f"accounts/{ACCOUNT}/models/m"})
    )
    request = Request("POST", f"/v1/{name}:promote", json={"a": [1, "é"]}, headers={"X-R": "1"})
    direct = make_client(flavour, account_id=ACCOUNT)
    via_send = _through_send(flavour)
    try:
        for made in (direct, via_send):
            await call(made._call(request))
    finally:
        await _close(direct, via_send)
    first, second = (_wire(c.request) for c in route.calls)
    assert first == second
    assert dict(route.calls[0].request.headers)["x-r"] == "1"
    assert route.calls[0].request.content == '{"a":[1,"é"]}'.encode()


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_cookies_a_reply_sets_are_sent_back(flavour: str, router: respx.MockRouter) -> None:
    route = router.get(LIST_PATH).mock(
        side_effect=[_page("next", **{"Set-Cookie": "affinity=node-7; Path=/"}), _page()]
    )
    made = make_client(flavour, account_id=ACCOUNT)
    try:
        await call(made.list_checkpoints(JOB))
    finally:
        await call(made.close())
    assert "cookie" not in route.calls[0].request.headers
    assert route.calls[1].request.headers["cookie"] == "affinity=node-7"


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_httpx_request_log_is_still_written(
    flavour: str, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(LIST_PATH).mock(return_value=_page())
    made = make_client(flavour, account_id=ACCOUNT)
    try:
        with caplog.at_level(logging.INFO, logger="httpx"):
            await call(made.list_checkpoints(JOB))
    finally:
        await call(made.close())
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 1
    assert lines[0].startswith(f"HTTP Request: GET {BASE}{LIST_PATH}?pageSize=200")
    assert KEY not in caplog.text
