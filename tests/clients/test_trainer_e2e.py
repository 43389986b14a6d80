"""End to end against the emulator: train, save, resume elsewhere, same final weights."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tinker

from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.demo import make_batch
from fireworks_training.errors import RequestFailedError

emulator_server = pytest.importorskip("fireworks_training.emulator.server")

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
ADAM = tinker.types.AdamParams(learning_rate=1e-2)


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with emulator_server.Emulator(long_poll_seconds=1.0) as emulator:
        yield emulator


def batch(step: int) -> list[tinker.types.Datum]:
    """A deterministic batch per step, so two runs see the same data."""
    data = []
    for k in range(4):
        tokens = [(step * 31 + k * 7 + i * 13) % 256 for i in range(9)]
        data.append(
            tinker.types.Datum(
                model_input=tinker.types.ModelInput.from_ints(tokens[:-1]),
                loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * 8},
            )
        )
    return data


def train(client: FiretitanTrainingClient, steps: range, *, save_every: int = 0) -> None:
    """Queue every op without waiting; read the results at the end."""
    futures: list[Any] = []
    for step in steps:
        futures.append(client.forward_backward(batch(step)))
        futures.append(client.optim_step(ADAM))
        if save_every and step % save_every == 0:
            futures.append(client.save_state(f"step-{step}"))
    for future in futures:
        future.result(timeout=60)


def row_types(emu: Any, job: str) -> dict[str, str]:
    url = f"{emu.base_url}/v1/accounts/{emu.account_id}/rlorTrainerJobs/{job}/checkpoints"
    reply = httpx.get(url, headers={"X-Api-Key": emu.api_key}, params={"pageSize": 200})
    reply.raise_for_status()
    return {r["name"].rsplit("/", 1)[1]: r["checkpointType"] for r in reply.json()["checkpoints"]}


def test_resume_from_step_5_reaches_the_same_weights(emu: Any) -> None:
    job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        client = service.create_training_client(BASE_MODEL, lora_rank=0)
        train(client, range(1, 6), save_every=5)
        first = client.save_weights_for_sampler_ext("sampler-5")
        train(client, range(6, 11), save_every=5)
        second = client.save_weights_for_sampler("sampler-10").result()
        assert client.list_checkpoints() == ["step-5", "step-10"]
    uninterrupted = emu.weights_digest(job)
    sid = client.session_id
    assert first.snapshot_name == f"sampler-5-{sid}"
    assert second.path == f"sampler-10-{sid}"  # the snapshot identity
    types = row_types(emu, job)
    assert types[f"sampler-5-{sid}"] == "CHECKPOINT_TYPE_INFERENCE_BASE"
    assert types[f"sampler-10-{sid}"] == "CHECKPOINT_TYPE_INFERENCE_ARC_V2"  # delta
    assert types["step-5"] == "CHECKPOINT_TYPE_TRAINING"

    other = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
    with FiretitanServiceClient(emu.trainer_url(other), api_key=emu.api_key) as service:
        resumed = service.create_training_client(BASE_MODEL)
        reference = resumed.resolve_checkpoint_path("step-5", source_job_id=job)
        resumed.load_state_with_optimizer(reference).result(timeout=60)
        train(resumed, range(6, 11))
    assert emu.weights_digest(other) == uninterrupted

    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        fresh_optimizer = service.create_training_client(BASE_MODEL)
        fresh_optimizer.load_state("step-5").result(timeout=60)
        train(fresh_optimizer, range(6, 11))
    assert emu.weights_digest(job) != uninterrupted  # Adam moments matter


def test_lora_sampler_saves_are_always_base(emu: Any) -> None:
    job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=4)
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        client = service.create_training_client(BASE_MODEL, lora_rank=4)
        train(client, range(1, 3))
        names = [client.save_weights_for_sampler_ext(f"s{i}").snapshot_name for i in range(2)]
    types = row_types(emu, job)
    assert [types[n] for n in names] == ["CHECKPOINT_TYPE_INFERENCE_LORA"] * 2


def test_user_errors_come_back_typed(emu: Any) -> None:
    job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        client = service.create_training_client(BASE_MODEL)
        with pytest.raises(RequestFailedError) as caught:
            client.load_state_with_optimizer("never-saved").result(timeout=60)
        assert caught.value.category == "user"
        assert client.save_state("after").result(timeout=60).path.endswith("/after")


def test_training_checkpoints_with_the_service_as_control_client(emu: Any, tmp_path: Any) -> None:
    # "Recipes pass the SDK-managed service client as the control-plane checkpoint client."
    job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
    log_path = tmp_path / "run"
    with FiretitanServiceClient(base_url=emu.trainer_url(job), api_key=emu.api_key) as service:
        trainer = service.create_training_client(BASE_MODEL)
        ckpt = TrainingCheckpoints(
            trainer,
            service,
            trainer_job_id=service.trainer_job_id,
            log_path=log_path,
            dcp_save_interval=2,
            output_model_id="from-service",
        )
        for step in range(1, 5):
            trainer.forward_backward(make_batch(step)).result(timeout=60)
            trainer.optim_step(ADAM).result(timeout=60)
            ckpt.maybe_save(step, step * 4)
        model = ckpt.finish(4, 16)
        assert model is not None
        assert model["name"].endswith("/models/from-service")
    with FiretitanServiceClient(base_url=emu.trainer_url(job), api_key=emu.api_key) as service:
        resumed = TrainingCheckpoints(
            service.create_training_client(BASE_MODEL),
            service,
            trainer_job_id=job,
            log_path=log_path,
        ).resume()
    assert resumed is not None
    assert (resumed.step, resumed.data_consumed) == (4, 16)
