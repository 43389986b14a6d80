"""Weight sync end to end over HTTP: train, save, hot-load, sample what the deployment holds.

Full-parameter: base -> full hot-load -> train -> delta -> incremental hot-load, and the
deployment's weights are the trainer's bf16 weights bit for bit; its prompt logprobs are the
reference log_softmax of those weights exactly, and the trainer's forward pass within 1e-3.
LoRA: the adapter is merged into the base weights; merged_base is the trainer's bf16.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from fireworks_training.emulator import Emulator, blobs
from fireworks_training.emulator.model import base_weights, log_softmax

from .kit import BASE_MODEL, TEXT, Deployment, Trainer, datum

PROMPT = list(b"the quick brown fox")


def bf16(values: np.ndarray) -> np.ndarray:
    return blobs.bf16_bits(np.asarray(values, np.float32))


def reference_logprobs(weights: np.ndarray, prompt: list[int]) -> list[float]:
    """log_softmax of the served weights at each prompt position: the same function."""
    table = log_softmax(weights[np.asarray(prompt[:-1])])
    return [float(table[i, t]) for i, t in enumerate(prompt[1:])]


def trainer_logprobs(trainer: Trainer, prompt: list[int]) -> list[float]:
    result = trainer.run("forward", {"forward_input": {"data": [datum(bytes(prompt))]}})
    return [float(x) for x in result["loss_fn_outputs"][0]["logprobs"]["data"]]


def attach(
    emu: Emulator, http: httpx.Client, lora_rank: int = 0
) -> tuple[str, Trainer, Deployment]:
    job = emu.create_trainer_job(job_id=f"sync-{lora_rank}", lora_rank=lora_rank)
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=lora_rank)
    deployment = Deployment.create(http, emu.account_id, f"deploy-{lora_rank}", job)
    return job, trainer, deployment


def test_full_parameter_base_then_delta(emu: Emulator, http: httpx.Client) -> None:
    job, trainer, deployment = attach(emu, http)
    resource = deployment.get()
    assert resource["state"] == "READY"
    assert resource["hotLoadTrainerJob"] == f"accounts/emulator/rlorTrainerJobs/{job}"
    assert deployment.current() == [None]
    assert (
        bf16(emu.deployment_weights(deployment.deployment_id)) == bf16(base_weights(BASE_MODEL))
    ).all()

    base = trainer.save_sampler("step-0")["path"]
    deployment.load(base)
    (replica,) = deployment.replicas()
    assert replica["current_snapshot_identity"] == base
    assert replica["readiness"] is True
    served = emu.deployment_weights(deployment.deployment_id)
    assert (bf16(served) == bf16(emu.weights(job))).all()

    for _ in range(3):
        trainer.train_step()
    delta = trainer.save_sampler("step-3", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)
    assert deployment.current() == [delta]
    served = emu.deployment_weights(deployment.deployment_id)
    assert (bf16(served) == bf16(emu.weights(job))).all()  # bit for bit
    path = emu.state_dir / "checkpoints" / job / f"{delta}.ckpt"
    assert (bf16(served) == blobs.sampler_bits(path)).all()

    served_logprobs = deployment.prompt_logprobs(PROMPT)
    assert served_logprobs == reference_logprobs(served, PROMPT)  # exactly
    trained = trainer_logprobs(trainer, PROMPT)
    assert np.max(np.abs(np.subtract(served_logprobs, trained))) < 1e-3
    assert served_logprobs != trained  # bf16 rounding is really there

    ledger = emu.deployment_ledger(deployment.deployment_id)
    assert [(e["identity"], e["type"], e["result"]) for e in ledger] == [
        (base, "full", "loaded"),
        (delta, "delta", "loaded"),
    ]


def test_greedy_is_deterministic_and_a_seed_repeats(emu: Emulator, http: httpx.Client) -> None:
    _, trainer, deployment = attach(emu, http)
    trainer.train_step(TEXT, lr=0.05)
    deployment.load(trainer.save_sampler("step-1")["path"])

    def tokens(**fields: object) -> list[int]:
        response = deployment.complete(PROMPT[:3], max_tokens=12, raw_output=True, **fields)
        response.raise_for_status()
        ids: list[int] = response.json()["choices"][0]["raw_output"]["completion_token_ids"]
        return ids

    greedy = tokens(temperature=0)
    assert greedy == tokens(temperature=0) == tokens(temperature=0, seed=5)
    assert tokens(seed=7) == tokens(seed=7)
    assert len({tuple(tokens(seed=s)) for s in range(5)}) > 1  # seeds really matter


def test_lora_adapter_is_merged_into_the_base(emu: Emulator, http: httpx.Client) -> None:
    job, trainer, deployment = attach(emu, http, lora_rank=4)
    for _ in range(2):
        trainer.train_step(lr=0.05)
    adapter = trainer.save_sampler("step-2")["path"]  # LoRA: always the whole adapter
    deployment.load(adapter)
    (replica,) = deployment.replicas()
    assert replica["current_snapshot_identity"] == adapter
    assert replica["loaded_adapters"] == [{"identity": adapter, "status": "loaded"}]

    blob = blobs.read_blob(emu.state_dir / "checkpoints" / job / f"{adapter}.ckpt")
    a, b = (blobs.bf16_float(blob.arrays[k]) for k in ("A", "B"))
    expected = bf16(base_weights(BASE_MODEL) + a @ b)
    served = emu.deployment_weights(deployment.deployment_id)
    assert (bf16(served) == expected).all()
    assert deployment.prompt_logprobs(PROMPT) == reference_logprobs(served, PROMPT)
    trained = trainer_logprobs(trainer, PROMPT)
    assert np.max(np.abs(np.subtract(deployment.prompt_logprobs(PROMPT), trained))) < 1e-3

    trainer.train_step(lr=0.05)
    merged = trainer.save_sampler("step-3", "merged_base")["path"]
    deployment.load(merged)
    assert (bf16(emu.deployment_weights(deployment.deployment_id)) == bf16(emu.weights(job))).all()
    assert deployment.replicas()[0]["loaded_adapters"] == []


def test_a_lora_adapter_with_delta_metadata_is_refused(emu: Emulator, http: httpx.Client) -> None:
    _, trainer, deployment = attach(emu, http, lora_rank=4)
    first = trainer.save_sampler("step-0")["path"]
    deployment.load(first)
    trainer.train_step()
    second = trainer.save_sampler("step-1", "delta")["path"]  # still a whole adapter
    deployment.load(second, previous=first, delta=True)
    (replica,) = deployment.replicas()
    assert replica["current_snapshot_identity"] == first
    assert replica["loading_state"]["stage"] == "error"
    assert "only for deltas" in replica["loading_state"]["error_message"]


@pytest.mark.parametrize("prompt", [PROMPT, list(TEXT)])
def test_compute_logprobs_style_request(
    emu: Emulator, http: httpx.Client, prompt: list[int]
) -> None:
    """What the official sampler's compute_logprobs sends, streamed, echoes every position."""
    _, trainer, deployment = attach(emu, http)
    deployment.load(trainer.save_sampler("step-0")["path"])
    response = deployment.complete(
        prompt,
        n=1,
        max_tokens=1,
        temperature=1.0,
        stream=True,
        perf_metrics_in_response=True,
        raw_output=True,
        logprobs=True,
        echo=True,
        top_p=1.0,
        top_k=0,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"

    chunks = [json.loads(e) for e in events[:-1]]
    rows = [
        r
        for c in chunks
        for ch in c["choices"]
        if ch.get("logprobs")
        for r in ch["logprobs"]["content"]
    ]
    final = chunks[-1]["choices"][0]
    assert final["finish_reason"] == "length"
    ids = final["raw_output"]["completion_token_ids"]
    assert ids[: len(prompt)] == prompt
    assert len(ids) == len(prompt) + 1
    assert len(rows) == len(ids)  # every array aligns with the returned ids
    assert (rows[0]["logprob"], rows[0]["sampling_logprob"]) == (0.0, None)
    assert all(r["sampling_logprob"] is None for r in rows[1 : len(prompt)])
    assert rows[-1]["sampling_logprob"] == rows[-1]["logprob"]  # T=1, nothing cut
    served = emu.deployment_weights(deployment.deployment_id)
    assert [r["logprob"] for r in rows[1 : len(prompt)]] == reference_logprobs(served, prompt)
    assert chunks[-1]["usage"] == {
        "prompt_tokens": len(prompt),
        "completion_tokens": 1,
        "total_tokens": len(prompt) + 1,
    }
