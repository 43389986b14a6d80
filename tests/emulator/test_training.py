"""Real training math: shapes, learning, user errors, determinism across save/load."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, TEXT, Trainer, datum


def test_forward_backward_result_shape(trainer: Trainer) -> None:
    result = trainer.forward_backward(datum())
    assert result["loss_fn_output_type"]
    (output,) = result["loss_fn_outputs"]
    logprobs = output["logprobs"]
    assert logprobs["dtype"] == "float32"
    assert logprobs["shape"] == [len(TEXT) - 1]
    assert all(x < 0 for x in logprobs["data"])
    assert result["metrics"]["loss:sum"] == pytest.approx(-sum(logprobs["data"]), rel=1e-5)


def test_weights_scale_the_loss(trainer: Trainer) -> None:
    n = len(TEXT) - 1
    full = trainer.forward_backward(datum())["metrics"]["loss:sum"]
    half = trainer.forward_backward(datum(weights=[0.5] * n))["metrics"]["loss:sum"]
    assert half == pytest.approx(full / 2, rel=1e-5)


def test_optim_step_reports_metrics_and_training_lowers_the_loss(trainer: Trainer) -> None:
    losses = [trainer.train_step(lr=5e-2) for _ in range(5)]
    assert losses[-1] < losses[0]
    metrics = trainer.optim_step()["metrics"]
    assert metrics["step"] == 6


@pytest.mark.parametrize(
    "bad",
    [
        {"model_input": {"chunks": [{"type": "encoded_text", "tokens": [1, 256]}]},
         "loss_fn_inputs": {"target_tokens": {"data": [1, 2], "dtype": "int64", "shape": [2]}}},
        {"model_input": {"chunks": [{"type": "encoded_text", "tokens": [1, 2]}]},
         "loss_fn_inputs": {"target_tokens": {"data": [1], "dtype": "int64", "shape": [1]}}},
        {"model_input": {"chunks": []}, "loss_fn_inputs": {}},
        {"model_input": {"chunks": [{"type": "encoded_text", "tokens": [1]}]},
         "loss_fn_inputs": {"target_tokens": {"data": ["x"], "dtype": "int64", "shape": [1]}}},
        "not a datum",
    ],
)  # fmt: skip
def test_malformed_data_is_a_user_error(trainer: Trainer, bad: object) -> None:
    fb_input = {"data": [bad], "loss_fn": "cross_entropy"}
    result = trainer.run("forward_backward", {"forward_backward_input": fb_input})
    assert result["category"] == "user"
    assert result["error"]


def test_unsupported_loss_is_a_user_error(trainer: Trainer) -> None:
    fb_input = {"data": [datum()], "loss_fn": "ppo"}
    result = trainer.run("forward_backward", {"forward_backward_input": fb_input})
    assert result["category"] == "user"


def _run(trainer: Trainer, steps: range) -> None:
    for i in steps:
        trainer.train_step(TEXT[i:] + TEXT[:i], lr=2e-2)


def test_resume_with_optimizer_is_bit_identical(emu: Emulator, http: httpx.Client) -> None:
    straight = emu.create_trainer_job(job_id="straight")
    t1 = Trainer.start(http, emu.trainer_url(straight), emu.account_id)
    _run(t1, range(6))
    uninterrupted = emu.weights_digest(straight)

    resumed = emu.create_trainer_job(job_id="resumed")
    t2 = Trainer.start(http, emu.trainer_url(resumed), emu.account_id)
    _run(t2, range(3))
    t2.save_state("step-3")
    emu.preempt(resumed)
    assert http.post(f"/v1/accounts/emulator/rlorTrainerJobs/{resumed}:resume").is_success
    t2.attach()
    assert emu.weights_digest(resumed) != emu.weights_digest(straight)
    assert t2.load_state("step-3", optimizer=True) == {"type": "load_weights", "path": "step-3"}
    _run(t2, range(3, 6))
    assert emu.weights_digest(resumed) == uninterrupted

    reset = emu.create_trainer_job(job_id="reset")
    t3 = Trainer.start(http, emu.trainer_url(reset), emu.account_id)
    t3.load_state("cross_job://resumed/step-3", optimizer=False)
    _run(t3, range(3, 6))
    assert emu.weights_digest(reset) != uninterrupted
    diff = np.abs(emu.weights(reset) - emu.weights(straight)).max()
    assert diff > 1e-4  # measurably different, not rounding noise


def test_lora_trains_the_adapter_only(emu: Emulator, http: httpx.Client) -> None:
    job = emu.create_trainer_job(lora_rank=4)
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=4)
    before = emu.weights(job)
    trainer.train_step(lr=5e-2)
    trainer.train_step(lr=5e-2)
    after = emu.weights(job)
    assert after.dtype == np.float32
    assert after.shape == (256, 256)
    assert not np.array_equal(before, after)
    assert np.linalg.matrix_rank((after - before).astype(np.float64), tol=1e-6) <= 4


def test_create_model_must_match_the_job(emu: Emulator, http: httpx.Client, job: str) -> None:
    trainer = Trainer(http, emu.trainer_url(job), emu.account_id)
    assert trainer.attach(lora_rank=8)["category"] == "user"
    assert trainer.attach(base="accounts/fireworks/models/other")["category"] == "user"
    assert "model_id" in trainer.attach()


def test_create_model_reinitialises_from_the_base(
    emu: Emulator, trainer: Trainer, job: str
) -> None:
    initial = emu.weights_digest(job)
    trainer.train_step()
    assert emu.weights_digest(job) != initial
    trainer.attach()
    assert emu.weights_digest(job) == initial


def test_loading_a_sampler_checkpoint_is_a_user_error(trainer: Trainer) -> None:
    trainer.save_sampler("final")
    result = trainer.load_state(f"final-{trainer.session_id}", optimizer=True)
    assert result["category"] == "user"
    assert "can only load state checkpoints" in result["error"]


@pytest.mark.parametrize("path", ["never-saved", "cross_job://no-such-job/x", "../etc", ""])
def test_loading_an_unknown_path_is_a_user_error(trainer: Trainer, path: str) -> None:
    assert trainer.load_state(path, optimizer=False)["category"] == "user"


def test_rank_mismatch_on_load_is_a_user_error(
    emu: Emulator, http: httpx.Client, trainer: Trainer
) -> None:
    trainer.save_state("full-state")
    lora_job = emu.create_trainer_job(lora_rank=2)
    lora = Trainer.start(http, emu.trainer_url(lora_job), emu.account_id, lora_rank=2)
    result = lora.load_state("cross_job://job-full/full-state", optimizer=True)
    assert result["category"] == "user"


def test_session_heartbeat(trainer: Trainer) -> None:
    ok = trainer.http.post(
        trainer.api("session_heartbeat"),
        json={"session_id": trainer.session_id, "type": "session_heartbeat"},
    )
    assert ok.status_code == 200
    assert ok.json() == {"type": "session_heartbeat"}
    unknown = trainer.http.post(trainer.api("session_heartbeat"), json={"session_id": "nope"})
    assert unknown.status_code == 404


def test_weights_need_a_model(emu: Emulator, job: str) -> None:
    with pytest.raises(LookupError):
        emu.weights_digest(job)


def test_forward_alone_does_not_accumulate_gradients(
    emu: Emulator, trainer: Trainer, job: str
) -> None:
    before = emu.weights_digest(job)
    result = trainer.run(
        "forward", {"forward_input": {"data": [datum()], "loss_fn": "cross_entropy"}}
    )
    assert result["metrics"]["loss:sum"] == trainer.forward_backward(datum())["metrics"]["loss:sum"]
    assert emu.weights_digest(job) == before


def test_a_repeated_create_model_answers_the_original(
    emu: Emulator, http: httpx.Client, job: str
) -> None:
    trainer = Trainer(http, emu.trainer_url(job), emu.account_id)
    trainer.attach()
    body = {"session_id": trainer.session_id, "model_seq_id": 0, "base_model": BASE_MODEL}
    again = http.post(trainer.api("create_model"), json=body).json()
    assert again["model_id"] == trainer.model_id
    assert (
        http.post(trainer.api("create_model"), json={**body, "session_id": "nope"}).status_code
        == 404
    )
