"""Server capabilities, ``unload_model`` and ``load_adapter`` on the trainer API."""

from __future__ import annotations

import httpx
import numpy as np

from fireworks_training.emulator import Emulator
from fireworks_training.emulator.catalog import BaseModelSpec

from .kit import BASE_MODEL, Trainer, datum, promote_body

FB = {"forward_backward_input": {"data": [datum()], "loss_fn": "cross_entropy"}}
OTHER_MODEL = "accounts/emulator/models/other-bigram"


def _unload(
    trainer: Trainer, model_id: str | None = None, key: str | None = None
) -> httpx.Response:
    body = {"model_id": model_id or trainer.model_id, "type": "unload_model"}
    headers = {"X-Idempotency-Key": key} if key else None
    return trainer.http.post(trainer.api("unload_model"), json=body, headers=headers)


# -- get_server_capabilities ---------------------------------------------------------------


def test_capabilities_list_the_catalog_base_models(emu: Emulator, trainer: Trainer) -> None:
    emu.settings.add_base_model(BaseModelSpec(OTHER_MODEL, context_length=2048))
    response = trainer.http.get(trainer.api("get_server_capabilities"))
    assert response.status_code == 200
    assert response.json() == {
        "supported_models": [
            {"model_name": BASE_MODEL, "max_context_length": 4096},
            {"model_name": OTHER_MODEL, "max_context_length": 2048},
        ]
    }


def test_capabilities_add_a_job_base_model_the_catalog_does_not_name(
    emu: Emulator, http: httpx.Client
) -> None:
    job = emu.create_trainer_job(base_model="accounts/someone/models/private-bigram")
    reply = http.get(f"{emu.trainer_url(job)}/api/v1/get_server_capabilities").json()
    names = [m["model_name"] for m in reply["supported_models"]]
    assert names == [BASE_MODEL, "accounts/someone/models/private-bigram"]


def test_capabilities_of_an_unknown_job_are_404(emu: Emulator, http: httpx.Client) -> None:
    response = http.get(f"{emu.trainer_url('no-such-job')}/api/v1/get_server_capabilities")
    assert response.status_code == 404


# -- unload_model -----------------------------------------------------------------------------


def test_unload_answers_a_future_then_later_ops_are_404(trainer: Trainer) -> None:
    trainer.forward_backward()
    submitted = _unload(trainer)
    assert submitted.status_code == 200
    assert submitted.json()["model_id"] == trainer.model_id
    result = trainer.wait(submitted.json()["request_id"])
    assert result == {"type": "unload_model", "model_id": trainer.model_id}

    refused = trainer.http.post(
        trainer.api("forward_backward"), json={"model_id": trainer.model_id, "seq_id": 2, **FB}
    )
    assert refused.status_code == 404
    error = refused.json()["error"]
    assert error["status"] == "NOT_FOUND"
    assert "is not loaded: it was unloaded" in error["message"]


def test_results_of_ops_that_ran_survive_the_unload(trainer: Trainer) -> None:
    first = trainer.submit("forward_backward", FB)
    assert _unload(trainer).status_code == 200
    assert "loss:sum" in trainer.wait(first)["metrics"]


def test_an_op_waiting_for_a_gap_fails_when_the_model_is_unloaded(trainer: Trainer) -> None:
    waiting = trainer.submit("forward_backward", FB, seq=2)  # seq 1 never comes
    assert trainer.poll(waiting).json()["type"] == "try_again"
    assert _unload(trainer).status_code == 200
    failed = trainer.wait(waiting)
    assert failed["category"] == "user"
    assert "was unloaded" in failed["error"]


def test_unloading_twice_answers_again(trainer: Trainer) -> None:
    first = _unload(trainer).json()["request_id"]
    second = _unload(trainer).json()["request_id"]
    assert second != first
    assert trainer.wait(second) == {"type": "unload_model", "model_id": trainer.model_id}


def test_a_resent_unload_answers_the_original_request(trainer: Trainer) -> None:
    first = _unload(trainer, key="unload-1").json()["request_id"]
    assert _unload(trainer, key="unload-1").json()["request_id"] == first


def test_unloading_an_unknown_model_is_404(trainer: Trainer) -> None:
    response = _unload(trainer, model_id="model-nope")
    assert response.status_code == 404
    assert "not found on this trainer" in response.json()["error"]["message"]


