"""The Fireworks cookbook's trainer calls, made as it writes them, against the emulator.

Each test makes one call form of ``fw-ai/cookbook`` (its recipes, its ``ReconnectableClient``
wrapper, its ``TrainingCheckpoints``) on ``fireworks_training`` where the cookbook imports
``fireworks.training.sdk``, and uses the result the way the cookbook does. Sampling,
deployments and serverless sessions are not here (see docs/migration.md). The tests are
our own words; no cookbook code is copied.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import numpy as np
import pytest
import tinker

from fireworks_training.client import (
    FiretitanServiceClient,
    FiretitanTrainingClient,
    GradAccNormalization,
)
from fireworks_training.emulator import Emulator
from fireworks_training.errors import RequestFailedError

BASE = "accounts/fireworks/models/tiny-bigram"
TIMEOUT = 60
# The recipes' Adam settings (a tinker.AdamParams handed to the Fireworks client).
ADAM = tinker.AdamParams(learning_rate=0.05, beta1=0.9, beta2=0.95, eps=1e-12, weight_decay=0.01)


def batch(step: int = 0) -> list[tinker.Datum]:
    text = list(f"step {step}: the lazy dog sleeps".encode())
    return [
        tinker.Datum(
            model_input=tinker.ModelInput.from_ints(text[:-1]),
            loss_fn_inputs={"target_tokens": text[1:], "weights": [1.0] * (len(text) - 1)},
        )
    ]


@pytest.fixture
def emu(fireworks_emulator: Emulator) -> Emulator:
    return fireworks_emulator


@pytest.fixture
def service(emu: Emulator) -> Iterator[FiretitanServiceClient]:
    job = emu.create_trainer_job(job_id="cookbook", lora_rank=0)
    # 25: the ReconnectableClient's form, on a dedicated trainer's gateway URL.
    service = FiretitanServiceClient(base_url=emu.trainer_url(job), api_key=emu.api_key)
    with closing(service):  # 36: recipes close it through contextlib.closing
        yield service


@pytest.fixture
def policy(service: FiretitanServiceClient) -> FiretitanTrainingClient:
    # 28: base_model positional, used directly as a client (no .result()).
    return service.create_training_client(BASE, lora_rank=0, lora_alpha=32)


@pytest.fixture
def lora_service(emu: Emulator) -> Iterator[FiretitanServiceClient]:
    job = emu.create_trainer_job(job_id="cookbook-lora", lora_rank=8)
    with FiretitanServiceClient(base_url=emu.trainer_url(job), api_key=emu.api_key) as service:
        yield service


def test_29_30_32_keyword_forms_and_the_reference_client(
    service: FiretitanServiceClient,
) -> None:
    policy = service.create_training_client(base_model=BASE, lora_rank=0)  # 29
    base = service.create_base_training_client(base_model=BASE)  # 30
    reference = service.create_reference_client(policy_client=policy)  # 32
    ref_logprobs = reference.forward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    base_logprobs = base.forward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    assert ref_logprobs.loss_fn_outputs[0]["logprobs"].data == (
        base_logprobs.loss_fn_outputs[0]["logprobs"].data
    )


def test_31_lora_factory_forms(lora_service: FiretitanServiceClient) -> None:
    positional = lora_service.create_lora_training_client(BASE, rank=8, alpha=32)
    keywords = lora_service.create_lora_training_client(base_model=BASE, rank=8)
    for client in (positional, keywords):
        assert isinstance(client, FiretitanTrainingClient)  # a client, not a future
        assert client.save_weights_for_sampler_ext("s").path


def test_27_managed_provisioning_is_refused_in_one_line() -> None:
    with pytest.raises(NotImplementedError, match="from_firetitan_config") as caught:
        FiretitanServiceClient.from_firetitan_config(api_key="k", base_url="u", base_model=BASE)
    assert "\n" not in str(caught.value)


def test_33_resume_a_new_client_from_a_state(
    service: FiretitanServiceClient, policy: FiretitanTrainingClient, emu: Emulator
) -> None:
    policy.forward_backward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    policy.optim_step(ADAM).result(timeout=TIMEOUT)
    path = policy.save_state("step-1").result(timeout=TIMEOUT).path
    saved = emu.weights("cookbook")
    resumed = service.create_training_client_from_state_with_optimizer(path)
    assert np.array_equal(emu.weights("cookbook"), saved)  # the new model holds the state
    assert resumed.model_id != policy.model_id


def test_35_36_the_service_is_the_checkpoint_lister(service: FiretitanServiceClient) -> None:
    assert service.trainer_job_id == "cookbook"
    service.release_references()
    service.close()
    service.close()  # idempotent


def test_42_forward_reference_logprobs(policy: FiretitanTrainingClient) -> None:
    result = policy.forward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    logprobs = result.loss_fn_outputs[0]["logprobs"]
    assert len(logprobs.data) == len(batch()[0].loss_fn_inputs["target_tokens"].data)
    assert all(lp < 0 for lp in logprobs.data)
    assert logprobs.to_numpy().shape == (len(logprobs.data),)  # to_torch() with torch installed


def test_43_forward_backward_with_a_loss_config(policy: FiretitanTrainingClient) -> None:
    result = policy.forward_backward(batch(), "cross_entropy", loss_fn_config={}).result(
        timeout=TIMEOUT
    )
    assert result.metrics["loss:sum"] > 0


def test_44_a_loss_the_trainer_does_not_know_comes_back_typed(
    policy: FiretitanTrainingClient,
) -> None:
    # The emulator's model only knows cross_entropy: the call form is sent as written.
    with pytest.raises(RequestFailedError, match="importance_sampling") as caught:
        policy.forward_backward(batch(), "importance_sampling").result()
    assert caught.value.category == "user"


def test_45_46_custom_loss_metrics(policy: FiretitanTrainingClient) -> None:
    torch = pytest.importorskip("torch")

    def dpo_like(data: list[Any], logprobs: list[Any]) -> tuple[Any, dict[str, float]]:
        loss = -torch.nn.functional.logsigmoid(torch.stack([lp.sum() for lp in logprobs])).sum()
        return loss, {"dpo_loss": float(loss.detach()), "margin": 0.0}

    fb = policy.forward_backward_custom(batch(), dpo_like).result(timeout=TIMEOUT)  # 45
    metrics = getattr(fb, "metrics", None) or {}
    assert metrics.get("dpo_loss", 0) > 0
    assert "margin" in metrics
    fb = policy.forward_backward_custom(batch(1), loss_fn=dpo_like)  # 46: keyword
    if hasattr(fb, "result"):
        fb = fb.result()
    assert "dpo_loss" in fb.metrics


def test_47_48_embedding_losses_are_refused(policy: FiretitanTrainingClient) -> None:
    with pytest.raises(NotImplementedError, match="embedding"):
        policy.forward_backward_custom(
            batch(), lambda d, e: None, output="embedding", pooling="last"
        )
    with pytest.raises(NotImplementedError, match="contrastive"):
        policy.forward_backward_contrastive(batch(), num_queries=1, temperature=0.05)


def test_49_50_51_optimizer_steps_pipelined(policy: FiretitanTrainingClient) -> None:
    fb = policy.forward_backward(batch(), loss_fn="cross_entropy")  # 51: submitted back to back
    opt = policy.optim_step(
        ADAM, grad_accumulation_normalization=GradAccNormalization("num_loss_tokens")
    )
    assert fb.result(timeout=TIMEOUT).metrics.get("loss:sum", 0.0) > 0
    optim_result = opt.result(timeout=TIMEOUT)
    assert hasattr(optim_result, "metrics")
    assert optim_result.metrics is not None
    policy.forward_backward(batch(1)).result(timeout=TIMEOUT)
    again = policy.optim_step(  # 50: a plain string and grad-norm metrics
        ADAM, grad_accumulation_normalization="num_sequences", emit_grad_norm_metrics=True
    ).result(timeout=TIMEOUT)
    assert again.metrics is not None
    assert policy.optim_step(ADAM).result().metrics is not None  # 49


def test_52_53_54_save_and_load_state(policy: FiretitanTrainingClient, emu: Emulator) -> None:
    saved = policy.save_state("step-2").result(timeout=TIMEOUT)  # 52
    assert getattr(saved, "path", None)
    weights = emu.weights("cookbook")
    policy.forward_backward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    policy.optim_step(ADAM).result(timeout=TIMEOUT)
    policy.load_state("step-2").result(timeout=TIMEOUT)  # 53
    assert np.array_equal(emu.weights("cookbook"), weights)
    ref = policy.resolve_checkpoint_path("step-2", source_job_id="cookbook")  # 54
    assert ref == "cross_job://cookbook/step-2"
    assert policy.resolve_checkpoint_path("step-2") == "step-2"
    policy.load_state_with_optimizer(ref).result(timeout=TIMEOUT)
    assert np.array_equal(emu.weights("cookbook"), weights)


def test_55_list_checkpoints(policy: FiretitanTrainingClient) -> None:
    policy.save_state("step-2").result(timeout=TIMEOUT)
    policy.save_state("step-4").result(timeout=TIMEOUT)
    names = policy.list_checkpoints()
    assert isinstance(names, list)
    assert {"step-2", "step-4"} <= set(names)


def test_57_58_59_sampler_saves(policy: FiretitanTrainingClient) -> None:
    path = policy.save_weights_for_sampler("step-1").result().path  # 57
    assert path.endswith(f"step-1-{policy.session_id}")
    saved = policy.save_weights_for_sampler(  # 58: the keywords the wrapper always passes
        "step-2", ttl_seconds=None, checkpoint_type="base"
    ).result(timeout=TIMEOUT)
    assert saved.path
    result = policy.save_weights_for_sampler_ext("step-3", checkpoint_type="base")  # 59
    assert result.snapshot_name == f"step-3-{policy.session_id}"
    assert result.path.startswith(result.snapshot_name) or result.path.endswith(
        result.snapshot_name
    )


def test_59_merged_base_on_lora(lora_service: FiretitanServiceClient) -> None:
    client = lora_service.create_lora_training_client(BASE, rank=8)
    saved = client.save_weights_for_sampler_ext("merged", checkpoint_type="merged_base")
    assert saved.snapshot_name.startswith("merged-")


def test_60_61_attributes_and_imports(policy: FiretitanTrainingClient) -> None:
    assert getattr(policy, "run_id", None) is None
    assert GradAccNormalization.NUM_LOSS_TOKENS == "num_loss_tokens"
    assert {m.name for m in GradAccNormalization} == {"NUM_LOSS_TOKENS", "NUM_SEQUENCES", "NONE"}


def test_the_checkpoint_manager_flow_with_the_service_as_lister(
    service: FiretitanServiceClient, policy: FiretitanTrainingClient, emu: Emulator
) -> None:
    # What the cookbook's TrainingCheckpoints does with (policy, service): save, list, resume
    # from the newest resumable row, promote the final sampler save by its 4-segment name.
    job = service.trainer_job_id
    for step in (2, 4):
        policy.forward_backward(batch(step), "cross_entropy").result(timeout=TIMEOUT)
        policy.optim_step(ADAM).result(timeout=TIMEOUT)
        policy.save_state(f"step-{step}").result(timeout=TIMEOUT)
    policy.save_weights_for_sampler("step-4", checkpoint_type="base").result(timeout=TIMEOUT)

    rows = service.list_checkpoints(job)
    resumable = [
        r for r in rows if r.get("checkpointType", "").endswith(("TRAINING", "TRAINING_LORA"))
    ]
    newest = max(resumable, key=lambda r: r.get("createTime", ""))
    logical = re.sub(r"-[0-9a-f]{8}$", "", newest.get("name", "").rsplit("/", 1)[-1])
    assert logical == "step-4"
    path = policy.resolve_checkpoint_path(logical, source_job_id=None)
    policy.load_state_with_optimizer(path).result(timeout=TIMEOUT)

    promotable = [r for r in rows if r.get("promotable")]
    model = service.promote_checkpoint(
        name=promotable[-1]["name"],
        output_model_id="cookbook-final",
        base_model=BASE,
        hot_load_deployment_id=None,
    )
    assert model.get("name") == f"accounts/{emu.account_id}/models/cookbook-final"
    assert model.get("state") == "READY"
