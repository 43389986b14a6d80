"""TrainingCheckpoints against in-memory services that implement the workflow's Protocols.

End-to-end runs against the emulator live in tests/workflow/ (test_crash_resume.py,
test_save_retry.py, test_remote_log_path.py) and tests/reliability/.
"""

from __future__ import annotations

import errno
import functools
import json
import re
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import CheckpointKind, Model
from fireworks_training.checkpoints import workflow as workflow_module
from fireworks_training.checkpoints.ledger import LedgerStorageError, LedgerWarning, LogPathError
from fireworks_training.checkpoints.ledger import local as local_module
from fireworks_training.checkpoints.workflow import (
    CheckpointExistsError,
    TrainingCheckpoints,
    select_checkpoint,
)
from fireworks_training.errors import (
    APIConnectionError,
    CheckpointNotFoundError,
    ConflictError,
    InvalidArgumentError,
    InvalidModelIdError,
    InvalidNameError,
)
from tests.workflow.fakes import (
    BASE,
    JOB,
    PREFIX,
    FakeControl,
    FakeTrainer,
    LegacyTrainer,
    Server,
)


def make(
    tmp_path: Path, server: Server | None = None, **kwargs: Any
) -> tuple[TrainingCheckpoints, Server, FakeControl]:
    server = server or Server()
    control = FakeControl(server)
    trainer = kwargs.pop("trainer", None) or FakeTrainer(server)
    options: dict[str, Any] = {"base_model": BASE, **kwargs}
    ckpt = TrainingCheckpoints(trainer, control, trainer_job_id=JOB, log_path=tmp_path, **options)
    return ckpt, server, control


