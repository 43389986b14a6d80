"""Operation and AsyncOperation: cadence, deadline, errors, transient polls; no HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from fireworks_training.errors import (
    APIConnectionError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    OperationError,
    OperationTimeoutError,
    ProtocolError,
    RateLimitError,
)
from fireworks_training.operations import AsyncOperation, Operation, OperationStatus, poll_delays

from .clocks import FakeClock

NAME = "accounts/acme/operations/op-1"
CADENCE = [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.6953125, 8.54296875, 10.0, 10.0]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pending(**metadata: Any) -> OperationStatus:
    return OperationStatus(name=NAME, done=False, metadata=metadata)


def finished(**extra: Any) -> OperationStatus:
    return OperationStatus.model_validate({"name": NAME, "done": True, **extra})


Script = list[OperationStatus | Exception]


def scripted(script: Script) -> tuple[Callable[[str], OperationStatus], list[str]]:
    """A refresh that plays ``script`` (the last entry repeats) and records its calls."""
    calls: list[str] = []
    items = itertools.chain(script, itertools.repeat(script[-1]))

    def refresh(name: str) -> OperationStatus:
        calls.append(name)
        item = next(items)
        if isinstance(item, Exception):
            raise item
        return item

    return refresh, calls


def sync_op(script: Script, clock: FakeClock, first: OperationStatus | None = None) -> Any:
    refresh, calls = scripted(script)
    op = Operation(first or pending(), refresh=refresh, parse=dict, sleep=clock.sleep, clock=clock)
    return op, calls


def async_op(script: Script, clock: FakeClock, first: OperationStatus | None = None) -> Any:
    refresh, calls = scripted(script)

    async def arefresh(name: str) -> OperationStatus:
        return refresh(name)

    op = AsyncOperation(
        first or pending(), refresh=arefresh, parse=dict, sleep=clock.async_sleep, clock=clock
    )
    return op, calls


FACTORIES = [sync_op, async_op]


async def run(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


def test_poll_delays() -> None:
    assert list(itertools.islice(poll_delays(), 10)) == CADENCE


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_cadence_and_result(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    response = {"@type": "type.googleapis.com/x.Model", "name": "m"}
    op, calls = factory([pending()] * 10 + [finished(response=response)], clock)
    assert await run(op.result(timeout=3600)) == {"name": "m"}
    assert clock.sleeps == [*CADENCE, 10.0]
    assert calls == [NAME] * 11
    assert await run(op.result()) == {"name": "m"}
    assert len(calls) == 11


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_timeout_names_the_operation(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, calls = factory([pending()], clock)
    with pytest.raises(OperationTimeoutError, match=f"operation {NAME} not done after 2 s") as info:
        await run(op.result(timeout=2))
    assert isinstance(info.value, TimeoutError)
    assert info.value.operation == NAME
    assert clock.sleeps == [0.5, 0.75, 0.75]  # the last wait is cut to the deadline
    assert clock.now == 2
    assert len(calls) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_zero_timeout_does_not_poll(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, calls = factory([pending()], clock)
    with pytest.raises(OperationTimeoutError):
        await run(op.result(timeout=0))
    assert calls == []
    assert clock.sleeps == []


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_negative_timeout(factory: Any) -> None:
    op, _ = factory([pending()], FakeClock(start=0.0))
    with pytest.raises(ValueError, match="timeout"):
        await run(op.result(timeout=-1))


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_transient_poll_failures_retried(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    transient = [
        APIConnectionError("reset"),
        InternalServerError("500 GET /x: boom", status_code=500),
        RateLimitError("429 GET /x: slow", status_code=429),
        InternalServerError("408", status_code=408),
    ]
    op, calls = factory([*transient, finished(response={"ok": 1})], clock)
    assert await run(op.result(timeout=60)) == {"ok": 1}
    assert len(calls) == 5


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_transient_failures_until_deadline(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    cause = APIConnectionError("down")
    op, _ = factory([cause], clock)
    with pytest.raises(OperationTimeoutError) as info:
        await run(op.result(timeout=5))
    assert info.value.__cause__ is cause


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_other_poll_failures_raise(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, calls = factory([NotFoundError("404 GET /x: gone", status_code=404)], clock)
    with pytest.raises(NotFoundError):
        await run(op.result(timeout=60))
    assert len(calls) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_operation_error(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    failed = finished(error={"code": 3, "message": "not promotable"})
    op, _ = factory([failed], clock)
    with pytest.raises(OperationError, match="not promotable") as info:
        await run(op.result(timeout=60))
    assert (info.value.operation, info.value.code) == (NAME, 3)
    error = await run(op.exception())
    assert isinstance(error, OperationError)
    assert error.code == 3


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_done_without_response(factory: Any) -> None:
    op, _ = factory([finished()], FakeClock(start=0.0), first=finished())
    with pytest.raises(OperationError, match="without a response"):
        await run(op.result())
    # Not a success: exception() hands back the error result() raises.
    failure = await run(op.exception())
    assert isinstance(failure, OperationError)
    assert "without a response" in str(failure)


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_done_polls_once(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, calls = factory([pending(statusMessage="half"), finished(response={})], clock)
    assert op.name == NAME
    assert not op.status.done
    assert await run(op.done()) is False
    assert op.status_message == "half"
    assert op.metadata == {"statusMessage": "half"}
    assert await run(op.done()) is True
    assert await run(op.done()) is True
    assert len(calls) == 2
    assert clock.sleeps == []
    assert repr(op).endswith(f"(name={NAME!r}, done=True)")


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_done_swallows_transient_failure(factory: Any) -> None:
    op, _ = factory([APIConnectionError("x")], FakeClock(start=0.0))
    assert await run(op.done()) is False


@pytest.mark.anyio
@pytest.mark.parametrize("cls", [Operation, AsyncOperation])
async def test_completed(cls: Any) -> None:
    op = cls.completed("value", name="n")
    assert op.name == "n"
    assert op.status.done
    assert await run(op.done()) is True
    assert await run(op.result(timeout=0)) == "value"
    assert await run(op.exception()) is None


def _needs_name(response: dict[str, Any]) -> Any:
    return response["name"]


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_a_result_of_the_wrong_shape_is_a_protocol_error(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, _ = factory([finished(response={"state": "READY"})], clock)
    op._parse = _needs_name
    with pytest.raises(ProtocolError, match=f"^operation {NAME}: response: reply does not") as info:
        await run(op.result(timeout=60))
    assert "missing 'name'" in str(info.value)
    assert info.value.__context__ is None


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_a_poll_reply_of_the_wrong_shape_is_a_protocol_error(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, calls = factory([TypeError("'int' object is not subscriptable")], clock)
    with pytest.raises(ProtocolError, match=f"^operation {NAME}: poll: reply does not") as info:
        await run(op.result(timeout=60))
    assert info.value.__context__ is None
    assert len(calls) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("factory", FACTORIES)
async def test_a_deliberate_poll_error_goes_through(factory: Any) -> None:
    clock = FakeClock(start=0.0)
    op, _ = factory([InvalidArgumentError("pass something else")], clock)
    with pytest.raises(InvalidArgumentError, match="pass something else"):
        await run(op.result(timeout=60))
