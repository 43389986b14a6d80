"""The on-disk ledger of a training run: ``checkpoints.jsonl`` and ``dataloader.json``.

Appends write a whole line on an ``O_APPEND`` descriptor (short writes continued), then
``fsync``; ``dataloader.json`` is replaced atomically (temp file, fsync, rename, fsync of
the folder).
A torn or corrupt line (a crash mid-write) is skipped with a warning, never a crash.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["Ledger", "LedgerRecord", "LedgerWarning"]

CHECKPOINTS_FILE = "checkpoints.jsonl"
DATALOADER_FILE = "dataloader.json"
_BLOCK = 64 * 1024


class LedgerWarning(UserWarning):
    """A ledger line could not be read and was skipped."""


class LedgerRecord(BaseModel):
    """One saved checkpoint; unknown keys of existing lines are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    step: int | None = None
    data_consumed: int | None = None
    state_path: str | None = None
    sampler_path: str | None = None
    source_job_id: str | None = None
    base_model: str | None = None

    def to_line(self) -> bytes:
        """The record as one JSON line, newline included."""
        data = self.model_dump(mode="json", exclude_none=True)
        return (json.dumps(data, separators=(", ", ": ")) + "\n").encode()


def _parse(line: bytes) -> LedgerRecord | None:
    try:
        return LedgerRecord.model_validate(json.loads(line))
    except (ValueError, ValidationError):
        return None


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may be short)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"write to the ledger wrote nothing ({len(view)} bytes left)")
        view = view[written:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Ledger:
    """``{log_path}/checkpoints.jsonl`` and ``{log_path}/dataloader.json``."""

    def __init__(
        self, log_path: str | os.PathLike[str], *, filename: str = CHECKPOINTS_FILE
    ) -> None:
        self.log_path = Path(log_path)
        self.path = self.log_path / filename
        self.dataloader_path = self.log_path / DATALOADER_FILE

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Ledger:
        """The ledger whose checkpoints file is ``path`` (any name)."""
        file = Path(path)
        return cls(file.parent, filename=file.name)

    def append(self, record: LedgerRecord) -> bool:
        """Append a record durably; False (nothing written) when it repeats the newest record.

        A save retried after it had already succeeded is so recorded once.
        """
        self.log_path.mkdir(parents=True, exist_ok=True)
        newest = next((r for _, r in self._parsed_backwards() if r is not None), None)
        if newest == record:
            return False
        line = record.to_line()
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if self._ends_torn():
                line = b"\n" + line  # close a torn last line so this one stays whole
            _write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.log_path)  # the new file's name must survive a power loss too
        return True

    def _ends_torn(self) -> bool:
        try:
            with self.path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell() == 0:
                    return False
                f.seek(-1, os.SEEK_END)
                return f.read(1) != b"\n"
        except FileNotFoundError:
            return False

    def records(self) -> list[LedgerRecord]:
        """Every readable record, oldest first."""
        found = list(self.newest_first())
        found.reverse()
        return found

    def newest_first(self) -> Iterator[LedgerRecord]:
        """Readable records, newest first, reading the file backwards in blocks.

        Memory stays bounded by the longest line, whatever the size of the file.
        """
        for number, record in self._parsed_backwards():
            if record is None:
                where = f"{self.path}, line {number} from the end"
                warnings.warn(
                    f"skipping unreadable ledger line: {where}", LedgerWarning, stacklevel=2
                )
            else:
                yield record

    def _parsed_backwards(self) -> Iterator[tuple[int, LedgerRecord | None]]:
        for number, line in self._lines_backwards():
            yield number, _parse(line)

    def _lines_backwards(self) -> Iterator[tuple[int, bytes]]:
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return
        with f:
            position = f.seek(0, os.SEEK_END)
            tail = b""
            count = 0
            while position > 0:
                size = min(_BLOCK, position)
                position -= size
                f.seek(position)
                chunk = f.read(size) + tail
                lines = chunk.split(b"\n")
                tail = lines.pop(0)
                for line in reversed(lines):
                    if line.strip():
                        count += 1
                        yield count, line
            if tail.strip():
                yield count + 1, tail

    def read_dataloader(self) -> dict[str, int]:
        """``{checkpoint name: data consumed}``; empty when missing or unreadable."""
        try:
            data: Any = json.loads(self.dataloader_path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            warnings.warn(
                f"ignoring unreadable {self.dataloader_path}", LedgerWarning, stacklevel=2
            )
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}

    def record_data_consumed(self, name: str, data_consumed: int) -> None:
        """Set one entry of ``dataloader.json``, replacing the file atomically."""
        self.log_path.mkdir(parents=True, exist_ok=True)
        data = self.read_dataloader()
        data[name] = data_consumed
        fd, tmp = tempfile.mkstemp(prefix=".dataloader-", dir=self.log_path)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.dataloader_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.log_path)