def lines(tmp_path: Path) -> list[dict[str, Any]]:
    text = (tmp_path / "checkpoints.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        return fn(*args, **kwargs)


# Saving -------------------------------------------------------------------------------


def test_state_save_writes_the_documented_line(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    record = ckpt.save("step-10", step=10, data_consumed=40)
    assert server.ops() == ["list", "save_state"]  # the list: nothing is overwritten
    assert lines(tmp_path) == [
        {
            "name": "step-10",
            "step": 10,
            "data_consumed": 40,
            "state_path": "cross_job://job-abc/step-10",
            "source_job_id": "job-abc",
            "base_model": BASE,
            "schema": 1,
        }
    ]
    assert record.state_path == "cross_job://job-abc/step-10"
    assert json.loads((tmp_path / "dataloader.json").read_text()) == {"step-10": 40}


@pytest.mark.parametrize(
    ("kwargs", "calls", "has_state", "has_sampler"),
    [
        ({"kind": CheckpointKind.SAMPLER}, ["sampler:base"], False, True),
        ({"kind": CheckpointKind.BOTH}, ["list", "save_state", "sampler:base"], True, True),
        ({"promotable": True}, ["sampler:base"], False, True),
        (
            {"resumable": True, "promotable": True},
            ["list", "save_state", "sampler:base"],
            True,
            True,
        ),
        ({}, ["list", "save_state"], True, False),
    ],
)
def test_kinds_write_the_right_blobs(
    tmp_path: Path, kwargs: dict[str, Any], calls: list[str], has_state: bool, has_sampler: bool
) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-50", step=50, data_consumed=200, **kwargs)
    assert server.ops() == calls
    (line,) = lines(tmp_path)
    assert ("state_path" in line) is has_state
    assert (line.get("sampler_path") == "step-50-0a1b2c3d") is has_sampler


def test_extra_fields_go_into_the_line_as_plain_json(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    ckpt, _, _ = make(tmp_path)
    ckpt.save("step-1", step=1, loss=2.5, lr=np.float32(0.5), seen=np.int64(7), ok=np.bool_(1))
    line = lines(tmp_path)[0]
    assert (line["loss"], line["lr"], line["seen"], line["ok"]) == (2.5, 0.5, 7, True)
    assert type(line["seen"]) is int


@pytest.mark.parametrize(
    "extra",
    [{"blob": object()}, {"state_path": "x"}, {"nested": {1: "int key"}}, {"raw": b"bytes"}],
    ids=["object", "ledger-field", "int-key", "bytes"],
)
def test_extra_fields_that_are_not_json_are_refused_before_any_request(
    tmp_path: Path, extra: dict[str, Any]
) -> None:
    ckpt, server, _ = make(tmp_path)
    with pytest.raises(InvalidArgumentError, match="extra field"):
        ckpt.save("step-1", step=1, **extra)
    assert server.calls == []


def test_numpy_arrays_are_refused(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    ckpt, server, _ = make(tmp_path)
    with pytest.raises(InvalidArgumentError, match="'weights' is not JSON"):
        ckpt.save("step-1", step=1, weights=np.zeros(3))
    assert server.calls == []


@pytest.mark.parametrize("kind", [CheckpointKind.STATE, CheckpointKind.BOTH])
def test_failed_save_records_nothing(tmp_path: Path, kind: CheckpointKind) -> None:
    ckpt, _, _ = make(tmp_path)
    ckpt.training_client.fail_on = "save_state"  # type: ignore[attr-defined]
    with pytest.raises(APIConnectionError):
        ckpt.save("step-5", kind=kind, step=5, data_consumed=20)
    assert not (tmp_path / "checkpoints.jsonl").exists()
    assert not (tmp_path / "dataloader.json").exists()


def test_a_failed_sampler_save_records_nothing(tmp_path: Path) -> None:
    ckpt, _, _ = make(tmp_path)
    ckpt.training_client.fail_on = "sampler:base"  # type: ignore[attr-defined]
    with pytest.raises(APIConnectionError):
        ckpt.save("step-5", kind=CheckpointKind.SAMPLER, step=5, data_consumed=20)
    assert not (tmp_path / "checkpoints.jsonl").exists()


def test_both_whose_sampler_half_fails_records_the_state_it_saved(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.training_client.fail_on = "sampler:base"  # type: ignore[attr-defined]
    with pytest.raises(APIConnectionError, match="sampler:base failed"):
        ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20)
    [line] = lines(tmp_path)
    assert (line["name"], line["step"], line["data_consumed"]) == ("step-5", 5, 20)
    assert line["state_path"] == "cross_job://job-abc/step-5"
    assert line.get("sampler_path") is None
    assert json.loads((tmp_path / "dataloader.json").read_text()) == {"step-5": 20}

    # Repeated, it saves only the sampler half (the state is not refused as existing).
    ckpt.training_client.fail_on = None  # type: ignore[attr-defined]
    record = ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20)
    assert record.state_path == "cross_job://job-abc/step-5"
    assert record.sampler_path == "step-5-0a1b2c3d"
    assert server.ops() == ["list", "save_state", "sampler:base"]
    assert lines(tmp_path)[-1]["sampler_path"] == "step-5-0a1b2c3d"
    # And once whole, it is a repeat: nothing is sent or written again.
    assert ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20) == record
    assert server.ops() == ["list", "save_state", "sampler:base"]
    assert len(lines(tmp_path)) == 2


class InterruptedSampler(FakeTrainer):
    """Ctrl-C arrives while the sampler weights are being saved."""

    def save_weights_for_sampler_ext(self, name: str, checkpoint_type: str = "base") -> Any:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("trainer", "raised"),
    [(InterruptedSampler, KeyboardInterrupt), (FakeTrainer, APIConnectionError)],
)
def test_a_half_saved_both_whose_record_fails_too_raises_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: type[FakeTrainer], raised: type
) -> None:
    server = Server()
    ckpt, _, _ = make(tmp_path, server, trainer=trainer(server, fail_on="sampler:base"))
    real = local_module.Ledger.record_data_consumed

    def full_disk(self: Any, name: str, data_consumed: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_module.Ledger, "record_data_consumed", full_disk)
    with pytest.raises(raised) as info:
        ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20)
    assert info.value.__notes__ == [
        "recording the state 'step-5' the server holds also failed (OSError: [Errno 28] No "
        "space left on device); repeat the save to record it"
    ]
    assert not (tmp_path / "checkpoints.jsonl").exists()

    # Space again: the repeat saves only the sampler and records the whole save once.
    monkeypatch.setattr(local_module.Ledger, "record_data_consumed", real)
    ckpt.training_client = FakeTrainer(server)
    record = ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20)
    assert (record.state_path, record.sampler_path) == (
        "cross_job://job-abc/step-5",
        "step-5-0a1b2c3d",
    )
    assert server.ops() == ["list", "save_state", "sampler:base"]
    assert [line["sampler_path"] for line in lines(tmp_path)] == ["step-5-0a1b2c3d"]


@pytest.mark.parametrize("overwrite", [None, True])
def test_a_both_save_of_a_point_saved_as_state_adds_only_the_sampler(
    tmp_path: Path, overwrite: bool | None
) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=20, overwrite=overwrite)
    if overwrite:  # asked to replace it, it saves the state again
        assert server.calls[2:] == [("save_state", ("step-5", True)), ("sampler:base", "step-5")]
    else:
        assert server.ops() == ["list", "save_state", "sampler:base"]


