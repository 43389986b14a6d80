"""The async client is the sync client's twin: same public methods, same signatures."""

from __future__ import annotations

import inspect

import pytest

from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.operations import AsyncOperation, Operation
from fireworks_training.pagination import AsyncPager, SyncPager

# Names that differ on purpose: the async client also has aclose(), and the sync dunder
# context-manager methods have async counterparts.
ASYNC_ONLY = {"aclose"}
NOT_COROUTINES = {"iter_checkpoints"}


def public(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    }


def test_same_public_names() -> None:
    assert set(public(AsyncFireworksClient)) - ASYNC_ONLY == set(public(FireworksClient))


@pytest.mark.parametrize("name", sorted(public(FireworksClient)))
def test_same_signature(name: str) -> None:
    sync = getattr(FireworksClient, name)
    asynchronous = getattr(AsyncFireworksClient, name)
    if isinstance(sync, property):
        assert isinstance(asynchronous, property)
        return
    sync_sig = inspect.signature(sync)
    async_sig = inspect.signature(asynchronous)
    assert list(sync_sig.parameters) == list(async_sig.parameters)
    for param in sync_sig.parameters.values():
        twin = async_sig.parameters[param.name]
        assert (param.kind, param.default) == (twin.kind, twin.default), param.name
        assert param.annotation == twin.annotation or param.name == "http_client", param.name
    returns = (sync_sig.return_annotation, async_sig.return_annotation)
    assert returns[1] == returns[0].replace("Operation[", "AsyncOperation[").replace(
        "SyncPager[", "AsyncPager["
    )


@pytest.mark.parametrize("name", sorted(public(FireworksClient)))
def test_async_methods_are_coroutines(name: str) -> None:
    member = getattr(AsyncFireworksClient, name)
    if isinstance(member, property):
        return
    expected = name not in NOT_COROUTINES
    assert inspect.iscoroutinefunction(member) is expected
    assert not inspect.iscoroutinefunction(getattr(FireworksClient, name))


def test_constructor_parity() -> None:
    sync = inspect.signature(FireworksClient.__init__).parameters
    asynchronous = inspect.signature(AsyncFireworksClient.__init__).parameters
    assert (
        list(sync)
        == list(asynchronous)
        == [
            "self",
            "api_key",
            "base_url",
            "account_id",
            "timeout",
            "max_retries",
            "http_client",
            "additional_headers",
        ]
    )
    assert [p.default for p in sync.values()] == [p.default for p in asynchronous.values()]


@pytest.mark.parametrize(("sync", "asynchronous"), [(Operation, AsyncOperation)])
def test_operation_parity(sync: type, asynchronous: type) -> None:
    assert set(public(sync)) == set(public(asynchronous))
    for name in ("done", "result", "exception"):
        assert inspect.iscoroutinefunction(getattr(asynchronous, name))
        assert inspect.signature(getattr(sync, name)).parameters.keys() == (
            inspect.signature(getattr(asynchronous, name)).parameters.keys()
        )


def test_pager_parity() -> None:
    assert isinstance(SyncPager.pages, property)
    assert isinstance(AsyncPager.pages, property)
    assert hasattr(SyncPager, "__iter__")
    assert hasattr(AsyncPager, "__aiter__")
