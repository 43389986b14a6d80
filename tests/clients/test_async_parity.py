"""Every sync class is its async source's twin: same methods, signatures and docstrings."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fireworks_training
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.operations import AsyncOperation, Operation
from fireworks_training.pagination import AsyncPager, SyncPager

# Names that differ on purpose: the async client also has aclose(), and the sync dunder
# context-manager methods have async counterparts.
ASYNC_ONLY = {"aclose"}
# The official client's private GET, which cookbook code calls on the sync client only.
SYNC_ONLY = {"_get"}
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
            "additional_headers",
            "verify_ssl",
            "account_id",
            "timeout",
            "max_retries",
            "http_client",
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


# Every generated pair: each async class of a hand-written module has its sync twin ---------

PACKAGE = Path(fireworks_training.__file__).parent
SOURCES = sorted(PACKAGE.rglob("_async/*.py"))
TWIN_NAMES = {"AsyncPager": "SyncPager", "AsyncAPIClient": "SyncAPIClient"}


def module_name(path: Path) -> str:
    return ".".join(("fireworks_training", *path.relative_to(PACKAGE).with_suffix("").parts))


def twin_of(path: Path) -> Path:
    return Path(*["_sync" if part == "_async" else part for part in path.parts])


def async_classes() -> list[tuple[type, type]]:
    pairs = []
    for source in SOURCES:
        asynchronous = importlib.import_module(module_name(source))
        synchronous = importlib.import_module(module_name(twin_of(source)))
        for name, cls in vars(asynchronous).items():
            if isinstance(cls, type) and cls.__module__ == asynchronous.__name__:
                twin = TWIN_NAMES.get(name, name.removeprefix("Async"))
                pairs.append((cls, getattr(synchronous, twin)))
    return pairs


PAIRS = async_classes()


def test_the_pairs_include_every_public_twin() -> None:
    names = {(a.__name__, s.__name__) for a, s in PAIRS}
    assert {
        ("AsyncFireworksClient", "FireworksClient"),
        ("AsyncTrainerJobManager", "TrainerJobManager"),
        ("AsyncOperation", "Operation"),
        ("AsyncPager", "SyncPager"),
        ("AsyncAPIClient", "SyncAPIClient"),
    } <= names
    assert all(twin_of(source).exists() for source in SOURCES)


def methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if (inspect.isfunction(member) or isinstance(member, property))
        and (not name.startswith("__") or name in ("__init__", "__enter__", "__iter__"))
    }


def same_default(sync: Any, asynchronous: Any) -> bool:
    """Equal defaults; a function default (a sleep) is the same when its name is."""
    if callable(sync) and callable(asynchronous):
        return bool(sync.__name__ == asynchronous.__name__)
    return bool(sync == asynchronous)


ASYNC_NAMES = {"__aenter__": "__enter__", "__aexit__": "__exit__", "__aiter__": "__iter__"}


@pytest.mark.parametrize(("asynchronous", "synchronous"), PAIRS, ids=[a.__name__ for a, _ in PAIRS])
def test_every_twin_has_the_same_methods_and_parameters(
    asynchronous: type, synchronous: type
) -> None:
    async_methods = {
        ASYNC_NAMES.get(name, name): member
        for name, member in inspect.getmembers(asynchronous)
        if name not in ("aclose",)
    }
    for name, member in methods(synchronous).items():
        if name in SYNC_ONLY:
            continue
        twin = async_methods[name]
        if isinstance(member, property):
            assert isinstance(twin, property), name
            continue
        sync_params = inspect.signature(member).parameters
        async_params = inspect.signature(twin).parameters
        assert list(sync_params) == list(async_params), name
        for param in sync_params.values():
            other = async_params[param.name]
            assert param.kind == other.kind, (name, param)
            assert same_default(param.default, other.default), (name, param)
        assert not inspect.iscoroutinefunction(member), name
        assert not inspect.isasyncgenfunction(member), name


@pytest.mark.parametrize(("asynchronous", "synchronous"), PAIRS, ids=[a.__name__ for a, _ in PAIRS])
def test_every_twin_documents_what_its_source_documents(
    asynchronous: type, synchronous: type
) -> None:
    for name, member in methods(synchronous).items():
        if name.startswith("_") or isinstance(member, property) or name in SYNC_ONLY:
            continue
        twin = getattr(asynchronous, ASYNC_NAMES.get(name, name))
        assert inspect.getdoc(member) == inspect.getdoc(twin), name


def test_the_async_operation_documents_its_exceptions() -> None:
    for cls in (Operation, AsyncOperation):
        doc = inspect.getdoc(cls.result) or ""
        assert "OperationError" in doc
        assert "OperationTimeoutError" in doc


def test_generated_twins_are_fresh() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_twins_say_so_on_their_first_line() -> None:
    for source in SOURCES:
        first = twin_of(source).read_text().splitlines()[0]
        relative = source.relative_to(PACKAGE).as_posix()
        assert first == f"# Generated by scripts/unasync.py from {relative}: do not edit."