def test_a_run_that_died_after_a_half_saved_both_resumes_from_its_state(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    ckpt.training_client.fail_on = "sampler:base"  # type: ignore[attr-defined]
    with pytest.raises(APIConnectionError):
        ckpt.save("step-10", kind=CheckpointKind.BOTH, step=10, data_consumed=40)
    ckpt.close()

    resumed, _, _ = make(tmp_path, server)
    info = resumed.resume()
    assert (info.step, info.data_consumed) == (10, 40)


def test_a_repeated_save_is_sent_and_recorded_once(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    first = ckpt.save("step-5", step=5, data_consumed=20)
    assert ckpt.save("step-5", step=5, data_consumed=20) == first
    assert server.ops() == ["list", "save_state"]
    assert len(lines(tmp_path)) == 1


def test_the_same_name_with_other_data_is_refused_unless_overwrite(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("latest", step=5, data_consumed=20)
    with pytest.raises(CheckpointExistsError, match=r"'latest' already exists.*overwrite=True"):
        ckpt.save("latest", step=10, data_consumed=40)
    ckpt.save("latest", step=10, data_consumed=40, overwrite=True)
    assert [c for c in server.calls if c[0] == "save_state"] == [
        ("save_state", ("latest", False)),
        ("save_state", ("latest", True)),
    ]
    assert json.loads((tmp_path / "dataloader.json").read_text()) == {"latest": 40}


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
        ({"name": "step-1", "overwrite": "yes"}, InvalidArgumentError),
    ],
)
def test_bad_save_input_sends_nothing(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    ckpt, server, _ = make(tmp_path)
    with pytest.raises(error):
        ckpt.save(**kwargs)
    assert server.calls == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"dcp_save_interval": -1}, InvalidArgumentError),
        ({"output_model_id": "Bad_Id"}, InvalidModelIdError),
        ({"base_model": ""}, InvalidArgumentError),
        ({"overwrite": 1}, InvalidArgumentError),
        ({"lease_ttl_s": 0}, InvalidArgumentError),
        ({"lease_ttl_s": float("inf")}, InvalidArgumentError),
        ({"storage_options": {"anon": True}}, LogPathError),
    ],
)
def test_bad_config_is_refused(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make(tmp_path, **kwargs)


@pytest.mark.parametrize(
    ("job", "short", "listed_with"),
    [
        (JOB, JOB, JOB),
        (f"accounts/acme/rlorTrainerJobs/{JOB}", JOB, f"accounts/acme/rlorTrainerJobs/{JOB}"),
    ],
)
def test_trainer_job_id_short_or_full_name(
    tmp_path: Path, job: str, short: str, listed_with: str
) -> None:
    server = Server()
    ckpt = TrainingCheckpoints(
        FakeTrainer(server), FakeControl(server), trainer_job_id=job, log_path=tmp_path
    )
    assert ckpt.trainer_job_id == short
    ckpt.save("step-1", step=1)
    assert server.calls[0] == ("list", listed_with)
    assert lines(tmp_path)[0]["state_path"] == f"cross_job://{short}/step-1"


@pytest.mark.parametrize(
    "job", ["", "accounts/acme/rlorTrainerJobs/", "accounts/acme/jobs/j", "a b", 7]
)
def test_a_bad_trainer_job_id_is_refused(tmp_path: Path, job: Any) -> None:
    server = Server()
    with pytest.raises(InvalidArgumentError):
        TrainingCheckpoints(
            FakeTrainer(server), FakeControl(server), trainer_job_id=job, log_path=tmp_path
        )


def test_maybe_save_every_n_steps(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path, dcp_save_interval=5)
    saved = [s for s in range(13) if ckpt.maybe_save(s, s * 4) is not None]
    assert saved == [5, 10]
    assert server.ops() == ["list", "save_state", "save_state"]
    off, off_server, _ = make(tmp_path / "off")
    assert all(off.maybe_save(s, s) is None for s in range(20))
    assert off_server.calls == []


# Base model ---------------------------------------------------------------------------


class _Info:
    class model_data:  # noqa: N801 - tinker's attribute name
        model_name = "accounts/fireworks/models/from-get-info"


class TrainerWithBase(FakeTrainer):
    base_model = "accounts/fireworks/models/from-attribute"


class TrainerWithInfo(FakeTrainer):
    def get_info(self) -> _Info:
        return _Info()


class ControlWithJobs(FakeControl):
    def get(self, job_id: str) -> dict[str, Any]:
        self.server.calls.append(("get_job", job_id))
        return {"trainingConfig": {"baseModel": "accounts/fireworks/models/from-job"}}


@pytest.mark.parametrize(
    ("trainer_class", "control_class", "expected"),
    [
        (TrainerWithBase, FakeControl, "accounts/fireworks/models/from-attribute"),
        (TrainerWithInfo, FakeControl, "accounts/fireworks/models/from-get-info"),
        (FakeTrainer, ControlWithJobs, "accounts/fireworks/models/from-job"),
        (FakeTrainer, FakeControl, None),
    ],
)
def test_base_model_is_learned_when_not_given(
    tmp_path: Path,
    trainer_class: type[FakeTrainer],
    control_class: type[FakeControl],
    expected: str | None,
) -> None:
    server = Server()
    ckpt = TrainingCheckpoints(
        trainer_class(server), control_class(server), trainer_job_id=JOB, log_path=tmp_path
    )
    ckpt.save("step-1", step=1)
    ckpt.save("step-2", step=2)
    assert [line.get("base_model") for line in lines(tmp_path)] == [expected, expected]
    assert server.ops().count("get_job") == (1 if control_class is ControlWithJobs else 0)


def test_a_failing_base_model_lookup_warns_and_saves(tmp_path: Path) -> None:
    class Broken(FakeTrainer):
        def get_info(self) -> Any:
            raise APIConnectionError("trainer unreachable")

    server = Server()
    ckpt = TrainingCheckpoints(
        Broken(server), FakeControl(server), trainer_job_id=JOB, log_path=tmp_path
    )
    with pytest.warns(LedgerWarning, match="could not learn the base model"):
        ckpt.save("step-1", step=1)
    assert "base_model" not in lines(tmp_path)[0]


# Overwrite protection -----------------------------------------------------------------


def test_a_fresh_run_on_a_job_with_states_stops_before_saving(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    server.add("step-10")
    ckpt, _, _ = make(tmp_path, server, dcp_save_interval=5)
    with pytest.raises(CheckpointExistsError, match=r"2 state checkpoint.*call resume\(\) first"):
        ckpt.maybe_save(5, 20)
    assert server.ops() == ["list"]
    assert not (tmp_path / "checkpoints.jsonl").exists()


def test_overwrite_true_lets_a_fresh_run_replace_states(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    ckpt, _, _ = make(tmp_path, server, dcp_save_interval=5, overwrite=True)
    ckpt.maybe_save(5, 20)
    assert ("save_state", ("step-5", True)) in server.calls


def test_a_legacy_client_cannot_overwrite_and_says_so_before_any_request(tmp_path: Path) -> None:
    server = Server()
    ckpt, _, _ = make(tmp_path, server, trainer=LegacyTrainer(server), overwrite=True)
    with pytest.raises(InvalidArgumentError, match="takes no overwrite="):
        ckpt.save("step-1", step=1)
    assert server.calls == []
    ckpt.save("step-1", step=1, overwrite=False)  # a str path from save_state is accepted
    assert lines(tmp_path)[0]["state_path"] == "cross_job://job-abc/step-1"


def test_after_resume_only_existing_names_are_refused(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    server.add("step-10")
    server.add("extra-state")
    ckpt, _, _ = make(tmp_path, server)
    info = quietly(ckpt.resume, data_consumed_fallback=0)
    assert info is not None
    assert info.checkpoint_name == "step-10"
    ckpt.save("step-15", step=15, data_consumed=60)
    with pytest.raises(CheckpointExistsError, match="'extra-state' already exists"):
        ckpt.save("extra-state", step=16)


def test_a_job_with_only_sampler_rows_is_a_fresh_start(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5-0a1b2c3d", "INFERENCE_BASE", promotable=True)
    ckpt, _, _ = make(tmp_path, server)
    ckpt.save("step-1", step=1)
    assert server.ops() == ["list", "save_state"]


# Resuming -----------------------------------------------------------------------------


def test_resume_takes_the_newest_server_state_and_the_ledger_cursor(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    for step in (5, 10, 15):
        ckpt.save(f"step-{step}", step=step, data_consumed=step * 4)
    ckpt.save("step-15", kind=CheckpointKind.SAMPLER, step=15, data_consumed=60)
    # step-15's state expired on the server: the ledger says it exists, the server does not.
    server.rows = [r for r in server.rows if r.checkpoint_id != "step-15"]
    server.calls.clear()
    again, _, _ = make(tmp_path, server)
    info = again.resume()
    assert info is not None
    assert (info.step, info.data_consumed, info.checkpoint_name) == (10, 40, "step-10")
    assert info.state_path == "cross_job://job-abc/step-10"
    assert server.calls == [
        ("list", JOB),
        ("load_state_with_optimizer", "cross_job://job-abc/step-10"),
    ]


def test_resume_prefers_the_highest_step_then_the_newest_time(tmp_path: Path) -> None:
    server = Server()
    server.add("step-20", created="2026-01-01T10:00:00.5Z")
    server.add("step-30", created="2026-01-01T09:00:00Z")  # older but a higher step
    server.add("step-30-rerun", created="2026-01-01T11:00:00Z")  # no step: ranks below
    server.add("step-40-0a1b2c3d", "INFERENCE_BASE", promotable=True)  # not resumable
    server.add("step-50", "TRAINING_LORA", created="2026-01-01T08:00:00.123456789Z")
    ckpt, _, _ = make(tmp_path, server)
    info = quietly(ckpt.resume)
    assert info is not None
    assert (info.checkpoint_name, info.step) == ("step-50", 50)


def test_resume_with_the_ledger_lost_uses_the_server_and_warns(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    server.add("step-10")
    ckpt, _, _ = make(tmp_path / "new-machine", server)
    with pytest.warns(LedgerWarning, match="no data cursor for checkpoint 'step-10'"):
        info = ckpt.resume()
    assert info is not None
    assert (info.step, info.data_consumed, info.checkpoint_name) == (10, None, "step-10")
    # The fresh-looking run must not overwrite what the job holds:
    with pytest.raises(CheckpointExistsError):
        ckpt.save("step-10", step=10)
    ckpt.save("step-15", step=15, data_consumed=60)


@pytest.mark.parametrize(("fallback", "expected"), [(0, 0), (lambda step: step * 4, 40)])
def test_data_consumed_fallback(tmp_path: Path, fallback: Any, expected: int) -> None:
    server = Server()
    server.add("step-10")
    ckpt, _, _ = make(tmp_path, server)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = ckpt.resume(data_consumed_fallback=fallback)
    assert info is not None
    assert info.data_consumed == expected


@pytest.mark.parametrize("fallback", [-1, "3", True, 1.5])
def test_a_bad_fallback_is_refused_before_any_request(tmp_path: Path, fallback: Any) -> None:
    ckpt, server, _ = make(tmp_path)
    with pytest.raises(InvalidArgumentError):
        ckpt.resume(data_consumed_fallback=fallback)
    assert server.calls == []


def test_resume_with_nothing_is_a_fresh_start(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    assert ckpt.resume() is None
    assert server.ops() == ["list"]
    ckpt.save("step-1", step=1)  # no second listing: the first one is remembered
    assert server.ops() == ["list", "save_state"]


def test_resume_raises_when_the_control_plane_is_down(tmp_path: Path) -> None:
    ckpt, server, control = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    control.down = True
    server.calls.clear()
    with pytest.raises(APIConnectionError):
        ckpt.resume()
    assert server.ops() == ["list"]


def test_resume_skips_a_torn_last_line(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    with (tmp_path / "checkpoints.jsonl").open("a") as f:
        f.write('{"name": "step-10", "step": 10, "state_pa')
    again, _, _ = make(tmp_path, server)
    info = again.resume()
    assert info is not None
    assert (info.step, info.data_consumed) == (5, 20)


def test_a_newer_schema_line_is_read_for_the_fields_it_shares(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    server.add("step-10")
    line = {
        "schema": 7,
        "name": "step-10",
        "step": 10,
        "data_consumed": 40,
        "state_path": {"uri": "cross_job://job-abc/step-10", "kind": "dcp"},  # a new shape
        "source_job_id": JOB,
        "cursor": {"epoch": 1, "offset": 40},
    }
    (tmp_path / "checkpoints.jsonl").write_text(json.dumps(line) + "\n")
    ckpt, _, _ = make(tmp_path, server)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = ckpt.resume()
    assert info is not None
    assert (info.step, info.data_consumed) == (10, 40)
    assert all("state_path" in str(w.message) for w in caught)
    (record,) = quietly(ckpt.ledger.records)
    assert record.schema_version == 7
    assert record.model_extra == {"cursor": {"epoch": 1, "offset": 40}}


@pytest.mark.parametrize(
    "bad",
    [
        {"source_job_id": "../../etc"},
        {"source_job_id": 42},
        {"state_path": ["not", "text"]},
        {"step": "ten"},
        {"data_consumed": -4},
        {"name": "step 10"},
    ],
    ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()),
)
def test_a_parseable_but_invalid_line_never_crashes_resume(
    tmp_path: Path, bad: dict[str, Any]
) -> None:
    server = Server()
    server.add("step-10")
    good = {"name": "step-10", "step": 10, "data_consumed": 40, "source_job_id": JOB}
    (tmp_path / "checkpoints.jsonl").write_text(json.dumps({**good, **bad}) + "\n")
    ckpt, _, _ = make(tmp_path, server)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = ckpt.resume()
    assert info is not None
    assert info.checkpoint_name == "step-10"
    assert caught
    assert all(issubclass(w.category, LedgerWarning) for w in caught)


@pytest.mark.parametrize("state_path", ["/abs/path/step-10", "../step-10", "tinker://j/w/s"])
def test_a_state_path_is_never_loaded_from_the_ledger(tmp_path: Path, state_path: str) -> None:
    server = Server()
    server.add("step-10")
    line = {"name": "step-10", "step": 10, "data_consumed": 40, "state_path": state_path}
    (tmp_path / "checkpoints.jsonl").write_text(json.dumps(line) + "\n")
    ckpt, _, _ = make(tmp_path, server)
    info = ckpt.resume()
    assert info is not None
    assert (info.state_path, info.data_consumed) == ("cross_job://job-abc/step-10", 40)
    assert ("load_state_with_optimizer", "cross_job://job-abc/step-10") in server.calls


def test_resume_prefers_dataloader_json_which_is_written_before_the_line(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("latest", step=100, data_consumed=400)
    # A later save of the same name died between dataloader.json and its line:
    ckpt.ledger.record_data_consumed("latest", 800)  # type: ignore[attr-defined]
    again, _, _ = make(tmp_path, server)
    info = again.resume()
    assert info is not None
    assert info.data_consumed == 800


@pytest.mark.parametrize("dataloader_json", [False, True])
def test_the_ledger_of_another_job_supplies_no_cursor(
    tmp_path: Path, dataloader_json: bool
) -> None:
    server = Server()
    server.add("step-5")
    other = {"name": "step-5", "step": 5, "data_consumed": 99, "source_job_id": "other-job"}
    (tmp_path / "checkpoints.jsonl").write_text(json.dumps(other) + "\n")
    if dataloader_json:  # keyed by name alone: the other job's entry must not be taken
        (tmp_path / "dataloader.json").write_text(json.dumps({"step-5": 99}))
    ckpt, _, _ = make(tmp_path, server)
    with pytest.warns(LedgerWarning, match="no data cursor"):
        info = ckpt.resume()
    assert info is not None
    assert info.data_consumed is None


def test_a_state_row_of_an_unknown_type_is_not_loaded_but_protected(tmp_path: Path) -> None:
    server = Server()
    server.add("step-9", "CHECKPOINT_TYPE_TRAINING_FSDP2")
    ckpt, _, _ = make(tmp_path, server)
    assert ckpt.resume() is None
    with pytest.raises(CheckpointExistsError, match="1 state checkpoint"):
        ckpt.save("step-1", step=1)


def test_resume_warns_when_the_newest_recorded_state_is_gone(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    server.rows.clear()
    server.calls.clear()
    again, _, _ = make(tmp_path, server)
    with pytest.warns(LedgerWarning, match="starting fresh"):
        assert again.resume() is None
    assert server.ops() == ["list"]


def test_init_from_checkpoint_of_another_job_starts_at_zero(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    info = ckpt.resume(init_from_checkpoint="job-old:step-40")
    assert info is not None
    assert (info.step, info.data_consumed, info.source_job_id) == (0, 0, "job-old")
    assert server.calls == [("load_state_with_optimizer", "cross_job://job-old/step-40")]


def test_init_from_another_job_on_a_job_with_states_still_protects_them(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    ckpt, _, _ = make(tmp_path, server)
    ckpt.resume(init_from_checkpoint="job-old:step-40")
    with pytest.raises(CheckpointExistsError, match="did not resume"):
        ckpt.save("step-1", step=1)


def test_init_from_checkpoint_of_this_job_is_a_full_resume(tmp_path: Path) -> None:
    ckpt, _, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    info = ckpt.resume(init_from_checkpoint=f"{JOB}:step-5")
    assert info is not None
    assert (info.step, info.data_consumed) == (5, 20)


def test_init_from_checkpoint_of_this_job_without_its_record_is_still_a_full_resume(
    tmp_path: Path,
) -> None:
    # A new machine (no ledger): the step comes from the name, the cursor from the fallback,
    # as for resume() without init_from_checkpoint; never step 0 with cursor 0.
    server = Server()
    server.add("step-10")
    ckpt, _, _ = make(tmp_path, server)
    info = ckpt.resume(f"{JOB}:step-10", data_consumed_fallback=lambda step: step * 4)
    assert info is not None
    assert (info.step, info.data_consumed) == (10, 40)
    again, _, _ = make(tmp_path / "other", server)
    with pytest.warns(LedgerWarning, match="no data cursor"):
        info = again.resume(f"{JOB}:step-10")
    assert info is not None
    assert (info.step, info.data_consumed) == (10, None)


def test_init_from_checkpoint_conflicts_with_an_existing_ledger(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    server.calls.clear()
    with pytest.raises(InvalidArgumentError, match="conflicts with the existing ledger"):
        ckpt.resume(init_from_checkpoint="job-old:step-40")
    assert server.calls == []


# Local checks and the write order -----------------------------------------------------


def test_log_path_that_is_a_file_is_refused_at_construction(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("not a folder")
    with pytest.raises(LogPathError, match="is a file, not a directory"):
        make(tmp_path / "run")


def test_a_dangling_log_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run").symlink_to(tmp_path / "gone")
    with pytest.raises(LogPathError, match="dangling symlink"):
        make(tmp_path / "run")


@pytest.mark.parametrize("file", ["checkpoints.jsonl", "dataloader.json"])
def test_a_ledger_file_that_is_a_directory_is_refused(tmp_path: Path, file: str) -> None:
    (tmp_path / file).mkdir()
    with pytest.raises(LogPathError, match="is a directory"):
        make(tmp_path)


def test_a_log_path_broken_after_construction_is_caught_before_the_save(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path / "run")
    for entry in (tmp_path / "run").rglob("*"):
        if entry.is_file():
            entry.unlink()
    for entry in sorted((tmp_path / "run").rglob("*"), reverse=True):
        entry.rmdir()
    (tmp_path / "run").rmdir()
    (tmp_path / "run").write_text("a file now")
    with pytest.raises(LogPathError):
        ckpt.save("step-1", step=1)
    assert server.calls == []


def test_an_unwritable_log_path_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(local_module.tempfile, "mkstemp", read_only)
    with pytest.raises(LogPathError, match=r"not writable.*Read-only"):
        make(tmp_path)


def test_enospc_on_dataloader_json_writes_no_line_and_a_retry_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.save("step-5", step=5, data_consumed=20)
    real = local_module.Ledger.record_data_consumed

    def full_disk(self: Any, name: str, data_consumed: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_module.Ledger, "record_data_consumed", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ckpt.save("step-10", step=10, data_consumed=40)
    assert [line["name"] for line in lines(tmp_path)] == ["step-5"]
    monkeypatch.setattr(local_module.Ledger, "record_data_consumed", real)
    ckpt.save("step-10", step=10, data_consumed=40)  # the state is saved: only record it
    assert [line["name"] for line in lines(tmp_path)] == ["step-5", "step-10"]
    assert server.ops().count("save_state") == 2


class _RecordPutFailsOnce:
    """An object store whose first write of a record fails (a network blip)."""

    def __init__(self, fs: Any) -> None:
        self.fs, self.failures = fs, 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fs, name)

    def pipe_file(self, path: str, data: bytes, mode: str = "overwrite") -> None:
        if "/records/" in path and self.failures:
            self.failures -= 1
            raise ConnectionError("connection reset")
        self.fs.pipe_file(path, data, mode=mode)


def test_a_remote_save_whose_record_write_failed_is_recorded_when_repeated() -> None:
    # The cursor object is written, then the record's write fails: repeating the save
    # writes the record (the cursor left by the failed attempt is this writer's own).
    url = f"memory://workflow/{uuid.uuid4().hex}"
    ckpt, server, _ = make(url)  # type: ignore[arg-type]
    ckpt.ledger.objects.fs = _RecordPutFailsOnce(ckpt.ledger.objects.fs)  # type: ignore[attr-defined]
    with pytest.raises(LedgerStorageError):
        ckpt.save("step-5", step=5, data_consumed=20)
    record = ckpt.save("step-5", step=5, data_consumed=20)
    assert ckpt.ledger.newest() == record
    assert server.ops() == ["list", "save_state"]
    assert ckpt.ledger.data_consumed_of("step-5", JOB) == 20


def test_the_line_is_written_after_dataloader_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt, _, _ = make(tmp_path)
    order: list[str] = []
    real_cursor = local_module.Ledger.record_data_consumed
    real_line = local_module.Ledger._append_line

    def cursor(self: Any, *args: Any) -> None:
        order.append("dataloader.json")
        real_cursor(self, *args)

    def line(self: Any, *args: Any) -> None:
        order.append("checkpoints.jsonl")
        real_line(self, *args)

    monkeypatch.setattr(local_module.Ledger, "record_data_consumed", cursor)
    monkeypatch.setattr(local_module.Ledger, "_append_line", line)
    ckpt.save("step-5", step=5, data_consumed=20)
    assert order == ["dataloader.json", "checkpoints.jsonl"]


# Finishing and promoting --------------------------------------------------------------


def test_finish_saves_both_and_promotes_by_name(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path, output_model_id="my-model")
    model = ckpt.finish(30, 120)
    assert model is not None
    assert model.name == "accounts/acme/models/my-model"
    assert server.ops() == ["list", "save_state", "sampler:base", "list", "promote"]
    assert ("promote", (PREFIX + "step-30-0a1b2c3d", "my-model", BASE)) in server.calls


def test_finish_after_a_periodic_save_of_the_same_step_saves_the_state_once(
    tmp_path: Path,
) -> None:
    ckpt, server, _ = make(tmp_path, dcp_save_interval=5)
    ckpt.maybe_save(10, 40)
    ckpt.finish(10, 40)
    assert server.ops() == ["list", "save_state", "sampler:base"]
    last = lines(tmp_path)[-1]
    assert last["state_path"] == "cross_job://job-abc/step-10"
    assert last["sampler_path"] == "step-10-0a1b2c3d"


def test_finish_right_after_resuming_that_step_adds_only_the_sampler(tmp_path: Path) -> None:
    server = Server()
    server.add("step-10")
    ckpt, _, _ = make(tmp_path, server)
    quietly(ckpt.resume, data_consumed_fallback=40)
    ckpt.finish(10, 40)
    assert server.ops() == ["list", "load_state_with_optimizer", "sampler:base"]


def test_finish_again_after_a_failed_promotion_saves_nothing_and_accepts_its_model(
    tmp_path: Path,
) -> None:
    ckpt, server, control = make(tmp_path, output_model_id="final-model")
    ckpt.finish(10, 40)  # promoted, but say the caller never saw the answer
    server.calls.clear()
    control.conflict_once = True  # the second promotion finds the model already there
    again, _, _ = make(tmp_path, server, output_model_id="final-model")
    again.control_client = control
    model = again.finish(10, 40)
    assert model is not None
    assert model.name == "accounts/acme/models/final-model"
    assert "save_state" not in server.ops()
    assert server.ops().count("promote") == 1


def test_a_rerun_that_replaces_the_job_saves_and_promotes_its_own_final_weights(
    tmp_path: Path,
) -> None:
    # Same job, same final step and cursor, new weights (overwrite=True): the first run's
    # record of that point is not this run's, so its weights are saved, and promoted.
    ckpt, server, _ = make(tmp_path, output_model_id="run-1")
    ckpt.finish(100, 400)
    server.calls.clear()
    rerun, _, _ = make(tmp_path, server, overwrite=True, output_model_id="run-2")
    rerun.finish(100, 400)
    assert server.ops() == ["list", "save_state", "sampler:base", "list", "promote"]
    assert ("save_state", ("step-100", True)) in server.calls


def test_finish_of_another_job_on_the_same_log_path_saves_its_own_checkpoint(
    tmp_path: Path,
) -> None:
    ckpt, server, _ = make(tmp_path)
    ckpt.finish(100, 400)
    ckpt.close()
    server.calls.clear()
    other = TrainingCheckpoints(
        FakeTrainer(server, job="job-new"),
        FakeControl(server),
        trainer_job_id="job-new",
        log_path=tmp_path,
        base_model=BASE,
    )
    other.finish(100, 400)
    assert server.ops() == ["list", "save_state", "sampler:base"]
    assert lines(tmp_path)[-1]["source_job_id"] == "job-new"


def test_finish_again_waits_until_the_model_is_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    fast = functools.partial(workflow_module.wait_until_ready, sleep=waits.append)
    monkeypatch.setattr(workflow_module, "wait_until_ready", fast)
    ckpt, server, control = make(tmp_path, output_model_id="final-model")
    ckpt.finish(10, 40)
    control.conflict_once = True
    control.states_before_ready = 3  # the first process died while the copy ran
    model = ckpt.finish(10, 40)
    assert model is not None
    assert model.state == "READY"
    assert server.ops().count("get_model") == 4
    assert len(waits) == 3


def test_finish_does_not_claim_another_checkpoints_model(tmp_path: Path) -> None:
    ckpt, server, control = make(tmp_path, output_model_id="taken")
    server.models["taken"] = Model.model_validate(
        {"name": "accounts/acme/models/taken", "sourceCheckpoint": PREFIX + "other-0a1b2c3d"}
    )
    control.conflict_once = True
    with pytest.raises(ConflictError):
        ckpt.finish(10, 40)


def test_promote_latest_compares_parsed_times_and_prefers_steps(tmp_path: Path) -> None:
    server = Server()
    server.add(
        "step-20-11111111", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:00Z"
    )
    server.add(
        "step-20-22222222", "INFERENCE_BASE", promotable=True, created="2026-01-01T10:00:00.5Z"
    )
    # An older step touched later (asynchronously) must not win.
    server.add(
        "step-10-33333333", "INFERENCE_BASE", promotable=True, created="2026-01-01T11:00:00Z"
    )
    server.add(
        "step-30-44444444", "INFERENCE_ARC_V2", promotable=False, created="2026-01-01T12:00:00Z"
    )
    ckpt, _, _ = make(tmp_path, server)
    promoted = [c[1][0] for c in server.calls if c[0] == "promote"]
    ckpt.promote_latest("my-model")
    ckpt.promote(output_model_id="m2", step=10)
    ckpt.promote(output_model_id="m3", checkpoint_name="step-20-11111111")
    promoted = [c[1][0] for c in server.calls if c[0] == "promote"]
    assert promoted == [
        PREFIX + "step-20-22222222",
        PREFIX + "step-10-33333333",
        PREFIX + "step-20-11111111",
    ]


def test_promote_takes_the_base_model_from_the_ledger(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path, base_model="accounts/fireworks/models/recorded")
    ckpt.save("step-3", kind=CheckpointKind.SAMPLER, step=3)
    other, _, _ = make(tmp_path, server, base_model=None)
    other.base_model = None
    other.promote(output_model_id="m", step=3)
    assert server.calls[-1][1][2] == "accounts/fireworks/models/recorded"


def test_promote_with_nothing_promotable_names_the_job(tmp_path: Path) -> None:
    server = Server()
    server.add("step-5")
    ckpt, _, _ = make(tmp_path, server)
    with pytest.raises(CheckpointNotFoundError, match="job-abc"):
        ckpt.promote_latest("my-model")
    assert "promote" not in server.ops()


def test_promote_validates_the_id_before_listing(tmp_path: Path) -> None:
    ckpt, server, _ = make(tmp_path)
    with pytest.raises(InvalidModelIdError):
        ckpt.promote_latest("Not Valid")
    assert server.calls == []


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
    ckpt, server, _ = make(tmp_path)
    with pytest.raises(InvalidArgumentError):
        ckpt.promote(output_model_id="my-model", **selection)
    assert server.calls == []


def test_select_checkpoint_rejects_step_and_name() -> None:
    with pytest.raises(InvalidArgumentError):
        select_checkpoint([], job_id=JOB, step=1, checkpoint_name="x")


def test_repr_names_the_job_and_the_log_path(tmp_path: Path) -> None:
    ckpt, _, _ = make(tmp_path)
    assert repr(ckpt) == f"TrainingCheckpoints(trainer_job_id='job-abc', log_path='{tmp_path}')"


def test_the_end_to_end_tests_named_above_exist() -> None:
    root = Path(__file__).parents[2]
    assert __doc__ is not None
    folders = re.findall(r"tests/[\w/]+/", __doc__)
    files = re.findall(r"\btest_\w+\.py\b", __doc__)
    assert folders == ["tests/workflow/", "tests/reliability/"]
    assert all((root / folder).is_dir() for folder in folders)
    assert files
    assert all((root / "tests" / "workflow" / name).is_file() for name in files)
