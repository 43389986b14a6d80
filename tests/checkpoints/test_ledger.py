"""The run ledger: local lines (whole, fsynced, torn ones skipped) and remote objects."""

from __future__ import annotations

import errno
import io
import json
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireworks_training.checkpoints.ledger import (
    Ledger,
    LedgerRecord,
    LedgerWarning,
    LogPathError,
    RemoteLedger,
    ledger_at,
    open_ledger,
    parse_record,
    redact_url,
)
from fireworks_training.checkpoints.ledger import local as ledger_module
from fireworks_training.checkpoints.ledger.objects import LocalObjects
from fireworks_training.checkpoints.ledger.reading import BackwardLines
from fireworks_training.checkpoints.ledger.remote import object_keys


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


# Reading backwards in linear time -----------------------------------------------------


def test_a_long_unterminated_tail_is_read_in_linear_work(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.jsonl"
    size = 32 * 2**20
    with path.open("wb") as f:
        f.write(rec("step-1", 1).to_line())
        f.write(b"x" * size)  # a 32 MB last line with no newline: 512 blocks of 64 KiB
    with path.open("rb") as f:
        reader = BackwardLines(f)
        lines = list(reader)
    assert [len(line) for line in lines] == [size, len(rec("step-1", 1).to_line()) - 1]
    total = path.stat().st_size
    assert reader.bytes_read == total  # every byte read once
    assert reader.bytes_joined <= total  # and copied into a line at most once more
    ledger = Ledger(tmp_path)
    with pytest.warns(LedgerWarning, match="line 1 from the end"):
        assert [r.name for r in ledger.newest_first()] == ["step-1"]


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    st.booleans(),
    st.integers(min_value=1, max_value=17),
)
def test_backward_lines_match_a_forward_split(lines: list[bytes], ends: bool, block: int) -> None:
    data = b"\n".join(lines) + (b"\n" if ends else b"")
    expected = [line for line in data.split(b"\n") if line.strip()]
    expected.reverse()
    reader = BackwardLines(io.BytesIO(data), block=block)
    assert list(reader) == expected
    assert reader.bytes_read == len(data)
    assert reader.bytes_joined <= len(data)


# Reading field by field ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kept", "dropped"),
    [
        ({"name": "step-1", "step": "1"}, {"name": "step-1"}, ["step"]),
        ({"name": "step-1", "state_path": {"uri": "x"}}, {"name": "step-1"}, ["state_path"]),
        (
            {"name": "s", "state_path": "tinker://j/weights/s"},
            {"name": "s", "state_path": "tinker://j/weights/s"},
            [],
        ),
        ({"name": "step-1", "data_consumed": True}, {"name": "step-1"}, ["data_consumed"]),
        ({"name": "step-1", "base_model": ""}, {"name": "step-1"}, ["base_model"]),
        ({"name": "s", "schema": 9, "new": [1]}, {"name": "s", "schema": 9, "new": [1]}, []),
        ({"name": "s", "step": None}, {"name": "s"}, []),
    ],
)
def test_value_fields_that_do_not_hold_are_dropped(
    data: dict[str, object], kept: dict[str, object], dropped: list[str]
) -> None:
    record, problems = parse_record(data)
    assert record is not None
    assert record.to_json() == kept
    assert [p.split("=", 1)[0] for p in problems] == dropped


@pytest.mark.parametrize(
    "data",
    [
        {"step": 1},
        {"name": "../etc"},
        {"name": "step-1", "source_job_id": "a/b"},
        {"name": "step-1", "source_job_id": 3},
        ["name"],
        "step-1",
    ],
)
def test_records_without_a_valid_identity_are_skipped(data: object) -> None:
    record, problems = parse_record(data)
    assert record is None
    assert problems


def test_commit_writes_the_cursor_then_the_line_and_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    record = rec("step-5", 5, data_consumed=20)
    assert ledger.commit(record)
    assert not ledger.commit(record)
    assert ledger.read_dataloader() == {"step-5": 20}
    assert ledger.records() == [record]
    assert ledger.data_consumed_of("step-5", "job-a") == 20
    assert ledger.find("step-5", "job-a") == record
    assert ledger.find("step-5", "other-job") == record  # a line without a job id


# The remote ledger: one object per record ------------------------------------------------


