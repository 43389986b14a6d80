"""The SDK's server capabilities, ``unload_model`` and ``load_adapter`` against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import tinker

from fireworks_training.client import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.emulator import Emulator
from fireworks_training.errors import FireworksError, RequestFailedError

BASE = "accounts/fireworks/models/tiny-bigram"
RANK = 4
TIMEOUT = 60
ADAM = tinker.AdamParams(learning_rate=0.05, beta1=0.9, beta2=0.95, eps=1e-8)


def batch() -> list[tinker.Datum]:
    text = list(b"a datum to train the adapter on")
    return [
        tinker.Datum(
            model_input=tinker.ModelInput.from_ints(text[:-1]),
            loss_fn_inputs={"target_tokens": text[1:], "weights": [1.0] * (len(text) - 1)},
        )
    ]


def loss(training: FiretitanTrainingClient) -> float:
    out = training.forward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    return float(out.metrics["loss:sum"])


@pytest.fixture
def service(fireworks_emulator: Emulator) -> Iterator[FiretitanServiceClient]:
    job = fireworks_emulator.create_trainer_job(job_id="lifecycle", lora_rank=RANK)
    with FiretitanServiceClient(
        base_url=fireworks_emulator.trainer_url(job), api_key=fireworks_emulator.api_key
    ) as svc:
        yield svc


def test_server_capabilities_list_the_emulator_models(
    fireworks_emulator: Emulator, service: FiretitanServiceClient
) -> None:
    capabilities = service.get_server_capabilities()
    assert isinstance(capabilities, tinker.types.GetServerCapabilitiesResponse)
    names = [m.model_name for m in capabilities.supported_models]
    assert names == [spec.name for spec in fireworks_emulator.settings.base_models]
    assert BASE in names


def test_unload_then_forward_backward_is_refused(service: FiretitanServiceClient) -> None:
    training = service.create_lora_training_client(base_model=BASE, rank=RANK)
    pending = training.forward_backward(batch(), "cross_entropy")
    unloaded = training.unload_model().result(timeout=TIMEOUT)
    assert unloaded.model_id == training.model_id
    assert pending.result(timeout=TIMEOUT).metrics["loss:sum"] > 0  # finished before the unload
    with pytest.raises(FireworksError) as refused:
        training.forward_backward(batch(), "cross_entropy")
    assert "\n" not in str(refused.value)
    assert "unloaded" in str(refused.value)


def test_load_adapter_restores_a_saved_adapter(service: FiretitanServiceClient) -> None:
    source = service.create_lora_training_client(base_model=BASE, rank=RANK)
    for _ in range(3):
        source.forward_backward(batch(), "cross_entropy")
        source.optim_step(ADAM)
    saved = source.save_weights_for_sampler("adapter").result(timeout=TIMEOUT)
    target = service.create_lora_training_client(base_model=BASE, rank=RANK)
    fresh = loss(target)
    loaded = target.load_adapter(saved.path).result(timeout=TIMEOUT)
    assert loaded.model_id == target.model_id
    assert loaded.adapter_path == saved.path
    assert loss(target) < fresh
    assert np.isclose(loss(target), loss(source), rtol=1e-2)


def test_load_adapter_of_an_unknown_path_fails_its_future(
    service: FiretitanServiceClient,
) -> None:
    training = service.create_lora_training_client(base_model=BASE, rank=RANK)
    with pytest.raises(RequestFailedError, match="not found"):
        training.load_adapter("no-such-adapter").result(timeout=TIMEOUT)
