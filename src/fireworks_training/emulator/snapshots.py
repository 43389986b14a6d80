"""What a replica may load: a snapshot of the attached trainer job, checked against its blob.

A full snapshot (whole bf16 weights) replaces the replica's bits and becomes its chain root.
A delta applies only when its metadata names the snapshot the replica serves, verbatim, and
the blob's own XOR base is the replica's chain root: ``bits = root_bits XOR delta``. A LoRA
adapter is merged into the base weights. Anything else fails the load and leaves the
replica as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import blobs, kinds
from .fleet import Load, Loaded, LoadError, Replica
from .model import UserError, base_weights
from .names import checkpoint_id_problem, parse_name
from .rows import Rows
from .store import Store

__all__ = ["COMPRESSION_FORMAT", "CHECKSUM_FORMAT", "Snapshots"]

COMPRESSION_FORMAT = "arc_v2"
CHECKSUM_FORMAT = "alder32"  # the wire's own spelling
_CKPT_SUFFIX = ".ckpt"


class Snapshots:
    """Resolves identities in a trainer job's bucket and computes what a load leaves."""

    def __init__(self, store: Store, rows: Rows, account: str) -> None:
        self._store = store
        self._rows = rows
        self._account = account

    def load(self, replica: Replica, load: Load, job_id: str | None, base_model: str) -> Loaded:
        """The bits ``load`` leaves on ``replica``; :class:`LoadError` when it must fail."""
        checkpoint_id, path = self._resolve(load.identity, job_id)
        try:
            blob = blobs.read_blob(path)
        except (OSError, UserError) as exc:
            raise LoadError(f"snapshot {load.identity!r} cannot be read: {exc}") from exc
        header = blob.header
        if header.get("base_model") != base_model:
            raise LoadError(
                f"snapshot {load.identity!r} is of base model {header.get('base_model')!r}, "
                f"the deployment serves {base_model!r}"
            )
        content = header.get("content")
        if content == "delta":
            return _delta(replica, load, blob)
        if load.metadata is not None:
            raise LoadError(
                f"snapshot {load.identity!r} is a full {content} snapshot; "
                "incremental_snapshot_metadata is only for deltas"
            )
        if content == "weights":
            bits = blob.arrays["W"].copy()
            return Loaded(bits, checkpoint_id, bits)
        if content == "adapter":
            merged = base_weights(base_model) + (
                blobs.bf16_float(blob.arrays["A"]) @ blobs.bf16_float(blob.arrays["B"])
            )
            return Loaded(blobs.bf16_bits(merged.astype(np.float32)), None, None, adapter=True)
        raise LoadError(f"snapshot {load.identity!r} holds no sampler weights ({content})")

    def _resolve(self, identity: str, job_id: str | None) -> tuple[str, Path]:
        """The checkpoint id and file of ``identity`` in the job's bucket."""
        if job_id is None:
            raise LoadError("the deployment has no hotLoadTrainerJob to load snapshots from")
        ids = parse_name(identity, "rlorTrainerJobs", "checkpoints")
        if ids is not None:
            if ids[:2] != [self._account, job_id]:
                raise LoadError(
                    f"snapshot {identity!r} is not in the attached trainer job {job_id!r}"
                )
            checkpoint_id = ids[2]
        else:
            checkpoint_id = identity
        problem = checkpoint_id_problem(checkpoint_id)
        if problem:
            raise LoadError(problem)
        row = self._rows.find(job_id, checkpoint_id)
        if row is None or not row.has_file:
            raise LoadError(f"snapshot {identity!r} not found in trainer job {job_id!r}")
        if kinds.is_resumable(row.checkpoint_type):
            raise LoadError(f"{identity!r} is a training state checkpoint, not a sampler snapshot")
        return checkpoint_id, self._store.checkpoint_path(job_id, checkpoint_id)


def _delta(replica: Replica, load: Load, blob: blobs.Blob) -> Loaded:
    meta = load.metadata
    if meta is None:
        raise LoadError(
            f"snapshot {load.identity!r} is a delta: it needs incremental_snapshot_metadata"
        )
    _check_format(meta, "compression_format", COMPRESSION_FORMAT)
    _check_format(meta, "checksum_format", CHECKSUM_FORMAT)
    previous = meta.get("previous_snapshot_identity")
    if previous != replica.current:
        raise LoadError(
            f"delta {load.identity!r} names previous snapshot {previous!r}, "
            f"the replica serves {replica.current!r}"
        )
    base = str(blob.header.get("base", "")).removesuffix(_CKPT_SUFFIX)
    if replica.root_bits is None or base != replica.root:
        raise LoadError(
            f"delta {load.identity!r} is relative to {base!r}, which this replica did not load "
            f"in full (its chain root is {replica.root!r})"
        )
    return Loaded(blobs.apply_delta(replica.root_bits, blob), replica.root, replica.root_bits)


def _check_format(meta: dict[str, Any], key: str, expected: str) -> None:
    if meta.get(key) != expected:
        raise LoadError(f"{key} must be {expected!r}, got {meta.get(key)!r}")