class CountingObjects:
    """An object store that counts every operation (each is one request on S3)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.location = inner.location
        self.calls: list[str] = []

    def names(self, prefix: str) -> list[str]:
        self.calls.append(f"names {prefix}")
        return list(self.inner.names(prefix))

    def read(self, key: str) -> bytes | None:
        self.calls.append(f"read {key}")
        data: bytes | None = self.inner.read(key)
        return data

    def create(self, key: str, data: bytes) -> None:
        self.calls.append(f"create {key}")
        self.inner.create(key, data)

    def replace(self, key: str, data: bytes) -> None:
        self.calls.append(f"replace {key}")
        self.inner.replace(key, data)


@pytest.fixture
def memory_url() -> Iterator[str]:
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://ledgers/{uuid.uuid4().hex}"
    yield url
    fsspec.filesystem("memory").rm(url.removeprefix("memory:/"), recursive=True)


def test_a_remote_lookup_costs_the_same_for_ten_or_three_thousand_records(
    tmp_path: Path,
) -> None:
    # The counts are the remote ledger's own: shown on a folder, filled without fsyncs.
    for seq in range(1, 3001):
        record = rec(f"step-{seq}", seq, data_consumed=seq * 4, source_job_id="job-a")
        for key in object_keys(seq, record.name, "w-1"):
            (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / key).write_bytes(record.to_line())
    ledger = RemoteLedger(LocalObjects(tmp_path))
    counting = CountingObjects(ledger.objects)
    fresh = RemoteLedger(counting)
    assert fresh.data_consumed_of("step-3000", "job-a") == 12000
    assert fresh.data_consumed_of("step-1", "job-a") == 4
    assert len(counting.calls) == 6  # list groups, list the newest group, read; twice
    counting.calls.clear()
    assert fresh.newest() == rec("step-3000", 3000, data_consumed=12000, source_job_id="job-a")
    assert len(counting.calls) == 3
    counting.calls.clear()
    assert fresh.commit(rec("step-3001", 3001, source_job_id="job-a"))
    assert [c.split()[0] for c in counting.calls] == ["names", "names", "create", "create"]
    assert counting.calls[-1] == "create records/000000003/000000003001.json"


def test_a_damaged_remote_record_is_skipped_with_a_warning(memory_url: str) -> None:
    ledger = open_ledger(memory_url)
    assert isinstance(ledger, RemoteLedger)
    ledger.commit(rec("step-5", 5, data_consumed=20))
    cursor, record = object_keys(2, "step-10", "w-1")
    ledger.objects.create(record, b'{"name": "step-10", "st')
    ledger.objects.create(cursor, b'{"name": "step-10", "step": "ten", "data_consumed": 40}')
    with pytest.warns(LedgerWarning, match="skipping unreadable ledger record"):
        assert [r.name for r in ledger.newest_first()] == ["step-5"]
    with pytest.warns(LedgerWarning, match="step='ten' is invalid"):
        assert ledger.data_consumed_of("step-10", "job-a") == 40


def test_a_remote_repeat_is_written_once(memory_url: str) -> None:
    ledger = open_ledger(memory_url)
    record = rec("step-5", 5, data_consumed=20)
    assert ledger.commit(record)
    assert not ledger.commit(record)
    assert ledger.records() == [record]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("s3://bucket/runs/a?versionId=3#x", "s3://bucket/runs/a"),
        ("s3://user:pw@bucket/runs/a/", "s3://bucket/runs/a"),
        ("gs://bucket", "gs://bucket"),
    ],
)
def test_a_shown_url_carries_no_secret(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_credentials_in_a_url_are_refused() -> None:
    pytest.importorskip("fsspec")
    with pytest.raises(LogPathError, match="carries credentials") as refused:
        open_ledger("s3://AKIA123:s3cr3t@bucket/run")
    assert "s3cr3t" not in str(refused.value)
    assert "AKIA123" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "kind"),
    [("file:///tmp/run", Ledger), ("runs/a", Ledger), ("memory://runs/a", RemoteLedger)],
)
def test_file_urls_and_paths_are_local_ledgers(url: str, kind: type) -> None:
    pytest.importorskip("fsspec")
    assert isinstance(open_ledger(url), kind)
    assert isinstance(ledger_at(url + "/checkpoints.jsonl"), kind)
