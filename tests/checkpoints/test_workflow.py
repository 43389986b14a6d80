"""TrainingCheckpoints against in-memory services that implement the workflow's Protocols.

End-to-end runs against the emulator live in tests/workflow/ (test_crash_resume.py,
test_save_retry.py) and tests/reliability/.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import Checkpoint, CheckpointKind, Model, SaveSamplerResult
from fireworks_training.checkpoints.ledger import LedgerWarning
from fireworks_training.checkpoints.workflow import TrainingCheckpoints, select_checkpoint
from fireworks_training.errors import (
    APIConnectionError,
    CheckpointNotFoundError,
    ConflictError,
    InvalidArgumentError,
    InvalidModelIdError,
    InvalidNameError,
    NotFoundError,
)

JOB = "job-abc"
BASE = "accounts/fireworks/models/qwen3-8b"
PREFIX = f"accounts/acme/rlorTrainerJobs/{JOB}/checkpoints/"


@dataclass
class Done:
    value: Any

    def result(self, timeout: float | None = None) -> Any:
        return self.value


@dataclass
class FakeTrainer:
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_on: str | None = None

    def save_state(self, name: str, ttl_seconds: int | None = None) -> Done:
        self._call("save_state", name)
        return Done(_Path(f"tinker://{JOB}/weights/{name}"))

    def save_weights_for_sampler_ext(
        self, name: str, checkpoint_type: Any = None, ttl_seconds: int | None = None
    ) -> SaveSamplerResult:
        self._call(f"sampler:{checkpoint_type}", name)
        return SaveSamplerResult(path=f"sampler/{name}-0a1b2c3d", snapshot_name=f"{name}-0a1b2c3d")

    def load_state_with_optimizer(self, path: str) -> Done:
        self._call("load_state_with_optimizer", path)
        return Done(None)

    def _call(self, op: str, arg: str) -> None:
        if self.fail_on == op:
            raise APIConnectionError(f"{op} failed")
        self.calls.append((op, arg))


@dataclass
class _Path:
    path: str


@dataclass
class FakeControl:
    rows: list[Checkpoint] = field(default_factory=list)
    promoted: list[dict[str, Any]] = field(default_factory=list)
    listings: int = 0
    down: bool = False
    gone: set[str] = field(default_factory=set)
    models: dict[str, Model] = field(default_factory=dict)
    conflict_once: bool = False

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        self.listings += 1
        if self.down:
            raise APIConnectionError("connection refused")
        if job_id in self.gone:
            raise NotFoundError("404 GET /v1/...: job not found", status_code=404)
        return [r for r in self.rows if r.job_id == job_id]

    def get_model(self, model_id: str) -> Model:
        return self.models[model_id]

    def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: Any = None,
    ) -> Model:
        assert job_id is None
        assert checkpoint_id is None
        if self.conflict_once:
            self.conflict_once = False
            raise ConflictError("409 POST /v1/...: model exists", status_code=409)
        self.promoted.append({"name": name, "output": output_model_id, "base": base_model})
        model = Model.model_validate(
            {
                "name": f"accounts/acme/models/{output_model_id}",
                "state": "READY",
                "sourceCheckpoint": str(name),
            }
        )
        self.models[str(output_model_id)] = model
        return model

    def add(self, cid: str, ctype: str, *, promotable: bool, created: str, job: str = JOB) -> None:
        self.rows.append(
            Checkpoint.model_validate(
                {
                    "name": f"accounts/acme/rlorTrainerJobs/{job}/checkpoints/{cid}",
                    "createTime": created,
                    "checkpointType": ctype,
                    "promotable": promotable,
                }
            )
        )


def make(tmp_path: Path, **kwargs: Any) -> tuple[TrainingCheckpoints, FakeTrainer, FakeControl]:
    trainer, control = FakeTrainer(), FakeControl()
    ckpt = TrainingCheckpoints(
        trainer, control, trainer_job_id=JOB, log_path=tmp_path, base_model=BASE, **kwargs
    )
    return ckpt, trainer, control


def lines(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "checkpoints.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_state_save_writes_the_documented_line(tmp_path: Path) -> None:
    ckpt, trainer, _ = make(tmp_path)
    record = ckpt.save("step-10", step=10, data_consumed=40)
    assert trainer.calls == [("save_state", "step-10")]
    assert lines(tmp_path) == [
        {
            "name": "step-10",
            "step": 10,
            "data_consumed": 40,
            "state_path": "cross_job://job-abc/step-10",
            "source_job_id": "job-abc",
            "base_model": BASE,
        }
    ]
    assert record.state_path == "cross_job://job-abc/step-10"
    assert json.loads((tmp_path / "dataloader.json").read_text()) == {"step-10": 40}


@pytest.mark.parametrize(
    ("kwargs", "calls", "has_state", "has_sampler"),
    [
        ({"kind": CheckpointKind.SAMPLER}, ["sampler:base"], False, True),
        ({"kind": CheckpointKind.BOTH}, ["save_state", "sampler:base"], True, True),
        ({"promotable": True}, ["sampler:base"], False, True),
        ({"resumable": True, "promotable": True}, ["save_state", "sampler:base"], True, True),
        ({}, ["save_state"], True, False),
    ],
)
def test_kinds_write_the_right_blobs(
    tmp_path: Path, kwargs: dict[str, Any], calls: list[str], has_state: bool, has_sampler: bool
) -> None:
    ckpt, trainer, _ = make(tmp_path)
    ckpt.save("step-50", step=50, data_consumed=200, **kwargs)
    assert [op for op, _ in trainer.calls] == calls
    (line,) = lines(tmp_path)
    assert ("state_path" in line) is has_state
    assert (line.get("sampler_path") == "step-50-0a1b2c3d") is has_sampler


def test_extra_fields_go_into_the_line(tmp_path: Path) -> None:
    ckpt, _, _ = make(tmp_path)
    ckpt.save("step-1", step=1, loss=2.5)
    assert lines(tmp_path)[0]["loss"] == 2.5


@pytest.mark.parametrize("failing", ["save_state", "sampler:base"])
def test_failed_save_records_nothing(tmp_path: Path, failing: str) -> None:
    ckpt, trainer, _ = make(tmp_path)
    trainer.fail_on = failing
    with pytest.raises(APIConnectionError):
        ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20)
    assert not (tmp_path / "checkpoints.jsonl").exists()
    assert not (tmp_path / "dataloader.json").exists()


def test_retried_save_is_recorded_once(tmp_path: Path) -> None:
    ckpt, _, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    ckpt.save("step-5", step=5, data_consumed=20)
    assert len(lines(tmp_path)) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "../x"}, InvalidNameError),
        ({"name": "step-1", "step": -1}, InvalidArgumentError),
        ({"name": "step-1", "data_consumed": "3"}, InvalidArgumentError),
        ({"name": "step-1", "resumable": False, "promotable": False}, ValueError),
        (
            {"name": "step-1", "kind": CheckpointKind.STATE, "promotable": True},
            InvalidArgumentError,
        ),
    ],
)
def test_bad_save_input_sends_nothing(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    ckpt, trainer, _ = make(tmp_path)
    with pytest.raises(error):
        ckpt.save(**kwargs)
    assert trainer.calls == []


def test_bad_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        make(tmp_path, dcp_save_interval=-1)
    with pytest.raises(InvalidModelIdError):
        make(tmp_path, output_model_id="Bad_Id")


def test_maybe_save_every_n_steps(tmp_path: Path) -> None:
    ckpt, trainer, _ = make(tmp_path, dcp_save_interval=5)
    saved = [s for s in range(13) if ckpt.maybe_save(s, s * 4) is not None]
    assert saved == [5, 10]
    assert trainer.calls == [("save_state", "step-5"), ("save_state", "step-10")]
    off, trainer_off, _ = make(tmp_path / "off")
    assert all(off.maybe_save(s, s) is None for s in range(20))
    assert trainer_off.calls == []


def test_finish_saves_both_and_promotes_by_name(tmp_path: Path) -> None:
    ckpt, trainer, control = make(tmp_path, output_model_id="my-model")
    control.add("step-30", "TRAINING", promotable=False, created="2026-01-01T10:00:00Z")
    control.add(
        "step-30-0a1b2c3d", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:01Z"
    )
    model = ckpt.finish(30, 120)
    assert model is not None
    assert model.name == "accounts/acme/models/my-model"
    assert [op for op, _ in trainer.calls] == ["save_state", "sampler:base"]
    assert control.promoted == [
        {"name": PREFIX + "step-30-0a1b2c3d", "output": "my-model", "base": BASE}
    ]


def test_resume_picks_the_newest_existing_state(tmp_path: Path) -> None:
    ckpt, trainer, control = make(tmp_path)
    for step in (5, 10, 15):
        ckpt.save(f"step-{step}", step=step, data_consumed=step * 4)
    ckpt.save("step-15", kind=CheckpointKind.SAMPLER, step=15, data_consumed=60)
    # step-15's state expired on the server: the ledger says it exists, the server does not.
    control.add("step-5", "TRAINING", promotable=False, created="2026-01-01T10:00:00Z")
    control.add("step-10", "TRAINING", promotable=False, created="2026-01-01T10:00:01Z")
    trainer.calls.clear()
    info = ckpt.resume()
    assert info is not None
    assert (info.step, info.data_consumed, info.checkpoint_name) == (10, 40, "step-10")
    assert info.state_path == "cross_job://job-abc/step-10"
    assert trainer.calls == [("load_state_with_optimizer", "cross_job://job-abc/step-10")]
    assert control.listings == 1


def test_resume_with_nothing_is_a_fresh_start(tmp_path: Path) -> None:
    ckpt, trainer, _ = make(tmp_path)
    assert ckpt.resume() is None
    assert trainer.calls == []


def test_resume_skips_a_torn_last_line(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    control.add("step-5", "TRAINING", promotable=False, created="2026-01-01T10:00:00Z")
    with (tmp_path / "checkpoints.jsonl").open("a") as f:
        f.write('{"name": "step-10", "step": 10, "state_pa')
    with pytest.warns(LedgerWarning):
        info = ckpt.resume()
    assert info is not None
    assert info.step == 5


def test_resume_raises_when_the_control_plane_is_down(tmp_path: Path) -> None:
    ckpt, trainer, control = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    control.down = True
    trainer.calls.clear()
    with pytest.raises(APIConnectionError):
        ckpt.resume()
    assert trainer.calls == []


def test_init_from_checkpoint_of_another_job_starts_at_zero(tmp_path: Path) -> None:
    ckpt, trainer, _ = make(tmp_path)
    info = ckpt.resume(init_from_checkpoint="job-old:step-40")
    assert info is not None
    assert (info.step, info.data_consumed, info.source_job_id) == (0, 0, "job-old")
    assert trainer.calls == [("load_state_with_optimizer", "cross_job://job-old/step-40")]


def test_init_from_checkpoint_of_this_job_is_a_full_resume(tmp_path: Path) -> None:
    ckpt, _, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    info = ckpt.resume(init_from_checkpoint=f"{JOB}:step-5")
    assert info is not None
    assert (info.step, info.data_consumed) == (5, 20)


def test_init_from_checkpoint_conflicts_with_an_existing_ledger(tmp_path: Path) -> None:
    ckpt, trainer, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    trainer.calls.clear()
    with pytest.raises(InvalidArgumentError, match="conflicts with the existing ledger"):
        ckpt.resume(init_from_checkpoint="job-old:step-40")
    assert trainer.calls == []


def test_promote_latest_compares_parsed_times_and_prefers_steps(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    control.add(
        "step-20-11111111", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:00Z"
    )
    control.add(
        "step-20-22222222", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:00.5Z"
    )
    # An older step touched later (asynchronously) must not win.
    control.add(
        "step-10-33333333", "INFERENCE_BASE", promotable=True, created="2026-01-01T11:00:00Z"
    )
    control.add(
        "step-30-44444444", "INFERENCE_ARC_V2", promotable=False, created="2026-01-01T12:00:00Z"
    )
    ckpt.promote_latest("my-model")
    assert control.promoted[-1]["name"] == PREFIX + "step-20-22222222"
    ckpt.promote(output_model_id="m2", step=10)
    assert control.promoted[-1]["name"] == PREFIX + "step-10-33333333"
    ckpt.promote(output_model_id="m3", checkpoint_name="step-20-11111111")
    assert control.promoted[-1]["name"] == PREFIX + "step-20-11111111"


def test_promote_with_nothing_promotable_names_the_job(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    control.add("step-5", "TRAINING", promotable=False, created="2026-01-01T10:00:00Z")
    with pytest.raises(CheckpointNotFoundError, match="job-abc"):
        ckpt.promote_latest("my-model")
    assert control.promoted == []


def test_promote_validates_the_id_before_listing(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    with pytest.raises(InvalidModelIdError):
        ckpt.promote_latest("Not Valid")
    assert control.listings == 0


@pytest.mark.parametrize(
    "selection",
    [
        {"step": 1, "checkpoint_name": "step-1"},
        {"step": -1},
        {"step": "10"},
        {"checkpoint_name": "no spaces allowed"},
        {"checkpoint_name": ""},
    ],
)
def test_promote_validates_the_selection_before_listing(
    tmp_path: Path, selection: dict[str, Any]
) -> None:
    ckpt, _, control = make(tmp_path)
    with pytest.raises(InvalidArgumentError):
        ckpt.promote(output_model_id="my-model", **selection)
    assert control.listings == 0


def test_select_checkpoint_rejects_step_and_name() -> None:
    with pytest.raises(InvalidArgumentError):
        select_checkpoint([], job_id=JOB, step=1, checkpoint_name="x")


def test_resume_prefers_the_ledger_line_to_an_older_dataloader_json(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    ckpt.save("latest", step=100, data_consumed=400)
    control.add("latest", "TRAINING", promotable=False, created="2026-01-01T10:00:00Z")
    # A crash between the ledger append and the dataloader.json update of a reused name:
    ckpt.ledger.append(
        ckpt.ledger.records()[-1].model_copy(update={"step": 200, "data_consumed": 800})
    )
    info = ckpt.resume()
    assert info is not None
    assert (info.step, info.data_consumed) == (200, 800)


def test_resume_skips_entries_of_a_job_that_is_gone(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    control.add("step-5", "TRAINING", promotable=False, created="2026-01-01T10:00:00Z")
    ckpt.ledger.append(
        ckpt.ledger.records()[-1].model_copy(
            update={"name": "step-9", "step": 9, "source_job_id": "old-job"}
        )
    )
    control.gone.add("old-job")
    with pytest.warns(LedgerWarning, match="old-job"):
        info = ckpt.resume()
    assert info is not None
    assert info.checkpoint_name == "step-5"


def test_a_state_row_of_an_unknown_type_still_counts(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path)
    ckpt.save("step-9", step=9, data_consumed=36)
    control.add(
        "step-9", "CHECKPOINT_TYPE_TRAINING_FSDP2", promotable=False, created="2026-01-01T10:00:00Z"
    )
    info = ckpt.resume()
    assert info is not None
    assert info.step == 9


def test_resume_warns_when_no_recorded_checkpoint_exists(tmp_path: Path) -> None:
    ckpt, trainer, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    trainer.calls.clear()
    with pytest.warns(LedgerWarning, match="starting fresh"):
        assert ckpt.resume() is None
    assert trainer.calls == []


def test_finish_after_a_periodic_save_of_the_same_step_saves_the_state_once(
    tmp_path: Path,
) -> None:
    ckpt, trainer, _ = make(tmp_path, dcp_save_interval=5)
    ckpt.maybe_save(10, 40)
    ckpt.finish(10, 40)
    assert [op for op, _ in trainer.calls] == ["save_state", "sampler:base"]
    last = lines(tmp_path)[-1]
    assert last["state_path"] == "cross_job://job-abc/step-10"
    assert last["sampler_path"] == "step-10-0a1b2c3d"


def test_finish_again_after_a_failed_promotion_saves_nothing_and_accepts_its_model(
    tmp_path: Path,
) -> None:
    ckpt, trainer, control = make(tmp_path, output_model_id="final-model")
    control.add(
        "step-10-0a1b2c3d", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:00Z"
    )
    ckpt.finish(10, 40)  # promoted, but say the caller never saw the answer
    trainer.calls.clear()
    control.conflict_once = True  # the second promotion finds the model already there
    model = ckpt.finish(10, 40)
    assert model is not None
    assert model.name == "accounts/acme/models/final-model"
    assert trainer.calls == []
    assert len(control.promoted) == 1


def test_finish_does_not_claim_another_checkpoints_model(tmp_path: Path) -> None:
    ckpt, _, control = make(tmp_path, output_model_id="taken")
    control.add(
        "step-10-0a1b2c3d", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:00Z"
    )
    control.models["taken"] = Model.model_validate(
        {"name": "accounts/acme/models/taken", "sourceCheckpoint": PREFIX + "other-0a1b2c3d"}
    )
    control.conflict_once = True
    with pytest.raises(ConflictError):
        ckpt.finish(10, 40)


def test_the_end_to_end_tests_named_above_exist() -> None:
    root = Path(__file__).parents[2]
    assert __doc__ is not None
    folders = re.findall(r"tests/[\w/]+/", __doc__)
    files = re.findall(r"\btest_\w+\.py\b", __doc__)
    assert folders == ["tests/workflow/", "tests/reliability/"]
    assert all((root / folder).is_dir() for folder in folders)
    assert files
    assert all((root / "tests" / "workflow" / name).is_file() for name in files)
