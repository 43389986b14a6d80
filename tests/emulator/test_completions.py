"""Completions from what a deployment serves: shapes, sampling controls, stream, refusals."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from fireworks_training.emulator import Emulator
from fireworks_training.emulator.model import log_softmax

from .kit import Deployment, Trainer


@pytest.fixture
def served(emu: Emulator, http: httpx.Client, trainer: Trainer, job: str) -> Deployment:
    """A deployment serving a trainer that learnt the test sentence's bigrams."""
    for _ in range(5):
        trainer.train_step(lr=0.05)
    deployment = Deployment.create(http, emu.account_id, "served", job)
    deployment.load(trainer.save_sampler("trained")["path"])
    return deployment


def choice(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    first: dict[str, Any] = response.json()["choices"][0]
    return first


def events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [part[6:] for part in response.text.split("\n\n") if part.startswith("data: ")]
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def test_the_warmup_request(served: Deployment) -> None:
    # What the official warmup and readiness probe send: no stream, greedy.
    response = served.complete([1, 2], max_tokens=4, temperature=0.0)
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["model"] == served.model
    (only,) = body["choices"]
    assert only["finish_reason"] == "length"
    assert only["logprobs"] is None
    assert "raw_output" not in only
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}


def test_greedy_follows_the_learnt_text_and_a_stop_string_ends_it(served: Deployment) -> None:
    greedy = choice(served.complete("the", max_tokens=8, temperature=0, raw_output=True))
    assert greedy["text"] == " down do"
    stopped = choice(
        served.complete("the", max_tokens=8, temperature=0, stop="own", raw_output=True)
    )
    assert stopped["finish_reason"] == "stop"
    assert stopped["text"] == " d"  # the stop string is not in the text...
    assert stopped["raw_output"]["completion_token_ids"] == list(b" down")  # ...but generated
    listed = choice(served.complete("the", max_tokens=8, temperature=0, stop=["zz", " do"]))
    assert listed["text"] == ""


def test_echo_rows_align_with_the_returned_ids(emu: Emulator, served: Deployment) -> None:
    prompt = list(b"the lazy")
    first = choice(
        served.complete(
            prompt, max_tokens=3, temperature=0, logprobs=True, echo=True, raw_output=True
        )
    )
    ids = first["raw_output"]["completion_token_ids"]
    rows = first["logprobs"]["content"]
    assert ids[: len(prompt)] == prompt
    assert [r["token_id"] for r in rows] == ids
    assert first["raw_output"]["prompt_token_ids"] == prompt
    assert rows[0] == {
        "token": "t",
        "token_id": prompt[0],
        "logprob": 0.0,
        "sampling_logprob": None,
    }
    assert all(r["sampling_logprob"] is None for r in rows[1 : len(prompt)])
    assert all(r["sampling_logprob"] == 0.0 for r in rows[len(prompt) :])  # greedy
    assert first["text"].startswith("the lazy")
    weights = emu.deployment_weights(served.deployment_id)
    raw = log_softmax(weights[ids[-2]])
    assert rows[-1]["logprob"] == float(raw[ids[-1]])
    assert ids[-1] == int(np.argmax(raw))


def test_max_tokens_zero_with_echo_scores_the_prompt_only(served: Deployment) -> None:
    first = choice(served.complete("abc", max_tokens=0, logprobs=True, echo=True, raw_output=True))
    assert first["raw_output"]["completion_token_ids"] == list(b"abc")
    assert len(first["logprobs"]["content"]) == 3
    assert first["finish_reason"] == "length"


def test_sampling_logprobs_follow_temperature_top_k_and_top_p(
    emu: Emulator, served: Deployment
) -> None:
    weights = emu.deployment_weights(served.deployment_id)
    prompt = list(b"the")

    def first_row(**fields: Any) -> dict[str, Any]:
        row: dict[str, Any] = choice(
            served.complete(prompt, max_tokens=1, logprobs=True, **fields)
        )["logprobs"]["content"][0]
        return row

    row = first_row(temperature=0.5, seed=1)
    scaled = log_softmax((weights[prompt[-1]] / np.float32(0.5)).astype(np.float32))
    assert row["sampling_logprob"] == float(scaled[row["token_id"]])
    assert row["logprob"] == float(log_softmax(weights[prompt[-1]])[row["token_id"]])
    top1 = first_row(temperature=1.0, top_k=1, seed=3)
    assert top1["sampling_logprob"] == 0.0  # one token left: certain
    assert top1["token_id"] == int(np.argmax(weights[prompt[-1]]))
    narrow = first_row(temperature=1.0, top_p=1e-6, seed=3)
    assert (narrow["token_id"], narrow["sampling_logprob"]) == (top1["token_id"], 0.0)
    ten = [first_row(top_k=10, seed=s) for s in range(20)]
    best = set(np.argsort(-weights[prompt[-1]])[:10].tolist())
    assert {r["token_id"] for r in ten} <= best
    assert all(r["sampling_logprob"] > r["logprob"] for r in ten)  # renormalised over 10


