"""TrainerFuture: the tinker.APIFuture interface over a concurrent future."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest
import tinker

from fireworks_training.errors import APITimeoutError, RequestFailedError
from fireworks_training.futures import TrainerFuture, chain


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_is_a_tinker_api_future() -> None:
    future: TrainerFuture[int] = TrainerFuture("optim_step", 3)
    assert isinstance(future, tinker.APIFuture)
    assert "optim_step seq_id=3" in repr(future)
    assert "pending" in repr(future)


def test_result_from_another_thread() -> None:
    future: TrainerFuture[str] = TrainerFuture("save_weights", 1)
    threading.Timer(0, future.future().set_result, ["path"]).start()
    assert future.result(timeout=10) == "path"
    assert future.done()


def test_result_timeout_leaves_the_op_running() -> None:
    future: TrainerFuture[str] = TrainerFuture("save_weights", 1)
    with pytest.raises(TimeoutError, match=r"save_weights \(seq_id 1\) not finished after 0 s"):
        future.result(timeout=0)
    assert not future.future().cancelled()
    future.future().set_result("late")
    assert future.result() == "late"


def test_failure_raises_the_error() -> None:
    future: TrainerFuture[str] = TrainerFuture("load_weights", 2)
    future.future().set_exception(RequestFailedError("boom", category="user"))
    with pytest.raises(RequestFailedError, match="boom"):
        future.result()


def test_future_is_the_concurrent_future() -> None:
    inner: concurrent.futures.Future[int] = concurrent.futures.Future()
    future = TrainerFuture("optim_step", 1, inner)
    assert future.future() is inner
    inner.set_result(5)
    assert concurrent.futures.wait([future.future()]).done == {inner}


@pytest.mark.anyio
async def test_await_and_result_async() -> None:
    future: TrainerFuture[int] = TrainerFuture("optim_step", 1)
    asyncio.get_running_loop().call_soon(future.future().set_result, 7)
    assert await future == 7
    assert await future.result_async() == 7
    assert await future.coroutine() == 7


@pytest.mark.anyio
async def test_result_async_timeout_does_not_cancel_the_op() -> None:
    future: TrainerFuture[int] = TrainerFuture("forward_backward", 4)
    with pytest.raises(TimeoutError, match="forward_backward"):
        await future.result_async(timeout=0)
    assert not future.future().cancelled()
    threading.Timer(0, future.future().set_result, [1]).start()
    assert await future.result_async(timeout=10) == 1


@pytest.mark.anyio
async def test_await_raises_and_cancels() -> None:
    failed: TrainerFuture[int] = TrainerFuture("optim_step", 1)
    failed.future().set_exception(RequestFailedError("bad", category="server"))
    with pytest.raises(RequestFailedError, match="bad"):
        await failed
    cancelled: TrainerFuture[int] = TrainerFuture("optim_step", 2)
    cancelled.future().cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled


def test_an_op_failing_with_a_timeout_error_is_not_reported_as_still_running() -> None:
    future: TrainerFuture[str] = TrainerFuture("save_weights", seq_id=1)
    future.future().set_exception(APITimeoutError("timed out: POST /x: read timeout"))
    with pytest.raises(APITimeoutError, match="read timeout"):
        future.result(timeout=5)
    with pytest.raises(APITimeoutError, match="read timeout"):
        asyncio.run(future.result_async(timeout=5))


def test_a_callback_added_before_the_result_runs_off_the_completing_thread() -> None:
    future: TrainerFuture[int] = TrainerFuture("optim_step", 1)
    ran: list[str] = []
    done = threading.Event()

    def callback(_: concurrent.futures.Future[int]) -> None:
        ran.append(threading.current_thread().name)
        done.set()

    future.future().add_done_callback(callback)
    setter = threading.Thread(target=future.future().set_result, args=[1], name="loop-thread")
    setter.start()
    setter.join()
    assert done.wait(10)
    assert ran == ["fireworks-trainer-callbacks"]
    future.future().add_done_callback(callback)  # already done: runs at once, right here
    assert ran[-1] == threading.current_thread().name


def test_a_failing_callback_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    future: TrainerFuture[int] = TrainerFuture("optim_step", 1)
    done = threading.Event()

    def broken(_: object) -> None:
        raise ValueError("broken callback")

    future.future().add_done_callback(broken)
    future.future().add_done_callback(lambda _: done.set())
    future.future().set_result(1)
    assert done.wait(10)
    assert "exception calling callback" in caplog.text


def test_chain_maps_results_and_passes_failures() -> None:
    source: TrainerFuture[int] = TrainerFuture("forward_backward", 4)
    doubled = chain(source, lambda value: value * 2)
    assert (doubled.op, doubled.seq_id) == ("forward_backward", 4)
    source.future().set_result(21)
    assert doubled.result(timeout=10) == 42
    failing: TrainerFuture[int] = TrainerFuture("optim_step", 5)
    mapped = chain(failing, lambda value: value)
    failing.future().set_exception(RequestFailedError("boom", category="server"))
    with pytest.raises(RequestFailedError, match="boom"):
        mapped.result(timeout=10)
    raising = chain(doubled, lambda value: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        raising.result(timeout=10)
