"""DeploymentSampler on the exact wire: one request per sample, retries, seeds, scoring."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.clients.deployment_sampler import DeploymentSampler
from fireworks_training.errors import (
    BadRequestError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    ProtocolError,
)

from .conftest import BASE, KEY

pytestmark = pytest.mark.anyio

MODEL = "accounts/acme/deployments/dep-1"
PATH = "/inference/v1/completions"


@pytest.fixture
async def sampler() -> AsyncIterator[DeploymentSampler]:
    made = DeploymentSampler(BASE, MODEL, KEY)
    yield made
    await made.close()


def stream(
    tokens: list[int], *, prompt: list[int] | None = None, finish: str = "length"
) -> httpx.Response:
    """A streamed answer: one chunk per token, then the finish chunk and [DONE]."""
    ids = [*(prompt or []), *tokens]
    rows = []
    if prompt:
        rows.append({"token_id": prompt[0], "logprob": 0.0, "sampling_logprob": None})
        rows += [{"token_id": t, "logprob": -0.5, "sampling_logprob": None} for t in prompt[1:]]
    rows += [{"token_id": t, "logprob": -1.0, "sampling_logprob": -0.25} for t in tokens]
    chunks = [{"choices": [{"index": 0, "text": "", "logprobs": {"content": rows}}]}]
    final = {
        "index": 0,
        "text": "",
        "finish_reason": finish,
        "raw_output": {"completion_token_ids": ids},
    }
    chunks.append({"choices": [final], "usage": {"completion_tokens": len(tokens)}})
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})


def error(code: int, message: str = "no", **headers: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": code, "message": message}}, headers=headers)


async def test_n_samples_are_n_requests_with_their_own_seed(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    route = router.post(PATH).mock(side_effect=[stream([7]), stream([8]), stream([9])])
    done = await sampler.sample_with_prompt_tokens(
        [1, 2], n=3, max_tokens=1, temperature=0.5, stop="x", seed=10, logprobs=True
    )
    assert sorted(c.completion_tokens[0] for c in done) == [7, 8, 9]
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert sorted(b["seed"] for b in bodies) == [10, 11, 12]
    assert bodies[0] | {"seed": 0} == {
        "model": MODEL,
        "prompt": [1, 2],
        "n": 1,
        "max_tokens": 1,
        "temperature": 0.5,
        "stream": True,
        "perf_metrics_in_response": True,
        "raw_output": True,
        "top_p": 1.0,
        "top_k": 0,
        "logprobs": True,
        "stop": ["x"],
        "seed": 0,
    }
    headers = route.calls[0].request.headers
    assert (headers["authorization"], headers["x-api-key"]) == (f"Bearer {KEY}", KEY)


async def test_transient_failures_are_retried_with_one_request_id(
    sampler: DeploymentSampler, router: respx.MockRouter, sleeps: list[float]
) -> None:
    cut = httpx.Response(200, text='data: {"choices": [{"index": 0, "text": "a"}]}\n\n')
    route = router.post(PATH).mock(
        side_effect=[
            error(503, **{"Retry-After": "3"}),
            httpx.ConnectError("refused"),
            cut,
            stream([5]),
        ]
    )
    (completion,) = await sampler.sample_with_prompt_tokens([1], max_tokens=1)
    assert completion.completion_tokens == [5]
    ids = {c.request.headers["x-request-id"] for c in route.calls}
    assert len(ids) == 1
    assert route.call_count == 4
    assert sleeps[0] == 3  # the server's Retry-After
    # then 2 s doubling per failure (4 s, 8 s here), times a jitter in [0.5, 1.5)
    assert 2.0 <= sleeps[1] < 6.0
    assert 4.0 <= sleeps[2] < 12.0


async def test_transient_failures_stop_after_seven_attempts(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    route = router.post(PATH).mock(return_value=error(502))
    with pytest.raises(InternalServerError):
        await sampler.sample_with_prompt_tokens([1], max_tokens=1)
    assert route.call_count == 7


async def test_a_deployment_not_ready_is_waited_for_ten_times_five_seconds(
    sampler: DeploymentSampler, router: respx.MockRouter, sleeps: list[float]
) -> None:
    route = router.post(PATH).mock(side_effect=[error(425), error(404), stream([3])])
    await sampler.sample_with_prompt_tokens([1], max_tokens=1)
    assert sleeps == [5.0, 5.0]
    route.mock(return_value=error(404, "model not found"))
    with pytest.raises(NotFoundError):
        await sampler.sample_with_prompt_tokens([1], max_tokens=1)
    assert route.call_count == 3 + 10


async def test_other_client_errors_raise_at_once(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    route = router.post(PATH).mock(return_value=error(400, "Extra inputs are not permitted"))
    with pytest.raises(BadRequestError, match="Extra inputs"):
        await sampler.sample_with_prompt_tokens([1], max_tokens=1, bogus=1)
    assert route.call_count == 1


async def test_bad_input_is_refused_before_any_request(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    for call in [
        {"prompt_token_ids": []},
        {"prompt_token_ids": [1], "n": 0},
        {"prompt_token_ids": [1], "seed": 1.5},
        {"prompt_token_ids": [1], "stop": [3]},  # token stops need a tokenizer
    ]:
        with pytest.raises(InvalidArgumentError):
            await sampler.sample_with_prompt_tokens(**call)
    with pytest.raises(InvalidArgumentError, match="tokenizer"):
        await sampler.sample_with_tokens([{"role": "user", "content": "hi"}])
    assert not router.calls


async def test_max_seq_len_filters_prompts_and_completions(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    assert await sampler.sample_with_prompt_tokens([1, 2, 3], max_seq_len=3) == []
    router.post(PATH).mock(return_value=stream([4, 5]))
    assert await sampler.sample_with_prompt_tokens([1, 2, 3], max_tokens=2, max_seq_len=4) == []
    assert len(await sampler.sample_with_prompt_tokens([1, 2, 3], max_tokens=2, max_seq_len=5)) == 1


async def test_prompt_logprobs_sample_no_token_unless_the_server_refuses(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    route = router.post(PATH).mock(return_value=stream([], prompt=[1, 2, 3]))
    assert await sampler.prompt_logprobs([1, 2, 3]) == [-0.5, -0.5]
    body = json.loads(route.calls.last.request.content)
    assert (body["max_tokens"], body["echo"], body["logprobs"]) == (0, True, True)
    route.mock(side_effect=[error(400, "max_tokens must be >= 1"), stream([9], prompt=[1, 2, 3])])
    assert await sampler.prompt_logprobs([1, 2, 3]) == [-0.5, -0.5]
    assert json.loads(route.calls.last.request.content)["max_tokens"] == 1
    route.mock(return_value=stream([9], prompt=[1, 2, 3]))
    await sampler.prompt_logprobs([1, 2, 3])
    assert json.loads(route.calls.last.request.content)["max_tokens"] == 1  # remembered


async def test_an_answer_without_token_ids_is_a_protocol_error(
    sampler: DeploymentSampler, router: respx.MockRouter
) -> None:
    final = {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}
    router.post(PATH).mock(return_value=httpx.Response(200, text=f"data: {json.dumps(final)}\n\n"))
    with pytest.raises(ProtocolError, match="completion_token_ids"):
        await sampler.sample_with_prompt_tokens([1], max_tokens=1)


async def test_concurrency_is_bounded_by_the_controller(router: respx.MockRouter) -> None:
    class Controller:
        def __init__(self) -> None:
            self.events: list[str] = []

        async def acquire(self) -> None:
            self.events.append("acquire")

        def release(self, metrics: Any = None) -> None:
            self.events.append("release")

    controller = Controller()
    router.post(PATH).mock(return_value=stream([1]))
    sampler = DeploymentSampler(BASE, MODEL, KEY, concurrency_controller=controller)
    try:
        await sampler.sample_with_prompt_tokens([1], n=2, max_tokens=1)
    finally:
        await sampler.close()
    assert sorted(controller.events) == ["acquire", "acquire", "release", "release"]


def test_construction_checks_its_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="model"):
        DeploymentSampler(BASE, "", KEY)
    with pytest.raises(InvalidArgumentError, match="max_concurrency"):
        DeploymentSampler(BASE, MODEL, KEY, max_concurrency=0)
    assert KEY not in repr(DeploymentSampler(BASE, MODEL, KEY))
