"""What the official clients send by default, and what the public docs show, is served."""

from __future__ import annotations

import httpx
import pytest

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, Trainer, promote_body


def test_telemetry_is_accepted(emu: Emulator, http: httpx.Client, job: str) -> None:
    batch = {
        "events": [{"event": "SESSION_START", "event_id": "e1", "event_session_index": 0}],
        "platform": "linux",
        "sdk_version": "0.23.0",
        "session_id": "s1",
    }
    response = http.post(f"{emu.trainer_url(job)}/api/v1/telemetry", json=batch)
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    unknown = http.post(f"{emu.trainer_url('nope')}/api/v1/telemetry", json=batch)
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "path", ["/v1/accounts", "/training/v1/rlorTrainerJobs/emulator/job-full/api/v1/healthz"]
)
def test_a_bearer_token_authenticates_every_route(emu: Emulator, job: str, path: str) -> None:
    bearer = httpx.get(emu.base_url + path, headers={"Authorization": f"Bearer {emu.api_key}"})
    assert bearer.status_code == 200
    lower = httpx.get(emu.base_url + path, headers={"authorization": f"bearer {emu.api_key}"})
    assert lower.status_code == 200
    for wrong in (f"Bearer {emu.api_key}x", f"Basic {emu.api_key}", "Bearer"):
        assert httpx.get(emu.base_url + path, headers={"Authorization": wrong}).status_code == 401


def test_a_sampler_save_answers_the_snapshot_identity(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    saved = trainer.save_sampler("step-0001")
    identity = f"step-0001-{trainer.session_id}"
    assert saved["path"] == identity
    assert [r["name"] for r in trainer.rows(job)] == [
        f"accounts/emulator/rlorTrainerJobs/{job}/checkpoints/{identity}"
    ]
    # The identity is the checkpoint id a legacy promote call passes.
    promoted = http.post(
        f"/v1/accounts/emulator/checkpoints/{saved['path']}:promote",
        json=promote_body("emulator", job, "from-identity"),
    )
    assert promoted.status_code == 200


def test_save_state_refuses_to_overwrite_unless_asked(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    trainer.save_state("step-1", overwrite=False)
    before = emu.weights(job)
    first_row = trainer.rows(job)[0]
    trainer.train_step()

    for overwrite in (False, None):  # the official client sends false; absent means the same
        refused = trainer.save_state("step-1", overwrite=overwrite)
        assert refused["category"] == "user"
        assert "'step-1' already exists" in refused["error"]
        assert "overwrite" in refused["error"]
    assert trainer.rows(job) == [first_row]  # untouched

    assert trainer.save_state("step-1", overwrite=True)["path"] == f"cross_job://{job}/step-1"
    (row,) = trainer.rows(job)
    assert row["createTime"] == first_row["createTime"]
    trainer.load_state("step-1", optimizer=True)
    assert not (emu.weights(job) == before).all()  # the replaced state holds the new weights


def test_a_resent_save_is_not_an_overwrite(trainer: Trainer) -> None:
    body = {"path": "step-1", "overwrite": False}
    first = trainer.submit("save_weights", body, seq=1)
    again = trainer.submit("save_weights", body, seq=1)  # a retry of the same submit
    assert again == first
    assert trainer.wait(first)["path"].endswith("/step-1")


def test_a_repeated_idempotency_key_returns_the_original_request(
    emu: Emulator, trainer: Trainer
) -> None:
    emu.request_log.clear()
    adam = {"adam_params": {"learning_rate": 0.1}}
    first = trainer.submit("optim_step", adam, seq=1, key="k-1")
    # Resent under another seq_id: the key alone identifies the request, nothing runs.
    assert trainer.submit("optim_step", adam, seq=2, key="k-1") == first
    other = trainer.submit("optim_step", adam, seq=2, key="k-2")
    assert other != first
    assert trainer.wait(other)["metrics"]["step"] == 2  # the repeated request ran once
    keys = [e.idempotency_key for e in emu.request_log if e.route.endswith("/optim_step")]
    assert keys == ["k-1", "k-1", "k-2"]


def test_a_repeated_seq_id_with_another_body_answers_the_original(trainer: Trainer) -> None:
    # The protocol names no 409 for this: the server answers the original request id and
    # does not run the second body (see docs/emulator.md).
    first = trainer.submit("optim_step", {"adam_params": {"learning_rate": 0.1}}, seq=1)
    again = trainer.submit("save_weights", {"path": "never"}, seq=1)
    assert again == first
    assert "metrics" in trainer.wait(again)


def test_create_model_honours_the_idempotency_key(
    emu: Emulator, http: httpx.Client, job: str
) -> None:
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id)
    body = {"session_id": trainer.session_id, "model_seq_id": 1, "base_model": BASE_MODEL}
    headers = {"X-Idempotency-Key": "create-1"}
    first = http.post(trainer.api("create_model"), json=body, headers=headers).json()
    again = http.post(
        trainer.api("create_model"), json={**body, "model_seq_id": 2}, headers=headers
    ).json()
    assert again == first
