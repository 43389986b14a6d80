"""Promotion: validation, sync and long-running modes, legacy servers, models."""

from __future__ import annotations

import shutil

import httpx
import pytest

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, Trainer, promote_body

PROMOTE = "/v1/accounts/emulator/checkpoints/{}:promote"


@pytest.fixture
def sampler(trainer: Trainer) -> str:
    trainer.train_step()
    trainer.save_sampler("final")
    return f"final-{trainer.session_id}"


def _promote(
    http: httpx.Client, checkpoint: str, job: str, model: str, **extra: object
) -> httpx.Response:
    return http.post(PROMOTE.format(checkpoint), json=promote_body("emulator", job, model, **extra))


def test_sync_promotion_answers_the_model(http: httpx.Client, job: str, sampler: str) -> None:
    response = _promote(http, sampler, job, "my-model", async_promotion=True)
    assert response.status_code == 200
    model = response.json()["model"]
    assert model["name"] == "accounts/emulator/models/my-model"
    assert model["state"] == "READY"
    assert model["kind"] == "HF_BASE_MODEL"
    assert (
        model["sourceCheckpoint"]
        == f"accounts/emulator/rlorTrainerJobs/{job}/checkpoints/{sampler}"
    )
    assert "createTime" in model
    assert http.get("/v1/accounts/emulator/models/my-model").json() == model


def test_async_promotion_is_a_long_running_operation(
    emu: Emulator, http: httpx.Client, job: str, sampler: str
) -> None:
    emu.set_promotion_mode("async", seconds=30.0)
    response = _promote(http, sampler, job, "slow-model", async_promotion=True)
    operation = response.json()["operation"]
    assert operation["name"].startswith("accounts/emulator/operations/")
    assert operation["done"] is False
    assert operation["metadata"]["statusMessage"]
    assert http.get("/v1/accounts/emulator/models/slow-model").json()["state"] == "UPLOADING"
    assert http.get(f"/v1/{operation['name']}").json()["done"] is False
    emu.advance_time(31)
    finished = http.get(f"/v1/{operation['name']}").json()
    assert finished["done"] is True
    assert finished["response"]["@type"].endswith("Model")
    assert finished["response"]["state"] == "READY"
    assert finished["response"]["name"] == "accounts/emulator/models/slow-model"


def test_async_mode_without_the_opt_in_stays_sync(
    emu: Emulator, http: httpx.Client, job: str, sampler: str
) -> None:
    emu.set_promotion_mode("async")
    assert "model" in _promote(http, sampler, job, "plain").json()


def test_legacy_server_rejects_the_opt_in_by_name(
    emu: Emulator, http: httpx.Client, job: str, sampler: str
) -> None:
    emu.set_legacy_async_promotion(True)
    rejected = _promote(http, sampler, job, "legacy", async_promotion=True)
    assert rejected.status_code == 400
    assert "async_promotion" in rejected.json()["error"]["message"]
    assert _promote(http, sampler, job, "legacy").status_code == 200


def test_lora_promotion_is_a_peft_addon(emu: Emulator, http: httpx.Client) -> None:
    job = emu.create_trainer_job(lora_rank=4)
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=4)
    trainer.save_sampler("adapter")
    model = _promote(http, f"adapter-{trainer.session_id}", job, "lora-model").json()["model"]
    assert model["kind"] == "HF_PEFT_ADDON"
    assert model["peftDetails"]["baseModel"] == BASE_MODEL
    assert model["peftDetails"]["r"] == 4
    assert model["peftDetails"]["targetModules"]


@pytest.mark.parametrize("model_id", ["Upper", "under_score", "x" * 64, ""])
def test_invalid_output_model_is_400(
    http: httpx.Client, job: str, sampler: str, model_id: str
) -> None:
    response = _promote(http, sampler, job, model_id)
    assert response.status_code == 400


def test_unknown_checkpoint_is_404(http: httpx.Client, job: str) -> None:
    response = _promote(http, "missing", job, "m")
    assert response.status_code == 404
    assert response.json()["error"]["details"][0]["reason"] == "CHECKPOINT_NOT_FOUND"


def test_unknown_job_is_404(http: httpx.Client, sampler: str) -> None:
    assert _promote(http, sampler, "no-job", "m").status_code == 404


