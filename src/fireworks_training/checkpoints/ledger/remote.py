"""The ledger on object storage (``s3://``, ``gs://``, ``memory://``, ...): no append, no fsync.

Each record is one small immutable object, written once with a conditional create::

    records/<group>/<seq>.json                 every record, in order (the commit point)
    cursors/<name>/<group>/<seq>-<writer>.json the same record, found by checkpoint name
    lease/<epoch>.json                         who writes to this log_path

``seq`` is zero-padded (12 digits) and ``group`` is ``seq // 1000`` (9 digits), so names sort
in write order and no listing needs more than a group of 1,000 names. A save writes its
cursor, then its record; a writer that finds its record number taken has a rival and stops.

Requests, whatever the number of records ``n`` (a listing of at most 1,000 names is one
request): a checkpoint's newest record or cursor, 3 (list its groups, list the newest group,
read); the newest record overall, 3; the next record number, 2 (once per writer); a commit, 2
conditional puts. Groups number ``n / 1000``, so listing them is one request up to a million
records. On S3 (s3fs) a read of a missing object costs 2 (HEAD, then a listing).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

from .base import RunLedger
from .errors import LogPathInUseError
from .lease import DEFAULT_LEASE_TTL_S, Lease
from .objects import Objects
from .record import LedgerRecord, LedgerWarning, parse_record

__all__ = ["GROUP_SIZE", "RemoteLedger", "object_keys"]

_SEQ_DIGITS = 12
_GROUP_DIGITS = 9
GROUP_SIZE = 1000


def _numbered(names: list[str]) -> list[tuple[int, str]]:
    """``(number, name)`` of the names that start with digits, in descending order."""
    found = []
    for name in names:
        digits = name.split("-", 1)[0].removesuffix(".json")
        if digits.isdigit():
            found.append((int(digits), name))
    found.sort(reverse=True)
    return found


def object_keys(seq: int, name: str, writer: str) -> tuple[str, str]:
    """The keys of record number ``seq`` (checkpoint ``name``): its cursor, then itself."""
    group = f"{seq // GROUP_SIZE:0{_GROUP_DIGITS}d}"
    number = f"{seq:0{_SEQ_DIGITS}d}"
    return f"cursors/{name}/{group}/{number}-{writer}.json", f"records/{group}/{number}.json"


class RemoteLedger(RunLedger):
    """A run's records as objects under one prefix of an object store."""

    def __init__(self, objects: Objects, *, lease_ttl_s: float = DEFAULT_LEASE_TTL_S) -> None:
        self.objects = objects
        self.location = objects.location
        self.lease = Lease(objects, ttl_s=lease_ttl_s)
        self._next_seq: int | None = None
        self._last: LedgerRecord | None = None  # the newest record this writer committed

    def __repr__(self) -> str:
        return f"RemoteLedger({self.location!r})"

    def check(self) -> None:
        """Nothing local to check: the storage is checked by the lease before every save."""

    # Writing --------------------------------------------------------------------------

    def commit(self, record: LedgerRecord) -> bool:
        """Write the record's cursor, then the record; False when it repeats the last one."""
        if self._last == record:
            return False
        seq = self._sequence()
        data = record.to_line()
        cursor_key, record_key = object_keys(seq, record.name, self.lease.holder.writer)
        try:
            self.objects.create(cursor_key, data)
        except FileExistsError:
            # Left by this writer's earlier attempt at record ``seq``, whose record write
            # failed (the key names the writer, and ``seq`` moves on only once its record
            # exists): this attempt's cursor replaces it.
            self.objects.replace(cursor_key, data)
        try:
            self.objects.create(record_key, data)
        except FileExistsError:
            self._next_seq = None
            raise LogPathInUseError(
                f"record {seq} of {self.location} was written by another writer: only one "
                "training loop may write to a log_path"
            ) from None
        self._next_seq = seq + 1
        self._last = record
        return True

    def _sequence(self) -> int:
        if self._next_seq is None:
            newest = next(self._keys_newest_first("records"), None)
            self._next_seq = 1 if newest is None else newest[0] + 1
        return self._next_seq

    # Reading --------------------------------------------------------------------------

    def _keys_newest_first(self, prefix: str) -> Iterator[tuple[int, str]]:
        """``(seq, key)`` of the objects under ``prefix``, newest first, a group at a time."""
        for _, group in _numbered(self.objects.names(prefix)):
            for seq, name in _numbered(self.objects.names(f"{prefix}/{group}")):
                yield seq, f"{prefix}/{group}/{name}"

    def _read(self, key: str) -> LedgerRecord | None:
        data = self.objects.read(key)
        problems: list[str]
        record: LedgerRecord | None
        if data is None:
            return None  # removed since it was listed
        try:
            record, problems = parse_record(json.loads(data))
        except ValueError:
            record, problems = None, ["not JSON"]
        if problems:
            what = "skipping unreadable ledger record" if record is None else "ignoring"
            detail = "; ".join(problems)
            warnings.warn(f"{what}: {self.location}/{key}: {detail}", LedgerWarning, stacklevel=4)
        return record

    def newest_first(self) -> Iterator[LedgerRecord]:
        """Readable records, newest first, one object read at a time."""
        for _, key in self._keys_newest_first("records"):
            record = self._read(key)
            if record is not None:
                yield record

    def find(self, name: str, job_id: str) -> LedgerRecord | None:
        """The newest record of checkpoint ``name`` of trainer job ``job_id``."""
        for _, key in self._keys_newest_first(f"cursors/{name}"):
            record = self._read(key)
            if record is not None and record.source_job_id in (None, job_id):
                return record
        return None

    def data_consumed_of(self, name: str, job_id: str) -> int | None:
        """The data cursor saved with ``name``."""
        record = self.find(name, job_id)
        return None if record is None else record.data_consumed
