"""The official ``fireworks-ai`` weight-sync path, unchanged, against the emulator.

Its ``DeploymentManager`` creates a deployment attached to a trainer job, its training client
trains there, its ``WeightSyncer`` saves and hot-loads a base then (full-parameter) a delta,
and its sampling client samples and scores a prompt; then it scales the deployment to zero
and deletes it. The client runs in its own cached
virtualenv (``benchmarks/official.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from benchmarks.official import OfficialClient

from fireworks_training.emulator import Emulator, blobs
from fireworks_training.emulator.model import base_weights, log_softmax

from .kit import BASE_MODEL, TEXT

DRIVER = """
import json, sys
from fireworks.training.sdk import (
    DeploymentConfig, DeploymentManager, FiretitanServiceClient, WeightSyncer, types,
)

base_url, key, job_id, trainer_url, base_model, deployment_id, rank, text = sys.argv[1:9]
rank, text = int(rank), list(text.encode())
manager = DeploymentManager(api_key=key, base_url=base_url)
job = f"accounts/{manager.account_id}/rlorTrainerJobs/{job_id}"
config = DeploymentConfig(
    deployment_id=deployment_id, base_model=base_model, min_replica_count=1,
    max_replica_count=1, hot_load_trainer_job=job,
)
manager.create_or_get(config)
ready = manager.wait_for_ready(deployment_id, timeout_s=60, poll_interval_s=0.1)
service = FiretitanServiceClient(base_url=trainer_url, api_key=key)
policy = service.create_training_client(base_model=base_model, lora_rank=rank)
syncer = WeightSyncer(
    policy_client=policy, deploy_mgr=manager, deployment_id=deployment_id,
    base_model=base_model, hotload_timeout=60, lora_rank=rank,
)
first = syncer.save_and_hotload("step-0")
target = types.TensorData(data=text[1:], dtype="int64", shape=[len(text) - 1])
datum = types.Datum(
    model_input=types.ModelInput.from_ints(text[:-1]), loss_fn_inputs={"target_tokens": target}
)
for _ in range(3):
    policy.forward_backward([datum], "cross_entropy").result()
    policy.optim_step(types.AdamParams(learning_rate=0.05)).result()
second = syncer.save_and_hotload("step-3")
sampler = syncer.get_sampling_client()
prompt = types.ModelInput.from_ints(list(b"the quick"))
greedy = types.SamplingParams(max_tokens=6, temperature=0.0)
sampled = sampler.sample(prompt, num_samples=1, sampling_params=greedy).result()
scored = sampler.compute_logprobs(prompt).result()
sequence = sampled.sequences[0]
print(json.dumps({
    "state": ready.state, "session": policy.session_id, "first": first, "second": second,
    "tokens": list(sequence.tokens), "logprobs": list(sequence.logprobs), "scored": scored,
}))
"""

CLEANUP = """
import json, sys
from fireworks.training.sdk import DeploymentManager

base_url, key, deployment_id = sys.argv[1:4]
manager = DeploymentManager(api_key=key, base_url=base_url)
manager.scale_to_zero(deployment_id)
scaled = manager.get(deployment_id)
manager.delete(deployment_id)
print(json.dumps({"job": scaled.hot_load_trainer_job, "gone": manager.get(deployment_id) is None}))
"""


def _drive(client: OfficialClient, emu: Emulator, job: str, rank: int) -> dict[str, Any]:
    args = (emu.base_url, emu.api_key, job, emu.trainer_url(job), BASE_MODEL, "official")
    return client.run(DRIVER, *args, str(rank), TEXT.decode(), timeout=300)


def _signals(emu: Emulator) -> list[dict[str, Any]]:
    return [e.body for e in emu.request_log if e.route == "/hot_load/v1/models/hot_load" and e.body]


def _served(emu: Emulator) -> np.ndarray:
    return emu.deployment_weights("official")


def _check_sampling(emu: Emulator, out: dict[str, Any]) -> None:
    """Greedy tokens and prompt logprobs come from the bf16 weights the deployment holds."""
    weights = _served(emu)
    prompt = list(b"the quick")
    table = log_softmax(weights[np.asarray(prompt[:-1])])
    assert out["scored"] == [None, *(float(table[i, t]) for i, t in enumerate(prompt[1:]))]
    previous, expected = prompt[-1], []
    for _ in range(6):
        previous = int(np.argmax(log_softmax(weights[previous])))
        expected.append(previous)
    assert out["tokens"] == expected
    assert out["logprobs"] == [0.0] * 6  # greedy: the sampling distribution is certain


def test_official_full_parameter_weight_sync(reference: OfficialClient, emu: Emulator) -> None:
    job = emu.create_trainer_job(job_id="official-full")
    out = _drive(reference, emu, job, 0)
    session = out["session"]
    assert out["state"] == "READY"
    assert (out["first"], out["second"]) == (f"step-0-{session}", f"step-3-{session}")
    first, second = _signals(emu)
    assert first == {"identity": out["first"], "reset_prompt_cache": True}
    assert second["incremental_snapshot_metadata"] == {
        "previous_snapshot_identity": out["first"],
        "compression_format": "arc_v2",
        "checksum_format": "alder32",
    }
    ledger = emu.deployment_ledger("official")
    assert [(e["type"], e["result"]) for e in ledger] == [("full", "loaded"), ("delta", "loaded")]
    served = blobs.bf16_bits(_served(emu))
    assert (served == blobs.bf16_bits(emu.weights(job))).all()  # the official client trained it
    _check_sampling(emu, out)

    cleaned = reference.run(CLEANUP, emu.base_url, emu.api_key, "official", timeout=120)
    # scale_to_zero PATCHes without an updateMask: the server resets every field it left out,
    # the trainer attachment included (an edge of the official client, shown faithfully).
    (scale,) = [e for e in emu.request_log if e.method == "PATCH"]
    assert (scale.path, scale.body) == (
        "/v1/accounts/emulator/deployments/official",
        {"maxReplicaCount": 0, "minReplicaCount": 0},
    )
    assert cleaned == {"job": None, "gone": True}


def test_official_lora_weight_sync(reference: OfficialClient, emu: Emulator) -> None:
    job = emu.create_trainer_job(job_id="official-lora", lora_rank=4)
    out = _drive(reference, emu, job, 4)
    assert [s.get("incremental_snapshot_metadata") for s in _signals(emu)] == [None, None]
    replica = emu.deployment("official")["replicas"][0]
    assert replica["loaded_adapters"] == [{"identity": out["second"], "status": "loaded"}]
    adapter = blobs.read_blob(emu.state_dir / "checkpoints" / job / f"{out['second']}.ckpt")
    a, b = (blobs.bf16_float(adapter.arrays[k]) for k in ("A", "B"))
    merged = blobs.bf16_bits((base_weights(BASE_MODEL) + a @ b).astype(np.float32))
    assert (blobs.bf16_bits(_served(emu)) == merged).all()
    _check_sampling(emu, out)
