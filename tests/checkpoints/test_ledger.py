"""The ledger on disk: whole lines, durable appends, torn lines, atomic dataloader.json."""

from __future__ import annotations

import errno
import json
import os
import warnings
from pathlib import Path
from typing import IO

import pytest

from fireworks_training.checkpoints import ledger as ledger_module
from fireworks_training.checkpoints.ledger import Ledger, LedgerRecord, LedgerWarning


def rec(name: str, step: int, **extra: object) -> LedgerRecord:
    return LedgerRecord.model_validate(
        {"name": name, "step": step, "state_path": f"cross_job://job-a/{name}", **extra}
    )


def test_append_and_read_back(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "run")
    assert ledger.records() == []
    assert ledger.append(rec("step-5", 5, data_consumed=20, source_job_id="job-a"))
    assert ledger.append(rec("step-10", 10, data_consumed=40))
    lines = (tmp_path / "run" / "checkpoints.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {
        "name": "step-5",
        "step": 5,
        "data_consumed": 20,
        "state_path": "cross_job://job-a/step-5",
        "source_job_id": "job-a",
    }
    assert [r.name for r in ledger.records()] == ["step-5", "step-10"]
    assert [r.name for r in ledger.newest_first()] == ["step-10", "step-5"]


def test_repeated_record_is_written_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    assert ledger.append(rec("step-5", 5))
    assert not ledger.append(rec("step-5", 5))
    assert len(ledger.records()) == 1
    assert ledger.append(rec("step-5", 5, data_consumed=1))
    assert len(ledger.records()) == 2


