"""Checkpoint files: server-side types, promotability, delta size and exactness, persistence."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray

from fireworks_training.checkpoints import CheckpointType
from fireworks_training.emulator import Emulator, blobs

from .kit import TEXT, Trainer, promote_body

T = CheckpointType


def _row(trainer: Trainer, job: str, checkpoint_id: str) -> dict[str, object]:
    rows = {r["name"].rsplit("/", 1)[1]: r for r in trainer.rows(job)}
    return rows[checkpoint_id]


@pytest.mark.parametrize(
    ("lora_rank", "save", "expected", "promotable"),
    [
        (0, "state", T.TRAINING, False),
        (0, "base", T.INFERENCE_BASE, True),
        (0, "merged_base", T.INFERENCE_BASE, True),
        (0, "delta", T.INFERENCE_ARC_V2, False),
        (4, "state", T.TRAINING_LORA, False),
        (4, "base", T.INFERENCE_LORA, True),
        (4, "delta", T.INFERENCE_LORA, True),
        (4, "merged_base", T.INFERENCE_BASE, True),
    ],
)
def test_type_and_promotability_come_from_the_file(
    emu: Emulator,
    http: httpx.Client,
    lora_rank: int,
    save: str,
    expected: CheckpointType,
    promotable: bool,
) -> None:
    job = emu.create_trainer_job(lora_rank=lora_rank)
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=lora_rank)
    trainer.save_sampler("first")  # a base for a delta to build on
    trainer.train_step()
    if save == "state":
        checkpoint_id = "target"
        assert trainer.save_state(checkpoint_id)["path"] == f"cross_job://{job}/target"
    else:
        result = trainer.save_sampler("target", save)
        checkpoint_id = f"target-{trainer.session_id}"
        assert result["path"] == checkpoint_id  # the snapshot identity: the name sent
    row = _row(trainer, job, checkpoint_id)
    assert row["checkpointType"] == expected.value
    assert row["promotable"] is promotable
    response = http.post(
        f"/v1/accounts/emulator/checkpoints/{checkpoint_id}:promote",
        json=promote_body("emulator", job, "promoted"),
    )
    assert response.is_success is promotable


def _base_then_delta(
    emu: Emulator, trainer: Trainer, job: str, text: bytes
) -> tuple[int, int, NDArray[np.uint16]]:
    """Base save, one step on ``text``, delta save: both sizes and the delta applied."""
    trainer.save_sampler("base")
    trainer.train_step(text)
    trainer.save_sampler("next", "delta")
    base = int(_row(trainer, job, f"base-{trainer.session_id}")["sizeBytes"])  # type: ignore[call-overload]
    delta = int(_row(trainer, job, f"next-{trainer.session_id}")["sizeBytes"])  # type: ignore[call-overload]
    on_disk = emu.state_dir / "checkpoints" / job
    assert (on_disk / f"base-{trainer.session_id}.ckpt").stat().st_size == base
    applied = blobs.sampler_bits(on_disk / f"next-{trainer.session_id}.ckpt")
    assert np.array_equal(applied, blobs.bf16_bits(emu.weights(job)))  # bit-exact
    return base, delta, applied


def test_delta_of_a_sparse_batch_is_at_least_5x_smaller_than_base(
    emu: Emulator, trainer: Trainer, job: str, request: pytest.FixtureRequest
) -> None:
    # One 43-byte sentence: 26 of the 256 rows of W get a gradient, the rest keep their bits.
    base, delta, _ = _base_then_delta(emu, trainer, job, TEXT)
    request.node.user_properties.append(("delta_ratio", round(base / delta, 2)))
    assert base >= 5 * delta


def test_delta_of_a_dense_batch_is_exact_but_barely_smaller(
    emu: Emulator, trainer: Trainer, job: str, request: pytest.FixtureRequest
) -> None:
    # Every byte value as an input: every row moves, most bf16 low bits flip, zlib finds
    # little to squeeze (about 1.3x at this learning rate; see docs/emulator.md).
    dense = bytes(range(256)) + bytes(range(255, -1, -1))
    base, delta, applied = _base_then_delta(emu, trainer, job, dense)
    request.node.user_properties.append(("delta_ratio", round(base / delta, 2)))
    first = blobs.read_blob(emu.state_dir / "checkpoints" / job / f"base-{trainer.session_id}.ckpt")
    assert (applied != first.arrays["W"]).any(axis=1).all()  # every row changed
    assert delta < base


def test_delta_without_a_base_is_a_user_error(trainer: Trainer) -> None:
    result = trainer.save_sampler("lonely", "delta")
    assert result["category"] == "user"


def test_unknown_sampler_type_is_a_user_error(trainer: Trainer) -> None:
    assert trainer.save_sampler("x", "zip")["category"] == "user"


def test_invalid_checkpoint_name_is_a_user_error(trainer: Trainer) -> None:
    assert trainer.save_state("../escape")["category"] == "user"


def test_restart_on_the_same_state_dir_keeps_everything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with (
        Emulator(state) as first,
        httpx.Client(base_url=first.base_url, headers={"X-Api-Key": first.api_key}) as http,
    ):
        job = first.create_trainer_job(job_id="persist")
        trainer = Trainer.start(http, first.trainer_url(job), first.account_id)
        trainer.train_step()
        trainer.save_state("step-1")
        trainer.save_sampler("step-1")
        first.add_checkpoint_rows(job, 3)
        sampler = f"step-1-{trainer.session_id}"
        promote = f"/v1/accounts/emulator/checkpoints/{sampler}:promote"
        assert http.post(promote, json=promote_body("emulator", job, "kept")).is_success
        rows_before = trainer.rows(job)
        digest = first.weights_digest(job)
    with (
        Emulator(state) as second,
        httpx.Client(base_url=second.base_url, headers={"X-Api-Key": second.api_key}) as http,
    ):
        assert http.get(f"/v1/accounts/emulator/rlorTrainerJobs/{job}").json()["state"] == (
            "JOB_STATE_RUNNING"
        )
        again = Trainer.start(http, second.trainer_url(job), second.account_id)
        assert again.rows(job) == rows_before
        assert http.get("/v1/accounts/emulator/models/kept").json()["state"] == "READY"
        again.load_state("step-1", optimizer=True)
        assert second.weights_digest(job) == digest
