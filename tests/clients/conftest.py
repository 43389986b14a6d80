"""Shared fixtures: a respx router, clients of both flavours, sleeps and clock faked, clean env."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import respx

from fireworks_training.clients import _base_client
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient

from ..clocks import FakeClock

BASE = "https://fw.test"
KEY = "fw-secret-key-0123456789"
ACCOUNT = "acme"
JOB = "job-abc"
CKPT = "step-50-a1b2c3d4"
CKPT_NAME = f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/{CKPT}"
BASE_MODEL = "accounts/fireworks/models/qwen3-8b"

AnyClient = FireworksClient | AsyncFireworksClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    monkeypatch.delenv("FIREWORKS_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep a client asks for, recorded instead of slept."""
    recorded: list[float] = []

    def sleep(seconds: float) -> None:
        recorded.append(seconds)

    async def async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_base_client, "_sleep_sync", sleep)
    monkeypatch.setattr(_base_client, "_sleep_async", async_sleep)
    return recorded


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_base_client, "_sleep_sync", fake.sleep)
    monkeypatch.setattr(_base_client, "_sleep_async", fake.async_sleep)
    monkeypatch.setattr(_base_client, "_clock", fake)
    return fake


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture(params=["sync", "async"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[AnyClient]:
    """A client of each flavour with the account given (no account lookup)."""
    made = make_client(request.param, account_id=ACCOUNT)
    yield made
    await call(made.close())


@pytest.fixture(params=["sync", "async"])
async def lookup_client(request: pytest.FixtureRequest) -> AsyncIterator[AnyClient]:
    """A client of each flavour that has to look its account up."""
    made = make_client(request.param)
    yield made
    await call(made.close())


def make_client(flavour: str, **kwargs: Any) -> AnyClient:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", BASE)
    if flavour == "sync":
        return FireworksClient(**kwargs)
    return AsyncFireworksClient(**kwargs)


async def call(value: Any) -> Any:
    """Await ``value`` when the async client returned a coroutine."""
    if inspect.isawaitable(value):
        return await value
    return value


async def collect(pager: Any) -> list[Any]:
    """Items of a sync or async pager."""
    if hasattr(pager, "__aiter__"):
        return [item async for item in pager]
    return list(pager)


def row(checkpoint_id: str, **extra: Any) -> dict[str, Any]:
    """A checkpoint row on the wire."""
    return {
        "name": f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/{checkpoint_id}",
        "createTime": "2026-01-01T00:00:00Z",
        "updateTime": "2026-01-01T00:00:00.123456Z",
        "checkpointType": "CHECKPOINT_TYPE_INFERENCE_BASE",
        "promotable": True,
        **extra,
    }


def model(model_id: str = "my-model", **extra: Any) -> dict[str, Any]:
    """A model on the wire."""
    return {
        "name": f"accounts/{ACCOUNT}/models/{model_id}",
        "state": "READY",
        "kind": "HF_BASE_MODEL",
        "createTime": "2026-01-01T00:00:00Z",
        **extra,
    }
