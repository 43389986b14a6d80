"""The ledger on disk: whole lines, durable appends, torn lines, atomic dataloader.json."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

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
