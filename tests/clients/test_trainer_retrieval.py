"""Submit retries and every retrieval branch of docs/protocol.md §2.1 and §2.5."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Iterator

import httpx
import pytest
import tinker

from fireworks_training.clients._trainer_api import TRY_AGAIN_BACKOFF
from fireworks_training.clients.trainer import FiretitanTrainingClient
from fireworks_training.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    GoneError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RequestFailedError,
)
from fireworks_training.retries import PollTuning, RetryPolicy

from .trainer_fakes import KEY, MODEL, TRAINER, FakeTrainer, fake, policy, reply, slept, trainer

__all__ = ["fake", "policy", "slept", "trainer"]  # fixtures


def connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


def read_timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("read timed out")


# Retrieval ------------------------------------------------------------------------------


def test_retrieve_request_is_exact(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    fake.retrieve_script.append("try_again")
    trainer.save_state("s").result()
    assert len(fake.retrieve_requests) == 2
    keys = []
    for iteration, request in enumerate(fake.retrieve_requests):
        assert request.method == "POST"
        assert str(request.url) == f"{TRAINER}/api/v1/retrieve_future"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-api-key"] == KEY
        assert request.headers["x-tinker-request-type"] == "SaveWeights"
        assert request.headers["x-tinker-request-iteration"] == str(iteration)
        keys.append(request.headers["x-idempotency-key"])
        assert json.loads(request.content) == {"request_id": "req-1", "allow_metadata_only": True}
    assert len(set(keys)) == 2  # every poll is a request of its own


def test_a_metadata_only_answer_fetches_the_whole_result_at_once(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    ready = {"status": "complete_metadata", "response_payload_size": 120}
    fake.retrieve_script.extend(["try_again", reply(body=ready)])
    assert trainer.save_state("s").result().path == "cross_job://job-abc/s"
    sent = [json.loads(r.content)["allow_metadata_only"] for r in fake.retrieve_requests]
    assert sent == [True, True, False]
    assert len(slept) == 1  # after the try_again only


def test_a_second_metadata_only_answer_is_a_protocol_error(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    ready = reply(body={"status": "complete_metadata", "response_payload_size": 1})
    fake.retrieve_script.extend([ready, ready])
    with pytest.raises(ProtocolError, match="metadata-only answer"):
        trainer.save_state("s").result(timeout=30)


def test_try_again_answered_at_once_backs_off(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    # A server that does not hold the poll is not polled hundreds of times a second.
    fake.retrieve_script.extend(["try_again"] * 8)
    assert trainer.save_state("s").result().path == "cross_job://job-abc/s"
    assert fake.retrieves == ["req-1"] * 9
    assert slept == [TRY_AGAIN_BACKOFF.delay(n) for n in range(1, 9)]
    assert slept[-1] == TRY_AGAIN_BACKOFF.cap_s
    assert slept == sorted(slept)


def test_a_held_try_again_repolls_at_once(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    ticks = iter(range(0, 10_000, 2))  # every poll took 2 s: the server held it
    trainer._conn.api._clock = lambda: float(next(ticks))
    fake.retrieve_script.extend(["try_again", "try_again"])
    assert trainer.save_state("s").result().path == "cross_job://job-abc/s"
    assert fake.retrieves == ["req-1"] * 3
    assert slept == []


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_408_and_5xx_repoll_at_once(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float], status: int
) -> None:
    fake.retrieve_script.extend([reply(status), reply(status), "try_again", reply(status)])
    assert trainer.save_state("s").result().path == "cross_job://job-abc/s"
    assert len(fake.retrieves) == 5
    assert slept == [TRY_AGAIN_BACKOFF.delay(1)]  # the try_again's, answered at once


def test_a_failing_server_is_not_hammered(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    fake.retrieve_script.extend([reply(503)] * 6)
    trainer.save_state("s").result()
    assert len(slept) == 3  # the first three answers are re-polled at once
    assert all(s > 0 for s in slept)


def test_429_backs_off_honouring_retry_after(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    fake.retrieve_script.extend([reply(429, {}, **{"Retry-After": "3"}), reply(429)])
    trainer.save_state("s").result()
    assert slept[0] == 3.0
    assert len(slept) == 2
    assert 0 < slept[1] <= 10


def test_a_trainer_answering_only_429_is_given_up_on(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    budget = PollTuning().max_rate_limited
    limited = reply(429, {"error": {"code": 429, "message": "slow down"}}, **{"Retry-After": "2"})
    fake.retrieve_script.extend([limited] * (budget + 5))
    with pytest.raises(RateLimitError, match=r"429 POST .*/retrieve_future: slow down") as caught:
        trainer.save_state("s").result(timeout=30)
    assert caught.value.status_code == 429
    assert len(fake.retrieves) == budget + 1
    assert slept == [2.0] * budget


def test_try_again_resets_the_429_budget(fake: FakeTrainer, policy: RetryPolicy) -> None:
    tuning = PollTuning(max_rate_limited=2)
    fake.retrieve_script.extend([reply(429), reply(429), "try_again", reply(429), reply(429)])
    with FiretitanTrainingClient(
        TRAINER, MODEL, api_key=KEY, retry_policy=policy, poll_tuning=tuning
    ) as client:
        assert client.save_state("s").result(timeout=30).path == "cross_job://job-abc/s"
    assert len(fake.retrieves) == 6


def test_connection_errors_back_off_then_recover(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    fake.retrieve_script.extend([connect_error(), connect_error()])
    assert trainer.save_state("s").result().path == "cross_job://job-abc/s"
    assert len(slept) == 2
    assert all(s > 0 for s in slept)


def test_read_timeout_of_a_long_poll_repolls_at_once(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    fake.retrieve_script.append(read_timeout())
    trainer.save_state("s").result()
    assert slept == []


def test_connection_failures_give_up_after_the_budget(
    fake: FakeTrainer, policy: RetryPolicy
) -> None:
    tuning = PollTuning(max_connection_failures=2)
    fake.retrieve_script.extend([connect_error()] * 3)
    with (
        FiretitanTrainingClient(
            TRAINER, MODEL, api_key=KEY, retry_policy=policy, poll_tuning=tuning
        ) as client,
        pytest.raises(APIConnectionError, match="connection failed"),
    ):
        client.save_state("s").result()


def test_410_is_an_expired_future(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    fake.retrieve_script.append(reply(410, {"error": {"code": 410, "message": "expired"}}))
    with pytest.raises(GoneError, match=r"410 POST .*/api/v1/retrieve_future: expired") as caught:
        trainer.save_state("s").result()
    assert caught.value.status_code == 410


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
    ],
)
def test_other_4xx_is_fatal(
    trainer: FiretitanTrainingClient,
    fake: FakeTrainer,
    slept: list[float],
    status: int,
    error: type[Exception],
) -> None:
    body = {"error": {"code": status, "message": f"bad key {KEY}"}}
    fake.retrieve_script.append(reply(status, body))
    with pytest.raises(error) as caught:
        trainer.optim_step(tinker.types.AdamParams()).result()
    assert KEY not in str(caught.value)
    assert len(fake.retrieves) == 1
    assert slept == []


@pytest.mark.parametrize("category", ["user", "server", "unknown", "User"])
def test_error_body_is_request_failed(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, category: str
) -> None:
    fake.retrieve_script.append(reply(body={"error": "shape mismatch", "category": category}))
    with pytest.raises(RequestFailedError, match="shape mismatch") as caught:
        trainer.load_state("step-1").result()
    assert caught.value.category == category.lower()
    assert caught.value.request_id == "req-1"


def test_a_failed_op_does_not_stop_later_ones(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.retrieve_script.append(reply(body={"error": "not found", "category": "user"}))
    first = trainer.load_state("missing")
    second = trainer.save_state("s")
    with pytest.raises(RequestFailedError):
        first.result()
    assert second.result().path == "cross_job://job-abc/s"


def test_save_state_without_path_fails(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    fake.retrieve_script.append(reply(body={"type": "save_weights"}))
    with pytest.raises(RequestFailedError, match="no path"):
        trainer.save_state("s").result()


# Submits --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [connect_error, read_timeout, lambda: reply(408), lambda: reply(409), lambda: reply(429)]
    + [lambda s=s: reply(s) for s in (500, 502, 503, 504)],
)
def test_submit_retried_with_the_same_seq_id(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float], failure: object
) -> None:
    assert callable(failure)
    fake.submit_script.extend([failure(), failure()])
    trainer.optim_step(tinker.types.AdamParams())  # seq 1
    assert trainer.save_state("s").result().path == "cross_job://job-abc/s"
    bodies = fake.ops()
    assert [b["seq_id"] for b in bodies] == [1, 1, 1, 2]
    assert bodies[0] == bodies[1] == bodies[2]
    assert len(slept) == 2


def test_submit_gives_up_after_max_retries(fake: FakeTrainer, policy: RetryPolicy) -> None:
    fake.submit_script.extend([reply(503)] * 3)
    few = RetryPolicy(max_retries=2, async_sleep=policy.async_sleep)
    with (
        FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY, retry_policy=few) as client,
        pytest.raises(InternalServerError, match="503 POST") as caught,
    ):
        client.save_state("s").result()
    assert caught.value.status_code == 503
    assert len(fake.submits) == 3


def test_fatal_submit_fails_later_ops_instead_of_hanging(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.submit_script.append(reply(400, {"error": {"code": 400, "message": "bad op"}}))
    first = trainer.save_state("s")
    second = trainer.save_state("t")
    with pytest.raises(BadRequestError, match="bad op"):
        first.result()
    with pytest.raises(RequestFailedError, match=r"seq_id 2.* not submitted"):
        second.result()
    assert len(fake.submits) == 1


def test_submit_answer_without_request_id(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.submit_script.append(reply(body={"model_id": MODEL}))
    with pytest.raises(RequestFailedError, match="no request_id"):
        trainer.save_state("s").result()


# Waiting, cancelling, closing ------------------------------------------------------------


@pytest.fixture
def held(fake: FakeTrainer, trainer: FiretitanTrainingClient) -> Iterator[asyncio.Event]:
    """Retrieves wait on this event (set it through ``release``)."""
    fake.hold = asyncio.Event()
    return fake.hold


def release(trainer: FiretitanTrainingClient, event: asyncio.Event) -> None:
    trainer._conn.runner.call_soon(event.set)


def test_save_state_timeout_raises_and_the_save_goes_on(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, held: asyncio.Event
) -> None:
    fake.expected_submits = 1
    with pytest.raises(TimeoutError, match="save_weights"):
        trainer.save_state("s", timeout=0.01)
    assert fake.all_submitted.wait(5)  # the save went on after the caller stopped waiting
    assert fake.ops("save_weights")[0]["path"] == "s"
    release(trainer, held)
    assert trainer.save_state("t", timeout=5).result().path == "cross_job://job-abc/t"


def test_save_weights_for_sampler_returns_before_the_save_finishes(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, held: asyncio.Event
) -> None:
    fake.expected_submits = 1
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            call = pool.submit(trainer.save_weights_for_sampler, "s")
            future = call.result(timeout=10)  # a blocking call would time out here
            assert fake.all_submitted.wait(10)
            assert not future.done()  # the trainer has not answered yet
            assert fake.retrieves == []
        finally:
            release(trainer, held)
    saved = future.result(timeout=10)
    assert saved.path == f"accounts/acme/rlorTrainerJobs/job-abc/checkpoints/s-{trainer.session_id}"
    assert fake.retrieves == ["req-1"]


def test_cancelling_a_future_stops_waiting_only(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, held: asyncio.Event
) -> None:
    first = trainer.save_state("s")
    assert first.future().cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        first.result()
    release(trainer, held)
    assert trainer.save_state("t").result().path == "cross_job://job-abc/t"
    assert [b["seq_id"] for b in fake.ops()] == [1, 2]


def test_close_cancels_unfinished_futures(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, held: asyncio.Event
) -> None:
    futures = [trainer.save_state(f"s{i}") for i in range(5)]
    trainer.close()
    assert all(f.future().cancelled() for f in futures)
    with pytest.raises(RuntimeError, match="closed"):
        trainer.save_state("late")


# Async access ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_await_and_result_async(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    a = trainer.save_state("a")
    b = trainer.optim_step(tinker.types.AdamParams())
    c = trainer.save_weights_for_sampler("c")
    assert (await b).metrics == {"step": 2.0}
    assert (await a.result_async(timeout=5)).path == "cross_job://job-abc/a"
    results = await asyncio.gather(c, trainer.save_state("d").coroutine())
    assert results[1].path == "cross_job://job-abc/d"


@pytest.mark.anyio
async def test_await_raises_typed_errors(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.retrieve_script.append(reply(410))
    with pytest.raises(GoneError):
        await trainer.save_state("s")


def test_a_trainer_answering_only_5xx_is_given_up_on(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    budget = PollTuning().max_server_errors
    fake.retrieve_script.extend([reply(503)] * (budget + 5))
    with pytest.raises(InternalServerError):
        trainer.save_state("s").result(timeout=30)
    assert len(fake.retrieves) == budget + 1
    assert len(slept) == budget - 3  # the first three re-polled at once, then backed off


def test_long_polls_timing_out_forever_are_given_up_on(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    budget = PollTuning().max_read_timeouts
    fake.retrieve_script.extend(read_timeout() for _ in range(budget + 5))
    with pytest.raises(APIConnectionError):
        trainer.save_state("s").result(timeout=30)
    assert len(fake.retrieves) == budget + 1


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(200, text="<html>proxy</html>"), httpx.Response(200, json=["x"])],
    ids=["html", "list"],
)
def test_a_result_that_is_not_a_json_object_is_a_protocol_error(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, answer: httpx.Response
) -> None:
    # The same decoder as the control plane's: a 2xx reply off the protocol is not retried.
    fake.retrieve_script.append(answer)
    with pytest.raises(ProtocolError, match=r"200 POST .*/retrieve_future: reply is not a JSON"):
        trainer.save_state("s").result(timeout=30)
    assert len(fake.retrieves) == 1


@pytest.mark.parametrize("status", [200, 204])
@pytest.mark.parametrize("op", ["optim_step", "save_weights_for_sampler", "load_state"])
def test_an_empty_answer_to_a_result_poll_is_no_result(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, op: str, status: int
) -> None:
    # A proxy that cuts a long poll with an empty 200 must not make the op look done.
    fake.retrieve_script.append(httpx.Response(status))
    if op == "optim_step":
        future = trainer.optim_step(tinker.types.AdamParams())
    elif op == "save_weights_for_sampler":
        future = trainer.save_weights_for_sampler("s")
    else:
        future = trainer.load_state("step-2")
    with pytest.raises(ProtocolError, match="an empty answer is no result"):
        future.result(timeout=10)
