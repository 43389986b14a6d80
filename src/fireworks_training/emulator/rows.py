"""Checkpoint rows: recording saves, expiry, synthetic bulk rows, and paged listing."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from pathlib import Path
from typing import Any

from . import blobs, kinds
from .names import checkpoint_name
from .service import Service
from .settings import Settings
from .store import Clock, Row, Store
from .wire import ApiError, format_us

__all__ = ["Rows", "row_json"]

_US = 1_000_000
_SYNTHETIC_SESSION = "5e55c0de"


def row_json(row: Row, account: str) -> dict[str, Any]:
    """A row as the control plane lists it; ``sizeBytes`` is an extra field clients keep."""
    return {
        "name": checkpoint_name(account, row.job_id, row.checkpoint_id),
        "createTime": format_us(row.create_us, seconds_only=row.seconds_precision),
        "updateTime": format_us(row.update_us, seconds_only=row.seconds_precision),
        "checkpointType": row.checkpoint_type,
        "promotable": row.promotable,
        "sizeBytes": str(row.size_bytes),
    }


def _encode_token(job_id: str, key: tuple[int, int]) -> str:
    raw = json.dumps({"job": job_id, "after": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(job_id: str, token: str) -> tuple[int, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after = raw["after"]
        if raw["job"] != job_id:
            raise ValueError("token of another job")
        return (int(after[0]), int(after[1]))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise ApiError(400, f"invalid pageToken {token!r}", reason="INVALID_ARGUMENT") from exc


class Rows(Service):
    """The rows of every job."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        super().__init__(store, clock, settings)
        self._dirty = False
        self._order: dict[str, list[Row]] = {}

    def _expire(self, row: Row) -> bool:
        """Mark a row expired once its TTL passed (its file goes); callers then _flush."""
        due = row.expires_us is not None and row.expires_us <= self._clock.now_us()
        if due and not row.expired:
            row.expired = True
            self._store.checkpoint_path(row.job_id, row.checkpoint_id).unlink(missing_ok=True)
            self._dirty = True
        return row.expired

    def _flush(self) -> None:
        if self._dirty:
            self._dirty = False
            self._store.save()

    def _ordered(self, job_id: str) -> list[Row]:
        """The job's rows in listing order, cached until a row is added."""
        ordered = self._order.get(job_id)
        if ordered is None:
            ordered = sorted(self._store.rows(job_id).values(), key=lambda r: r.key)
            self._order[job_id] = ordered
        return ordered

    def find(self, job_id: str, checkpoint_id: str) -> Row | None:
        """A live (not expired) row."""
        with self._lock:
            row = self._store.rows(job_id).get(checkpoint_id)
            if row is None:
                return None
            expired = self._expire(row)
            self._flush()
            return None if expired else row

    def record(self, job_id: str, checkpoint_id: str, ttl_seconds: float | None) -> Row:
        """Record (or overwrite) the row of a file just written; its type comes from the file."""
        path: Path = self._store.checkpoint_path(job_id, checkpoint_id)
        kind = blobs.checkpoint_type(path)
        with self._lock:
            now = self._clock.now_us()
            row = self.find(job_id, checkpoint_id)
            if row is None:
                row = self._new_row(job_id, checkpoint_id, kind, now)
                self._store.rows(job_id)[checkpoint_id] = row
                self._order.pop(job_id, None)
            row.update_us = max(now, row.create_us)
            row.checkpoint_type = kind
            row.promotable = kinds.is_promotable(kind)
            row.size_bytes = path.stat().st_size
            row.has_file = True
            row.expires_us = None if not ttl_seconds else now + int(ttl_seconds * _US)
            self._store.save()
            return row

    def _new_row(self, job_id: str, checkpoint_id: str, kind: str, now: int) -> Row:
        seq = self._store.next_seq()
        rows = self._store.rows(job_id).values()
        latest = max((r.create_us for r in rows), default=0)
        # Every other row gets second precision, as the service mixes them, when that
        # keeps the listing in creation order.
        whole = now - now % _US
        for row in rows:
            if row.seconds_precision and row.create_us - row.create_us % _US == whole:
                # "…:05.3Z" sorts before "…:05Z": a row shown to the second stops being
                # truncated once a later row shares its second.
                row.seconds_precision = False
        seconds = seq % 2 == 0 and whole > latest
        create = now
        return Row(
            job_id, checkpoint_id, kind, kinds.is_promotable(kind), create, create, seq, seconds
        )

    def add_synthetic(
        self, job_id: str, n: int, lora: bool, ttl_seconds: float | None
    ) -> list[str]:
        """``n`` rows without files, of mixed types and precisions, after every existing row."""
        types = (
            [kinds.TRAINING_LORA, kinds.INFERENCE_LORA]
            if lora
            else [kinds.TRAINING, kinds.INFERENCE_BASE, kinds.INFERENCE_ARC_V2]
        )
        with self._lock:
            now = self._clock.now_us()
            start = self._synthetic_start(job_id, n, now)
            expires = None if ttl_seconds is None else now + int(ttl_seconds * _US)
            names: list[str] = []
            for i in range(n):
                kind = types[i % len(types)]
                checkpoint_id = self._unused_id(job_id, kind)
                # Pairs share a second: the first at second precision, the second 0.25 s later
                # with microseconds, so comparing the strings orders them wrongly.
                create = start + (i // 2) * _US + (i % 2) * (_US // 4 + i % 1000)
                row = Row(job_id, checkpoint_id, kind, kinds.is_promotable(kind), create, create)
                row.seq, row.seconds_precision = self._store.next_seq(), i % 2 == 0
                row.size_bytes, row.expires_us = 1024 + i, expires
                self._store.rows(job_id)[checkpoint_id] = row
                names.append(checkpoint_name(self._account, job_id, checkpoint_id))
            self._order.pop(job_id, None)
            self._store.save()
            return names

    def _synthetic_start(self, job_id: str, n: int, now: int) -> int:
        # Just before now, or right after the newest row, so batches never interleave.
        latest = max((r.create_us for r in self._store.rows(job_id).values()), default=None)
        start = now - now % _US - (n // 2 + 1) * _US
        if latest is not None and latest >= start:
            start = latest - latest % _US + _US
        return start

    def _unused_id(self, job_id: str, kind: str) -> str:
        job = self._store.jobs[job_id]
        rows = self._store.rows(job_id)
        while True:
            job.synthetic_rows += 1
            step = job.synthetic_rows
            resumable = kinds.is_resumable(kind)
            checkpoint_id = f"step-{step}" if resumable else f"step-{step}-{_SYNTHETIC_SESSION}"
            if checkpoint_id not in rows:
                return checkpoint_id

    def page(self, job_id: str, page_size: int, token: str | None) -> tuple[list[Row], str | None]:
        """One page: scan ``page_size`` entries after the token, skip expired ones.

        A page can come back empty with a token when every scanned entry had expired, as a
        service that scans storage and filters afterwards does.
        """
        with self._lock:
            ordered = self._ordered(job_id)
            start = 0
            if token:
                after = _decode_token(job_id, token)
                start = bisect.bisect_right(ordered, after, key=lambda r: r.key)
            scanned = ordered[start : start + page_size]
            live = [r for r in scanned if not self._expire(r)]
            self._flush()
            more = start + page_size < len(ordered)
            return live, (_encode_token(job_id, scanned[-1].key) if more else None)

    def page_json(self, job_id: str, page_size: int, token: str | None) -> dict[str, Any]:
        """One page as the listing answers it: ``checkpoints`` and ``nextPageToken``."""
        with self._lock:
            rows, next_token = self.page(job_id, page_size, token)
            body: dict[str, Any] = {"checkpoints": [row_json(r, self._account) for r in rows]}
        if next_token:
            body["nextPageToken"] = next_token
        return body

    def state_names(self, job_id: str) -> list[str]:
        """Names of the live, loadable state checkpoints, oldest first."""
        with self._lock:
            names = [
                r.checkpoint_id
                for r in self._ordered(job_id)
                if r.has_file and kinds.is_resumable(r.checkpoint_type) and not self._expire(r)
            ]
            self._flush()
            return names
