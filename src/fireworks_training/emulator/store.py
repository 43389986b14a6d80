"""The control plane's records (jobs, rows, models, operations, deployments), kept on disk.

Every mutation rewrites ``control.json`` atomically under the store's lock, so restarting
the emulator on the same state dir keeps everything. Times are integer microseconds of the
emulator's clock, which tests can move forward.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Clock",
    "DeploymentRecord",
    "Job",
    "ModelRecord",
    "OperationRecord",
    "Row",
    "Store",
]

_US = 1_000_000


class Clock:
    """Wall-clock microseconds plus an offset that tests can advance."""

    def __init__(self) -> None:
        self._offset_us = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        """The current time in microseconds since the epoch."""
        with self._lock:
            return time.time_ns() // 1000 + self._offset_us

    def advance(self, seconds: float) -> None:
        """Move the clock forward (TTL expiry, promotion completion)."""
        with self._lock:
            self._offset_us += int(seconds * _US)


@dataclass
class Job:
    """A trainer job's control-plane record."""

    job_id: str
    base_model: str
    lora_rank: int
    learning_rate: float | None
    max_context_length: int | None
    display_name: str | None
    node_count: int | None
    state: str
    create_us: int
    update_us: int
    running_at_us: int | None = None
    status_message: str | None = None
    generation: int = 0
    synthetic_rows: int = 0
    sampler_saves: int = 0


@dataclass
class Row:
    """A checkpoint row; an expired row stays as a tombstone (listing skips it)."""

    job_id: str
    checkpoint_id: str
    checkpoint_type: str
    promotable: bool
    create_us: int
    update_us: int
    seq: int = 0
    seconds_precision: bool = False
    size_bytes: int = 0
    expires_us: int | None = None
    has_file: bool = False
    expired: bool = False

    @property
    def key(self) -> tuple[int, int]:
        """The listing order: oldest createTime first, then insertion order."""
        return (self.create_us, self.seq)


@dataclass
class ModelRecord:
    """A promoted model."""

    model_id: str
    kind: str
    base_model: str
    lora_rank: int
    source_checkpoint: str
    create_us: int
    ready_us: int


@dataclass
class OperationRecord:
    """A long-running promotion."""

    operation_id: str
    model_id: str
    create_us: int
    done_us: int


@dataclass
class DeploymentRecord:
    """A deployment resource: its camelCase fields as the control plane keeps them.

    ``settle_us`` is when a transitional state ends (CREATING or UPDATING become READY,
    DELETING becomes gone).
    """

    deployment_id: str
    fields: dict[str, Any]
    state: str
    create_us: int
    update_us: int
    settle_us: int | None = None


@dataclass
class _Snapshot:
    jobs: dict[str, Job] = field(default_factory=dict)
    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    models: dict[str, ModelRecord] = field(default_factory=dict)
    operations: dict[str, OperationRecord] = field(default_factory=dict)
    deployments: dict[str, DeploymentRecord] = field(default_factory=dict)
    seq: int = 0


class Store:
    """All control-plane records of one emulator, persisted under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.RLock()
        root.mkdir(parents=True, exist_ok=True)
        self._data = self._load()

    @property
    def jobs(self) -> dict[str, Job]:
        """Trainer jobs by id."""
        return self._data.jobs

    @property
    def models(self) -> dict[str, ModelRecord]:
        """Promoted models by id."""
        return self._data.models

    @property
    def operations(self) -> dict[str, OperationRecord]:
        """Promotion operations by id."""
        return self._data.operations

    @property
    def deployments(self) -> dict[str, DeploymentRecord]:
        """Deployments by id."""
        return self._data.deployments

    def rows(self, job_id: str) -> dict[str, Row]:
        """The checkpoint rows of a job by checkpoint id (created on first use)."""
        return self._data.rows.setdefault(job_id, {})

    def next_seq(self) -> int:
        """A number that orders rows created in the same microsecond."""
        self._data.seq += 1
        return self._data.seq

    def checkpoint_path(self, job_id: str, checkpoint_id: str) -> Path:
        """Where a checkpoint's file lives."""
        return self.root / "checkpoints" / job_id / f"{checkpoint_id}.ckpt"

    def model_path(self, model_id: str) -> Path:
        """Where a promoted model's weights live."""
        return self.root / "models" / f"{model_id}.ckpt"

    def save(self) -> None:
        """Write every record atomically."""
        # ``vars`` rather than ``dataclasses.asdict``: the same JSON without asdict's deep
        # copy, which cost 10x more (6.6 ms against 0.6 ms with 250 rows in the store).
        text = json.dumps(self._data, default=vars)
        path = self.root / "control.json"
        tmp = path.with_name("control.json.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _load(self) -> _Snapshot:
        path = self.root / "control.json"
        if not path.exists():
            return _Snapshot()
        raw: dict[str, Any] = json.loads(path.read_text())
        return _Snapshot(
            jobs={k: Job(**v) for k, v in raw["jobs"].items()},
            rows={j: {k: Row(**v) for k, v in rs.items()} for j, rs in raw["rows"].items()},
            models={k: ModelRecord(**v) for k, v in raw["models"].items()},
            operations={k: OperationRecord(**v) for k, v in raw["operations"].items()},
            deployments={k: DeploymentRecord(**v) for k, v in raw.get("deployments", {}).items()},
            seq=raw["seq"],
        )
