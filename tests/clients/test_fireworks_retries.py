"""Retries of idempotent calls, counted on the wire; Retry-After honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.errors import APIConnectionError, APIStatusError, APITimeoutError

from .conftest import ACCOUNT, AnyClient, call, make_client, model

pytestmark = pytest.mark.anyio

MODEL_PATH = f"/v1/accounts/{ACCOUNT}/models/m"


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"message": f"status {code}"}}, headers=headers)


@pytest.mark.parametrize(
    "failure",
    [
        status(408),
        status(429),
        status(500),
        status(502),
        status(503),
        status(504),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("read"),
        httpx.RemoteProtocolError("dropped"),
    ],
    ids=["408", "429", "500", "502", "503", "504", "connect", "read-timeout", "dropped"],
)
async def test_reads_are_retried(
    client: AnyClient, router: respx.MockRouter, sleeps: list[float], failure: Any
) -> None:
    route = router.get(MODEL_PATH).mock(
        side_effect=[failure, failure, httpx.Response(200, json=model("m"))]
    )
    assert (await call(client.get_model("m"))).model_id == "m"
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 501])
async def test_reads_never_retried_on(
    client: AnyClient, router: respx.MockRouter, sleeps: list[float], code: int
) -> None:
    route = router.get(MODEL_PATH).mock(return_value=status(code))
    with pytest.raises(APIStatusError) as info:
        await call(client.get_model("m"))
    assert info.value.status_code == code
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("max_retries", [0, 2])
async def test_attempts_bounded_by_max_retries(
    router: respx.MockRouter, flavour: str, max_retries: int
) -> None:
    route = router.get(MODEL_PATH).mock(return_value=status(503))
    made = make_client(flavour, account_id=ACCOUNT, max_retries=max_retries)
    with pytest.raises(APIStatusError, match=f"^503 GET {MODEL_PATH}: status 503$"):
        await call(made.get_model("m"))
    await call(made.close())
    assert route.call_count == max_retries + 1


async def test_last_connection_error_is_raised_typed(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.get(MODEL_PATH).mock(side_effect=httpx.ReadTimeout("read"))
    with pytest.raises(APITimeoutError) as info:
        await call(client.get_model("m"))
    assert isinstance(info.value, APIConnectionError)
    assert isinstance(info.value, TimeoutError)
    # The httpx exception is not chained: its request holds the API key in its headers.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def http_date(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(
    ("code", "header", "expected"),
    [
        (429, "0", 0.0),
        (429, "3", 3.0),
        (503, "1.5", 1.5),
        (429, "600", 60.0),
        (429, 30, 30.0),
        (503, 3600, 60.0),
        (429, -60, 0.0),
    ],
    ids=["zero", "seconds", "fraction", "capped", "date", "date-capped", "date-past"],
)
async def test_retry_after_is_honoured(
    client: AnyClient,
    router: respx.MockRouter,
    sleeps: list[float],
    code: int,
    header: str | int,
    expected: float,
) -> None:
    """A string is sent as is; a number as an HTTP date that many seconds from now."""
    header = header if isinstance(header, str) else http_date(header)
    route = router.get(MODEL_PATH).mock(
        side_effect=[status(code, **{"Retry-After": header}), httpx.Response(200, json=model("m"))]
    )
    await call(client.get_model("m"))
    assert route.call_count == 2
    assert sleeps == [pytest.approx(expected, abs=2.0 if "GMT" in header else 1e-9)]


async def test_garbage_retry_after_falls_back_to_backoff(
    client: AnyClient, router: respx.MockRouter, sleeps: list[float]
) -> None:
    router.get(MODEL_PATH).mock(
        side_effect=[status(429, **{"Retry-After": "later"}), httpx.Response(200, json=model("m"))]
    )
    await call(client.get_model("m"))
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0