def test_unpromotable_checkpoint_is_400_with_reason(
    http: httpx.Client, trainer: Trainer, job: str
) -> None:
    trainer.save_state("state-only")
    response = _promote(http, "state-only", job, "m")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["details"][0]["reason"] == "CHECKPOINT_NOT_PROMOTABLE"
    assert "not promotable" in error["message"]


def test_taken_output_model_is_409(http: httpx.Client, job: str, sampler: str) -> None:
    assert _promote(http, sampler, job, "taken").status_code == 200
    again = _promote(http, sampler, job, "taken")
    assert again.status_code == 409
    assert again.json()["error"]["details"][0]["reason"] == "MODEL_ALREADY_EXISTS"


def test_unknown_fields_are_rejected(http: httpx.Client, job: str, sampler: str) -> None:
    response = _promote(http, sampler, job, "m", outputModel="camel")
    assert response.status_code == 400
    assert "outputModel" in response.json()["error"]["message"]


def test_promotion_works_after_the_job_is_deleted(
    http: httpx.Client, job: str, sampler: str
) -> None:
    http.delete(f"/v1/accounts/emulator/rlorTrainerJobs/{job}").raise_for_status()
    assert _promote(http, sampler, job, "after-delete").status_code == 200


def test_unknown_model_and_operation_are_404(http: httpx.Client) -> None:
    assert http.get("/v1/accounts/emulator/models/none").status_code == 404
    assert http.get("/v1/accounts/emulator/operations/none").status_code == 404


def test_hot_load_deployment_is_accepted(http: httpx.Client, job: str, sampler: str) -> None:
    extra = {"hot_load_deployment_id": "accounts/emulator/deployments/d1"}
    assert _promote(http, sampler, job, "hot", **extra).status_code == 200


def _assert_not_promoted(emu: Emulator, http: httpx.Client, response: httpx.Response) -> None:
    assert response.status_code == 500
    error = response.json()["error"]
    assert "no model was created" in error["message"]
    assert error["details"][0]["reason"] == "PROMOTION_FAILED"
    assert http.get("/v1/accounts/emulator/models/kept").status_code == 404
    assert not (emu.state_dir / "models" / "kept.ckpt").exists()


def test_a_promoted_model_holds_a_verified_copy_of_the_weights(
    emu: Emulator, http: httpx.Client, job: str, sampler: str
) -> None:
    assert _promote(http, sampler, job, "kept").status_code == 200
    copied = (emu.state_dir / "models" / "kept.ckpt").read_bytes()
    assert copied == (emu.state_dir / "checkpoints" / job / f"{sampler}.ckpt").read_bytes()
    assert not list((emu.state_dir / "models").glob("*.staging"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_promotion_without_the_stored_weights_creates_no_model(
    emu: Emulator, http: httpx.Client, job: str, sampler: str, mode: str
) -> None:
    emu.set_promotion_mode(mode, seconds=5)
    (emu.state_dir / "checkpoints" / job / f"{sampler}.ckpt").unlink()
    _assert_not_promoted(emu, http, _promote(http, sampler, job, "kept", async_promotion=True))
    # Nothing half-made blocks a retry: it fails the same way, never with 409.
    _assert_not_promoted(emu, http, _promote(http, sampler, job, "kept", async_promotion=True))


def test_promotion_with_the_state_dir_deleted_creates_no_model(
    emu: Emulator, http: httpx.Client, job: str, sampler: str
) -> None:
    shutil.rmtree(emu.state_dir)
    _assert_not_promoted(emu, http, _promote(http, sampler, job, "kept"))


def test_a_promotion_that_cannot_be_recorded_is_undone(
    emu: Emulator, http: httpx.Client, job: str, sampler: str
) -> None:
    blocker = emu.state_dir / "control.json.tmp"
    blocker.mkdir()  # the store's atomic rewrite cannot create its temporary file
    _assert_not_promoted(emu, http, _promote(http, sampler, job, "kept"))
    blocker.rmdir()
    promoted = _promote(http, sampler, job, "kept")
    assert promoted.status_code == 200
    assert promoted.json()["model"]["state"] == "READY"