def test_a_new_model_trains_after_an_unload(emu: Emulator, trainer: Trainer, job: str) -> None:
    old = trainer.model_id
    assert _unload(trainer).status_code == 200
    trainer.attach()
    assert trainer.model_id != old
    assert trainer.train_step() > 0
    assert emu.weights_digest(job)


# -- load_adapter -----------------------------------------------------------------------------


def _lora(emu: Emulator, http: httpx.Client, rank: int = 4) -> tuple[str, Trainer]:
    job = emu.create_trainer_job(lora_rank=rank)
    return job, Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=rank)


def _trained_adapter(emu: Emulator, http: httpx.Client) -> tuple[str, Trainer, str]:
    """A LoRA job trained a few steps and its adapter sampler save's name."""
    job, source = _lora(emu, http)
    for _ in range(3):
        source.train_step(lr=0.05)
    saved = source.save_sampler("adapter")
    return job, source, str(saved["path"])


def _loss(trainer: Trainer) -> float:
    return float(
        trainer.run("forward", {"forward_input": FB["forward_backward_input"]})["metrics"][
            "loss:sum"
        ]
    )


def test_load_adapter_restores_the_saved_adapter_weights(emu: Emulator, http: httpx.Client) -> None:
    job, source, name = _trained_adapter(emu, http)
    target_job, target = _lora(emu, http)
    fresh = _loss(target)
    result = target.run("load_adapter", {"adapter_path": f"cross_job://{job}/{name}"})
    assert result == {
        "type": "load_adapter",
        "model_id": target.model_id,
        "adapter_path": f"cross_job://{job}/{name}",
    }
    # The adapter went through bf16, so the losses agree to bf16 precision, not exactly.
    assert np.isclose(_loss(target), _loss(source), rtol=1e-2)
    assert _loss(target) < fresh
    assert np.allclose(emu.weights(target_job), emu.weights(job), atol=1e-3)


def test_load_adapter_takes_a_name_in_the_same_job_and_a_row_name(
    emu: Emulator, http: httpx.Client
) -> None:
    job, source, name = _trained_adapter(emu, http)
    assert source.run("load_adapter", {"adapter_path": name})["adapter_path"] == name
    row = f"accounts/{emu.account_id}/rlorTrainerJobs/{job}/checkpoints/{name}"
    _, target = _lora(emu, http)
    assert target.run("load_adapter", {"adapter_path": row})["model_id"] == target.model_id


def test_load_adapter_takes_a_promoted_lora_model(emu: Emulator, http: httpx.Client) -> None:
    job, source, name = _trained_adapter(emu, http)
    promoted = http.post(
        f"/v1/accounts/{emu.account_id}/checkpoints/{name}:promote",
        json=promote_body(emu.account_id, job, "my-adapter"),
    )
    assert promoted.status_code == 200, promoted.text
    _, target = _lora(emu, http)
    model = f"accounts/{emu.account_id}/models/my-adapter"
    assert target.run("load_adapter", {"adapter_path": model})["adapter_path"] == model
    assert np.isclose(_loss(target), _loss(source), rtol=1e-2)


def test_load_adapter_of_an_unknown_path_fails_the_future(
    emu: Emulator, http: httpx.Client
) -> None:
    _, target = _lora(emu, http)
    for path in ("no-such-adapter", "cross_job://nope/x", "gs://bucket/adapter", OTHER_MODEL):
        failed = target.run("load_adapter", {"adapter_path": path})
        assert failed["category"] == "user", path
        assert "not found" in failed["error"], path


def test_load_adapter_refuses_a_state_a_full_model_and_another_rank(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    lora_job, source, name = _trained_adapter(emu, http)
    source.save_state("state")
    assert "not a LoRA adapter" in source.run("load_adapter", {"adapter_path": "state"})["error"]
    full = trainer.run("load_adapter", {"adapter_path": f"cross_job://{lora_job}/{name}"})
    assert "needs a LoRA model" in full["error"]
    _, rank8 = _lora(emu, http, rank=8)
    other = rank8.run("load_adapter", {"adapter_path": f"cross_job://{lora_job}/{name}"})
    assert "lora_rank=4" in other["error"]
