"""The ledger in a local folder: ``checkpoints.jsonl`` and ``dataloader.json``.

Appends write a whole line on an ``O_APPEND`` descriptor (short writes continued), then
``fsync``; ``dataloader.json`` is replaced atomically (temp file, fsync, rename, fsync of
the folder). A commit writes ``dataloader.json`` first and the line last: the line is the
commit point. A torn or invalid line is skipped with a warning, never a crash.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import RunLedger
from .errors import LogPathError
from .lease import DEFAULT_LEASE_TTL_S, Lease
from .objects import LocalObjects, fsync_dir, write_all
from .reading import BackwardLines
from .record import LedgerRecord, LedgerWarning, parse_record

__all__ = ["CHECKPOINTS_FILE", "DATALOADER_FILE", "LEASE_DIR", "Ledger"]

CHECKPOINTS_FILE = "checkpoints.jsonl"
DATALOADER_FILE = "dataloader.json"
LEASE_DIR = ".lease"
_PROBE_PREFIX = ".write-probe-"


def _decode(line: bytes) -> tuple[LedgerRecord | None, list[str]]:
    try:
        data = json.loads(line)
    except ValueError:
        return None, ["not JSON"]
    return parse_record(data)


class Ledger(RunLedger):
    """``{log_path}/checkpoints.jsonl`` and ``{log_path}/dataloader.json``."""

    def __init__(
        self,
        log_path: str | os.PathLike[str],
        *,
        filename: str = CHECKPOINTS_FILE,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self.log_path = Path(log_path)
        self.path = self.log_path / filename
        self.dataloader_path = self.log_path / DATALOADER_FILE
        self.location = str(self.log_path)
        self.lease = Lease(LocalObjects(self.log_path), ttl_s=lease_ttl_s, prefix=LEASE_DIR)

    def __repr__(self) -> str:
        return f"Ledger({self.location!r})"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Ledger:
        """The ledger whose checkpoints file is ``path`` (any name)."""
        file = Path(path)
        return cls(file.parent, filename=file.name)

    # Checks ---------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`LogPathError` unless the folder can hold the ledger; creates it."""
        folder = self.log_path
        if folder.is_symlink() and not folder.exists():
            raise LogPathError(
                f"log_path {self.location!r} is a dangling symlink to {os.readlink(folder)!r}"
            )
        if folder.exists() and not folder.is_dir():
            raise LogPathError(f"log_path {self.location!r} is a file, not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogPathError(f"log_path {self.location!r} cannot be created: {exc}") from None
        for file in (self.path, self.dataloader_path):
            if file.is_dir():
                raise LogPathError(f"{file} is a directory; the ledger needs a file there")
        self._probe_write()

    def _probe_write(self) -> None:
        """Create and remove a file: what a permission or read-only mount would refuse."""
        try:
            fd, probe = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=self.log_path)
        except OSError as exc:
            raise LogPathError(f"log_path {self.location!r} is not writable: {exc}") from None
        os.close(fd)
        os.unlink(probe)
        if self.path.exists() and not os.access(self.path, os.R_OK | os.W_OK):
            raise LogPathError(f"{self.path} is not readable and writable")

    # Writing --------------------------------------------------------------------------

    def commit(self, record: LedgerRecord) -> bool:
        """Record a save: its data cursor, then its line (the commit point).

        False (nothing written) when it repeats the newest record: a save retried after it
        had already succeeded is recorded once.
        """
        if self.newest() == record:
            return False
        if record.data_consumed is not None:
            self.record_data_consumed(record.name, record.data_consumed)
        self._append_line(record)
        return True

    def append(self, record: LedgerRecord) -> bool:
        """Append a line durably; False (nothing written) when it repeats the newest record."""
        if self.newest() == record:
            return False
        self._append_line(record)
        return True

    def _append_line(self, record: LedgerRecord) -> None:
        self.log_path.mkdir(parents=True, exist_ok=True)
        line = record.to_line()
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if self._ends_torn():
                line = b"\n" + line  # close a torn last line so this one stays whole
            write_all(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.log_path)  # the new file's name must survive a power loss too

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

    # Reading --------------------------------------------------------------------------

    def newest(self) -> LedgerRecord | None:
        """The newest readable record, without a warning for lines skipped on the way."""
        return next((r for _, r, _ in self._parsed_backwards() if r is not None), None)

    def newest_first(self) -> Iterator[LedgerRecord]:
        """Readable records, newest first, reading the file backwards in blocks.

        Memory stays bounded by the longest line, whatever the size of the file.
        """
        for number, record, problems in self._parsed_backwards():
            if problems:
                where = f"{self.path}, line {number} from the end"
                what = "skipping unreadable ledger line" if record is None else "ignoring"
                detail = "; ".join(problems)
                warnings.warn(f"{what}: {where}: {detail}", LedgerWarning, stacklevel=2)
            if record is not None:
                yield record

    def find(self, name: str, job_id: str) -> LedgerRecord | None:
        """The newest record of checkpoint ``name`` of trainer job ``job_id``."""
        for record in self.newest_first():
            if record.name == name and record.source_job_id in (None, job_id):
                return record
        return None

    def data_consumed_of(self, name: str, job_id: str) -> int | None:
        """The data cursor saved with ``name``: ``dataloader.json``, else its line.

        ``dataloader.json`` is keyed by name alone: its entry is taken unless lines of that
        name belong to another job and none to this one.
        """
        consumed = self.read_dataloader().get(name)
        if consumed is not None:
            owners = {
                r.source_job_id for _, r, _ in self._parsed_backwards() if r and r.name == name
            }
            if job_id in owners or None in owners or not owners:
                return consumed
        record = self.find(name, job_id)
        return None if record is None else record.data_consumed

    def _parsed_backwards(self) -> Iterator[tuple[int, LedgerRecord | None, list[str]]]:
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return
        with f:
            for number, line in enumerate(BackwardLines(f), start=1):
                record, problems = _decode(line)
                yield number, record, problems

    # dataloader.json ------------------------------------------------------------------

    def read_dataloader(self) -> dict[str, int]:
        """``{checkpoint name: data consumed}``; empty when missing or unreadable."""
        try:
            data: Any = json.loads(self.dataloader_path.read_bytes())
        except FileNotFoundError:
            return {}
        except (ValueError, OSError):
            warnings.warn(
                f"ignoring unreadable {self.dataloader_path}", LedgerWarning, stacklevel=2
            )
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(k): v
            for k, v in data.items()
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0
        }

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
        fsync_dir(self.log_path)
