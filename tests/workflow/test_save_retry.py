"""A save whose answer was lost is retried; the server's 409 and dedup leave one ledger line.

The emulator does the save, drops the answer, then answers the resend with 409 and the next
resend (same ``seq_id``) with the request id of the save it already ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireworks_training._retry import RetryPolicy
from fireworks_training.checkpoints import CheckpointKind
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL

emulator_module = pytest.importorskip("fireworks_training.emulator")

FAST = RetryPolicy(max_retries=4, initial_wait_s=0.01, max_wait_s=0.05)


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with emulator_module.Emulator() as emulator:
        yield emulator


@pytest.fixture
def run(emu: Any, tmp_path: Path) -> Iterator[tuple[str, TrainingCheckpoints]]:
    emu.faults.clear()
    job = emu.create_trainer_job(base_model=BASE_MODEL)
    with (
        FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control,
        FiretitanServiceClient(
            emu.trainer_url(job), api_key=emu.api_key, retry_policy=FAST, heartbeat_interval_s=None
        ) as service,
    ):
        trainer = service.create_training_client(BASE_MODEL)
        ckpt = TrainingCheckpoints(
            trainer, control, trainer_job_id=job, log_path=tmp_path, base_model=BASE_MODEL
        )
        yield job, ckpt
    emu.faults.clear()


@pytest.mark.parametrize(
    ("kind", "op", "row_type"),
    [
        (CheckpointKind.STATE, "save_weights", "CHECKPOINT_TYPE_TRAINING"),
        (CheckpointKind.SAMPLER, "save_weights_for_sampler", "CHECKPOINT_TYPE_INFERENCE_BASE"),
    ],
)
def test_a_save_retried_after_409_is_recorded_once(
    emu: Any, run: tuple[str, TrainingCheckpoints], kind: CheckpointKind, op: str, row_type: str
) -> None:
    job, ckpt = run
    rule = emu.faults.add(op, script=["drop_response", 409])
    before = len(emu.request_log)

    record = ckpt.save("step-1", kind=kind, step=1, data_consumed=4)

    assert rule.injected == 2
    sends = [r for r in emu.request_log[before:] if r.route.endswith(f"/api/v1/{op}")]
    assert len(sends) == 3  # dropped answer, 409, then the deduplicated resend
    assert len({r.body["seq_id"] for r in sends}) == 1
    lines = ckpt.ledger.path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [record.to_json()]
    rows = [r for r in ckpt.control_client.list_checkpoints(job) if r.logical_name == "step-1"]
    assert [r.checkpoint_type.value for r in rows] == [row_type]


def test_saving_the_same_state_again_records_it_once(
    emu: Any, run: tuple[str, TrainingCheckpoints]
) -> None:
    job, ckpt = run
    emu.faults.add("save_weights", script=["drop_response", 409])
    first = ckpt.save("step-1", step=1, data_consumed=4)
    before = len(emu.request_log)
    again = ckpt.save("step-1", step=1, data_consumed=4)  # the caller's own retry
    assert again == first
    assert emu.request_log[before:] == []  # it had succeeded: nothing is sent again
    assert len(ckpt.ledger.path.read_text().splitlines()) == 1
    assert ckpt.ledger.read_dataloader() == {"step-1": 4}
    rows = [r for r in ckpt.control_client.list_checkpoints(job) if r.logical_name == "step-1"]
    assert len(rows) == 1