def test_unknown_keys_survive(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    (tmp_path / "checkpoints.jsonl").write_text(
        json.dumps({"name": "step-1", "step": 1, "custom": {"lr": 0.1}}) + "\n"
    )
    (record,) = ledger.records()
    assert record.model_extra == {"custom": {"lr": 0.1}}
    other = Ledger(tmp_path / "copy")
    other.append(record)
    assert json.loads(other.path.read_text())["custom"] == {"lr": 0.1}


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.append(rec("step-5", 5))
    with ledger.path.open("ab") as f:
        f.write(b'{"name": "step-10", "st')
    with pytest.warns(LedgerWarning, match="unreadable ledger line"):
        assert [r.name for r in ledger.records()] == ["step-5"]
    # The next append closes the torn line, so the new record stays whole.
    assert ledger.append(rec("step-10", 10))
    with pytest.warns(LedgerWarning):
        assert [r.name for r in ledger.records()] == ["step-5", "step-10"]


@pytest.mark.parametrize(
    "garbage", [b"not json\n", b"[1, 2]\n", b'{"step": 3}\n', b"\xff\xfe\n", b'{"name": 5}\n']
)
def test_corrupt_lines_never_crash(tmp_path: Path, garbage: bytes) -> None:
    ledger = Ledger(tmp_path)
    ledger.append(rec("step-5", 5))
    with ledger.path.open("ab") as f:
        f.write(garbage)
    ledger.append(rec("step-10", 10))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [r.name for r in ledger.records()]
    assert names == ["step-5", "step-10"]
    assert [w.category for w in caught] == [LedgerWarning]


def test_backwards_reading_across_blocks(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    with ledger.path.open("wb") as f:
        for i in range(5000):
            f.write(rec(f"step-{i}", i, padding="x" * (i % 50)).to_line())
    newest = ledger.newest_first()
    assert next(newest).name == "step-4999"
    assert [r.step for r in ledger.records()] == list(range(5000))


def test_dataloader_json_replaced_atomically(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    assert ledger.read_dataloader() == {}
    ledger.record_data_consumed("step-5", 20)
    ledger.record_data_consumed("step-10", 40)
    assert json.loads((tmp_path / "dataloader.json").read_text()) == {"step-10": 40, "step-5": 20}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataloader.json"]


def test_unreadable_dataloader_json(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    (tmp_path / "dataloader.json").write_text("{torn")
    with pytest.warns(LedgerWarning):
        assert ledger.read_dataloader() == {}


def test_a_ledger_file_of_any_name(tmp_path: Path) -> None:
    (tmp_path / "my_ckpts.jsonl").write_bytes(rec("step-7", 7).to_line())
    (tmp_path / "checkpoints.jsonl").write_bytes(rec("other", 1).to_line())
    assert [r.name for r in Ledger.from_file(tmp_path / "my_ckpts.jsonl").records()] == ["step-7"]


def _inode(fd: int) -> int:
    return os.fstat(fd).st_ino


def test_append_fsyncs_the_whole_line_and_a_new_file_s_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path / "run")
    real_fsync = os.fsync
    synced: list[tuple[int, bytes | None]] = []

    def spy(fd: int) -> None:
        on_disk = ledger.path.read_bytes() if ledger.path.exists() else None
        synced.append((_inode(fd), on_disk))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    first, second = rec("step-5", 5), rec("step-10", 10)
    ledger.append(first)
    file_inode, dir_inode = ledger.path.stat().st_ino, ledger.log_path.stat().st_ino
    assert synced == [(file_inode, first.to_line()), (dir_inode, first.to_line())]
    synced.clear()
    ledger.append(second)  # the file exists: its folder needs no fsync
    assert synced == [(file_inode, first.to_line() + second.to_line())]


def test_append_continues_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger(tmp_path)
    ledger.append(rec("step-5", 5))
    with ledger.path.open("ab") as f:
        f.write(b'{"name": "torn')  # the next append first closes this line
    real_write = os.write
    sizes: list[int] = []

    def short_write(fd: int, data: bytes) -> int:
        written = real_write(fd, bytes(data)[:7])
        sizes.append(written)
        return written

    record = rec("step-10", 10, data_consumed=40)
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", short_write)
        assert ledger.append(record)
    assert len(sizes) > 1
    assert ledger.path.read_bytes().endswith(b"\n" + record.to_line())
    with pytest.warns(LedgerWarning):
        assert ledger.records()[-1] == record


def test_append_refuses_a_write_that_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path)
    monkeypatch.setattr(os, "write", lambda fd, data: 0)
    with pytest.raises(OSError, match="wrote nothing"):
        ledger.append(rec("step-5", 5))


def test_dataloader_json_is_fsynced_then_renamed_over_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path)
    ledger.record_data_consumed("step-5", 20)
    old = ledger.dataloader_path.read_bytes()
    real_fsync, real_replace = os.fsync, os.replace
    events: list[tuple[str, object]] = []

    def fsync_spy(fd: int) -> None:
        events.append(("fsync", _inode(fd)))
        real_fsync(fd)

    def replace_spy(src: str, dst: Path) -> None:
        # At the rename the new file is complete and the old one untouched.
        assert json.loads(Path(src).read_text()) == {"step-5": 20, "step-10": 40}
        assert dst == ledger.dataloader_path
        assert dst.read_bytes() == old
        events.append(("replace", Path(src).stat().st_ino))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync_spy)
    monkeypatch.setattr(os, "replace", replace_spy)
    ledger.record_data_consumed("step-10", 40)
    new_inode = ledger.dataloader_path.stat().st_ino
    folder = tmp_path.stat().st_ino
    assert events == [("fsync", new_inode), ("replace", new_inode), ("fsync", folder)]
    assert ledger.read_dataloader() == {"step-5": 20, "step-10": 40}


def test_a_failed_dataloader_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(tmp_path)
    ledger.record_data_consumed("step-5", 20)
    old = ledger.dataloader_path.read_bytes()

    def dump_half_then_fail(data: object, f: IO[str], **kwargs: object) -> None:
        text = json.dumps(data)
        f.write(text[: len(text) // 2])
        f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ledger_module.json, "dump", dump_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        ledger.record_data_consumed("step-10", 40)
    monkeypatch.undo()
    assert ledger.dataloader_path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataloader.json"]
    assert ledger.read_dataloader() == {"step-5": 20}