def test_top_logprobs(served: Deployment) -> None:
    row = choice(served.complete("the", max_tokens=1, temperature=0, logprobs=3))["logprobs"][
        "content"
    ][0]
    top = row["top_logprobs"]
    assert len(top) == 3
    assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
    assert top[0]["token_id"] == row["token_id"]  # greedy took the best


def test_the_stream_carries_the_same_completion(served: Deployment) -> None:
    fields: dict[str, Any] = {
        "max_tokens": 6,
        "seed": 11,
        "logprobs": True,
        "echo": True,
        "raw_output": True,
    }
    whole = choice(served.complete("the", **fields))
    chunks = events(served.complete("the", stream=True, perf_metrics_in_response=True, **fields))
    assert len({c["id"] for c in chunks}) == 1
    parts = [ch for c in chunks for ch in c["choices"]]
    assert [p["finish_reason"] for p in parts[:-1]] == [None] * (len(parts) - 1)
    assert parts[-1]["finish_reason"] == whole["finish_reason"]
    assert parts[-1]["raw_output"] == whole["raw_output"]
    rows = [r for p in parts if p.get("logprobs") for r in p["logprobs"]["content"]]
    assert rows == whole["logprobs"]["content"]
    assert "".join(p["text"] for p in parts) == whole["text"]
    assert "usage" in chunks[-1]


def test_several_choices(served: Deployment) -> None:
    body = served.complete("the", n=3, max_tokens=4, seed=2, raw_output=True).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["usage"]["completion_tokens"] == 12


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"presence_penalty": 1.0}, "Extra inputs are not permitted, field: 'presence_penalty'"),
        ({"prompt": [256]}, "prompt token ids"),
        ({"prompt": []}, "must not be empty"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"stop": [""]}, "stop"),
        ({"logprobs": 50}, "logprobs"),
    ],
)
def test_bad_requests_are_400(served: Deployment, fields: dict[str, Any], why: str) -> None:
    body = {"prompt": [1], **fields}
    response = served.complete(body.pop("prompt"), **body)
    assert response.status_code == 400
    assert why in response.json()["error"]["message"]


def test_unknown_or_idle_deployments(emu: Emulator, http: httpx.Client, served: Deployment) -> None:
    unknown = http.post(
        "/inference/v1/completions",
        json={"model": "accounts/emulator/deployments/nope", "prompt": [1]},
    )
    assert unknown.status_code == 404
    emu.set_replica_count(served.deployment_id, 0)
    idle = served.complete([1])
    assert idle.status_code == 503
    assert idle.headers["Retry-After"] == "1"


def test_a_sync_deployment_answers_425_while_it_swaps(
    emu: Emulator, trainer: Trainer, served: Deployment
) -> None:
    emu.set_transition_type(served.deployment_id, "SYNC")
    emu.hold_hotloads()
    served.load(trainer.save_sampler("next")["path"])
    (replica,) = served.replicas()
    assert replica["readiness"] is False
    swapping = served.complete([1])
    assert swapping.status_code == 425
    emu.release_hotloads()
    assert served.complete([1]).status_code == 200


def test_requests_take_turns_across_replicas(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    deployment = Deployment.create(http, emu.account_id, "pair", job, replicas=2)
    trainer.train_step(lr=0.05)
    deployment.load(trainer.save_sampler("base")["path"])
    emu.lag_replica("pair", 1)
    trainer.train_step(lr=0.5)
    deployment.load(trainer.save_sampler("newer")["path"])
    answers = {
        tuple(
            choice(deployment.complete("th", max_tokens=1, logprobs=True, temperature=0))[
                "logprobs"
            ]["content"][0].values()
        )
        for _ in range(4)
    }
    assert len(answers) == 2  # one replica serves the new weights, the lagging one the old
