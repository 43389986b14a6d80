"""Resume trusts the control plane; a damaged or lost ``log_path`` never costs a checkpoint.

Against the emulator with real clients: the ledger lost or damaged, a fresh run on a job
that holds states, a control plane that cannot be reached, a ``log_path`` that cannot be
written, a full disk, and ``finish()`` re-run after dying mid-promote. Each case counts the
requests the emulator received: what must not be sent is not.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import CheckpointKind
from fireworks_training.checkpoints.ledger import LedgerWarning, LogPathError
from fireworks_training.checkpoints.ledger import local as local_module
from fireworks_training.checkpoints.workflow import CheckpointExistsError
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.demo import BATCH_SIZE
from fireworks_training.emulator import Emulator
from fireworks_training.errors import APIConnectionError, InvalidArgumentError

from .workflow_kit import loop, read_only

SAVE = "/save_weights"
LOAD = "/load_weights"


def _rows(emu: Emulator, job: str) -> dict[str, str]:
    with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control:
        return {r.checkpoint_id: str(r.create_time) for r in control.list_checkpoints(job)}


def test_a_lost_ledger_resumes_from_the_server_and_overwrites_nothing(
    emulator: Emulator, tmp_path: Path, figures: dict[str, Any]
) -> None:
    with loop(emulator) as first:
        ckpt = first.ckpt(tmp_path / "machine-a")
        first.train(ckpt, 0, 12, 0)
        job = first.job
    before = _rows(emulator, job)
    with loop(emulator, job) as second:
        ckpt = second.ckpt(tmp_path / "machine-b")  # a new machine: an empty log_path
        mark = second.requests()
        with pytest.warns(LedgerWarning, match="no data cursor for checkpoint 'step-10'"):
            info = ckpt.resume()
        assert info is not None
        assert (info.step, info.data_consumed, info.checkpoint_name) == (10, None, "step-10")
        assert second.sent_since(mark, LOAD) == 1
        with pytest.raises(CheckpointExistsError, match="'step-10' already exists"):
            ckpt.save("step-10", step=10, data_consumed=40)
        assert second.sent_since(mark, SAVE) == 0
    assert _rows(emulator, job) == before
    figures.update(resumed_from=info.checkpoint_name, saves_sent_over_existing=0)


def test_a_fresh_run_on_a_job_with_states_stops_before_any_save(
    emulator: Emulator, tmp_path: Path
) -> None:
    with loop(emulator) as first:
        first.train(first.ckpt(tmp_path / "a"), 0, 10, 0)
        job = first.job
    before = _rows(emulator, job)
    with loop(emulator, job) as second:
        ckpt = second.ckpt(tmp_path / "a")  # the same log_path, but resume() is not called
        mark = second.requests()
        with pytest.raises(CheckpointExistsError, match=r"call resume\(\) first"):
            second.train(ckpt, 0, 5, 0)
        assert second.sent_since(mark, SAVE) == 0
    assert _rows(emulator, job) == before


def test_the_newest_line_in_a_newer_schema_does_not_send_resume_back(
    emulator: Emulator, tmp_path: Path
) -> None:
    log_path = tmp_path / "run"
    with loop(emulator) as first:
        first.train(first.ckpt(log_path), 0, 10, 0)
        job = first.job
    ledger = log_path / "checkpoints.jsonl"
    lines = ledger.read_text().splitlines()
    newest = json.loads(lines[-1])
    newest.update(schema=3, state_path={"uri": newest["state_path"]}, step=str(newest["step"]))
    ledger.write_text("\n".join([*lines[:-1], json.dumps(newest)]) + "\n")
    with loop(emulator, job) as second, warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        info = second.ckpt(log_path).resume()
    assert info is not None
    assert (info.step, info.data_consumed) == (10, 10 * BATCH_SIZE)


@pytest.mark.parametrize(
    "damage",
    [
        {"source_job_id": "../../other"},
        {"state_path": "/etc/passwd"},
        {"name": 12},
        {"data_consumed": "forty"},
    ],
    ids=["garbage-job-id", "absolute-state-path", "numeric-name", "text-cursor"],
)
def test_a_parseable_but_damaged_line_never_crashes_resume(
    emulator: Emulator, tmp_path: Path, damage: dict[str, Any]
) -> None:
    log_path = tmp_path / "run"
    with loop(emulator) as first:
        first.train(first.ckpt(log_path), 0, 10, 0)
        job = first.job
    ledger = log_path / "checkpoints.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join([*lines, json.dumps({**json.loads(lines[-1]), **damage})]) + "\n")
    with loop(emulator, job) as second, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = second.ckpt(log_path).resume()
    assert info is not None
    assert (info.step, info.data_consumed) == (10, 10 * BATCH_SIZE)
    assert all(issubclass(w.category, LedgerWarning) for w in caught)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_control_plane_at_resume_raises_and_loads_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    with loop(emulator) as first:
        first.train(first.ckpt(tmp_path / "run"), 0, 5, 0)
        down = FireworksClient(
            emulator.api_key,
            f"http://127.0.0.1:{_closed_port()}",
            account_id=emulator.account_id,
            max_retries=1,
        )
        with down:
            ckpt = first.ckpt(tmp_path / "run")
            ckpt.control_client = down
            mark = first.requests()
            with pytest.raises(APIConnectionError):
                ckpt.resume()
        assert first.sent_since(mark, LOAD) == 0


def _file(path: Path) -> Path:
    path.write_text("not a folder")
    return path


def _dangling(path: Path) -> Path:
    path.symlink_to(path.parent / "gone")
    return path


def _ledger_is_a_folder(path: Path) -> Path:
    (path / "checkpoints.jsonl").mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (_file, "is a file"),
        (_dangling, "dangling symlink"),
        (_ledger_is_a_folder, "is a directory"),
    ],
    ids=["file", "dangling", "ledger-is-a-folder"],
)
def test_an_unusable_log_path_is_refused_before_any_request(
    emulator: Emulator, tmp_path: Path, make_path: Any, message: str
) -> None:
    with loop(emulator) as process:
        mark = process.requests()
        with pytest.raises(LogPathError, match=message):
            process.ckpt(make_path(tmp_path / "run"))
        assert process.requests() == mark


def test_a_read_only_log_path_is_refused_before_any_request(
    emulator: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    with loop(emulator) as process, read_only(folder) as locked:
        if not locked:
            pytest.skip("no way to make a folder read-only here")
        mark = process.requests()
        with pytest.raises(LogPathError, match="not writable"):
            process.ckpt(folder)
        assert process.requests() == mark


def test_a_log_path_that_turns_read_only_is_caught_before_the_next_save(
    emulator: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    with loop(emulator) as process:
        ckpt = process.ckpt(folder)
        process.train(ckpt, 0, 5, 0)
        with read_only(folder) as locked:
            if not locked:
                pytest.skip("no way to make a folder read-only here")
            mark = process.requests()
            with pytest.raises(LogPathError, match="not writable"):
                process.train(ckpt, 5, 10, 5 * BATCH_SIZE)
            assert process.sent_since(mark, SAVE) == 0


def test_bad_extras_and_a_full_job_name_are_settled_before_any_request(
    emulator: Emulator, tmp_path: Path
) -> None:
    np = pytest.importorskip("numpy")
    with loop(emulator) as process:
        full = f"accounts/{emulator.account_id}/rlorTrainerJobs/{process.job}"
        ckpt = process.ckpt(tmp_path / "run", trainer_job_id=full)
        mark = process.requests()
        with pytest.raises(InvalidArgumentError, match="not JSON-serialisable"):
            ckpt.save("step-1", step=1, data_consumed=4, sample=object())
        assert process.requests() == mark
        record = ckpt.save("step-1", step=1, data_consumed=4, loss=np.float32(0.25))
    line = json.loads((tmp_path / "run" / "checkpoints.jsonl").read_text())
    assert line["loss"] == 0.25
    assert record.state_path == f"cross_job://{process.job}/step-1"


def test_enospc_on_the_cursor_writes_no_line_and_the_retry_sends_nothing_again(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "run"
    real = local_module.Ledger.record_data_consumed

    def full_disk(self: Any, name: str, data_consumed: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with loop(emulator) as process:
        ckpt = process.ckpt(folder)
        mark = process.requests()
        monkeypatch.setattr(local_module.Ledger, "record_data_consumed", full_disk)
        with pytest.raises(OSError, match="No space left"):
            ckpt.save("step-5", step=5, data_consumed=20)
        assert not (folder / "checkpoints.jsonl").exists()
        monkeypatch.setattr(local_module.Ledger, "record_data_consumed", real)
        ckpt.save("step-5", step=5, data_consumed=20)
        assert process.sent_since(mark, SAVE) == 1
    assert [
        json.loads(x)["name"] for x in (folder / "checkpoints.jsonl").read_text().splitlines()
    ] == ["step-5"]


def test_finish_again_after_dying_mid_promote_waits_until_ready(
    tmp_path: Path, figures: dict[str, Any]
) -> None:
    with Emulator(tmp_path / "emulator", promotion_mode="async", promotion_seconds=3600) as emu:
        with loop(emu) as first:
            ckpt = first.ckpt(tmp_path / "run", output_model_id="final", dcp_save_interval=0)
            consumed = first.train(ckpt, 0, 5, 0)
            record = ckpt.save("step-5", kind=CheckpointKind.BOTH, step=5, data_consumed=consumed)
            first.control.begin_promote_checkpoint(  # finish() promotes, and the process dies
                name=f"accounts/{emu.account_id}/rlorTrainerJobs/{first.job}/checkpoints/"
                f"{record.sampler_path}",
                output_model_id="final",
                base_model=ckpt.base_model,
            )
            assert first.control.get_model("final").state == "UPLOADING"
            job = first.job
        with loop(emu, job) as second:
            again = second.ckpt(tmp_path / "run", output_model_id="final")
            mark = second.requests()
            copy_done = threading.Timer(1.0, emu.advance_time, [3600])
            copy_done.start()
            try:
                model = again.finish(5, consumed)
            finally:
                copy_done.cancel()
            polls = second.sent_since(mark, "/models/final")
    assert model is not None
    assert model.state == "READY"
    assert polls >= 2  # the check after the 409, then polls until READY
    figures.update(model_state=model.state, model_polls=polls)
