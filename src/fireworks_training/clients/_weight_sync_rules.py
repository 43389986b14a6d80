"""Weight sync without I/O: hot-load bodies, replica status, and the base/delta chain rules.

docs/protocol.md §4.2-§4.4. What a signal carries; how the status of every replica reads
(a load is done only when every replica serves it); which saves a training client made and
which base each delta is XORed against; what this process knows a deployment serves; and
the decision for one snapshot: already served, a full load, an incremental load (its base is
the deployment's chain root and its previous identity is what every replica serves), or a
refusal before anything is sent. Never a delta as full weights.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..checkpoints.kinds import CheckpointType, SamplerCheckpointType
from ..checkpoints.names import (
    CROSS_JOB_SCHEME,
    CheckpointName,
    TrainerJobName,
    check_checkpoint_id,
    check_load_reference,
)
from ..errors import (
    APIStatusError,
    InvalidArgumentError,
    InvalidNameError,
    SnapshotChainError,
    WeightSyncError,
)

__all__ = [
    "DEFAULT_CHECKSUM_FORMAT",
    "DEFAULT_DELTA_COMPRESSION",
    "HOT_LOAD_PATH",
    "ChainState",
    "Deadline",
    "LoadPlan",
    "LoadState",
    "PlanKind",
    "Progress",
    "ReplicaStatus",
    "Snapshot",
    "SnapshotLog",
    "chain_state",
    "incremental_metadata",
    "load_progress",
    "next_sampler_type",
    "parse_checkpoint_type",
    "parse_status",
    "plan_load",
    "reset_prompt_cache_refused",
    "served_by_all",
    "signal_body",
    "snapshot_from_row",
    "snapshot_identity",
]

DEFAULT_DELTA_COMPRESSION = "arc_v2"
DEFAULT_CHECKSUM_FORMAT = "alder32"  # sic: the wire's own spelling
HOT_LOAD_PATH = "/hot_load/v1/models/hot_load"


# Signals ---------------------------------------------------------------------------------


def incremental_metadata(
    previous: str, compression_format: str = DEFAULT_DELTA_COMPRESSION
) -> dict[str, str]:
    """The metadata that makes a signal incremental: the delta applies on ``previous``."""
    return {
        "previous_snapshot_identity": previous,
        "compression_format": compression_format,
        "checksum_format": DEFAULT_CHECKSUM_FORMAT,
    }


def signal_body(
    identity: str, *, reset_prompt_cache: bool | None, metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``POST hot_load``: the identity, the cache flag (None: left out), a delta's metadata."""
    body: dict[str, Any] = {"identity": identity}
    if reset_prompt_cache is not None:
        body["reset_prompt_cache"] = reset_prompt_cache
    if metadata:
        body["incremental_snapshot_metadata"] = dict(metadata)
    return body


def reset_prompt_cache_refused(exc: APIStatusError) -> bool:
    """True for the 400 of an older gateway that does not know ``reset_prompt_cache``."""
    if exc.status_code != 400:
        return False
    text = f"{exc.server_message} {exc.body if isinstance(exc.body, str) else ''}".lower()
    return "reset_prompt_cache" in text and "extra inputs are not permitted" in text


class Deadline:
    """One deadline for a whole sync (signal, retries, waiting), and its polling cadence.

    Polls come soon after the signal, then every tenth of the time waited so far, at most
    ``cap_s`` apart: a load that takes ``t`` is seen done by about ``1.1 t``.
    """

    FIRST_POLL_S = 0.05

    def __init__(self, seconds: float | None, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._clock = clock
        self.started = clock()
        self._end = math.inf if seconds is None else self.started + seconds

    def remaining(self) -> float:
        """Seconds left (``inf`` without a deadline; negative once passed)."""
        return self._end - self._clock()

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.remaining() <= 0

    def poll_delay(self, cap_s: float) -> float:
        """Seconds to sleep before the next status poll, never past the deadline."""
        waited = self._clock() - self.started
        delay = min(max(self.FIRST_POLL_S, waited / 10), cap_s)
        return max(min(delay, self.remaining()), 0.0)

    def timeout(self, limit: float) -> float:
        """A request timeout: ``limit``, or less when the deadline is nearer (at least 1 ms)."""
        return max(min(limit, self.remaining()), 0.001)


# Status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaStatus:
    """One replica as the hot-load status reports it."""

    index: int
    current: str | None
    ready: bool
    stage: str
    target: str | None = None
    error: str | None = None
    adapters: tuple[str, ...] = ()

    def serves(self, identity: str) -> bool:
        """Ready, with ``identity`` as its snapshot or as a loaded adapter."""
        return self.ready and (self.current == identity or identity in self.adapters)

    def describe(self) -> str:
        """One clause: what the replica serves and where its loading stands."""
        text = f"replica {self.index} serves {self.current or 'the base weights'}"
        text += f" (stage {self.stage}"
        if self.target and self.target != self.current:
            text += f", loading {self.target}"
        if not self.ready:
            text += ", not ready"
        return text + ")"


def _protocol_error(message: str) -> WeightSyncError:
    return WeightSyncError(f"hot-load status: {message}", category="protocol")


def parse_status(body: Mapping[str, Any]) -> list[ReplicaStatus]:
    """Every replica of a status answer; an answer without a ``replicas`` list raises."""
    replicas = body.get("replicas")
    if not isinstance(replicas, list):
        raise _protocol_error(f"no 'replicas' list (keys {sorted(body)})")
    parsed = []
    for index, replica in enumerate(replicas):
        if not isinstance(replica, Mapping):
            raise _protocol_error(f"replica {index} is not an object")
        loading = replica.get("loading_state")
        loading = loading if isinstance(loading, Mapping) else {}
        current = replica.get("current_snapshot_identity")
        adapters = tuple(
            str(a.get("identity"))
            for a in replica.get("loaded_adapters") or []
            if isinstance(a, Mapping) and a.get("status") == "loaded"
        )
        target, error = loading.get("target_snapshot_identity"), loading.get("error_message")
        parsed.append(
            ReplicaStatus(
                index=index,
                current=current if isinstance(current, str) and current else None,
                ready=replica.get("readiness") is True,
                stage=str(loading.get("stage") or "unknown"),
                target=target if isinstance(target, str) else None,
                error=error if isinstance(error, str) else None,
                adapters=adapters,
            )
        )
    return parsed


def served_by_all(replicas: list[ReplicaStatus]) -> str | None:
    """The identity every replica serves, ready; None when none is up or they differ."""
    if not replicas:
        return None
    identity = replicas[0].current
    if identity is None or not all(r.serves(identity) for r in replicas):
        return None
    return identity


class Progress(enum.Enum):
    """Where a load stands across the replicas."""

    DONE = "done"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True)
class LoadState:
    """Where a load stands: its progress, what holds it up, a failing replica's message."""

    progress: Progress
    detail: str = ""
    server_message: str = ""


def load_progress(replicas: list[ReplicaStatus], identity: str) -> LoadState:
    """DONE when every replica serves ``identity``; FAILED when one reports an error for it.

    The detail says which replica failed and why, or which ones are not there yet.
    """
    if not replicas:
        return LoadState(Progress.PENDING, "no replica is up")
    failed = [r for r in replicas if r.stage == "error" and r.target == identity]
    if failed:
        first = failed[0]
        message = first.error or "load failed"
        return LoadState(Progress.FAILED, f"replica {first.index}: {message}", message)
    behind = [r for r in replicas if not r.serves(identity)]
    if not behind:
        return LoadState(Progress.DONE)
    return LoadState(Progress.PENDING, "; ".join(r.describe() for r in behind))


# Snapshots and the chain ------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A sampler snapshot as weight sync sees it.

    ``identity`` is what the deployment loads (the snapshot name). ``reference`` is, for a
    full-parameter delta, the base snapshot its XOR was computed against (None: unknown).
    """

    identity: str
    checkpoint_type: SamplerCheckpointType
    lora_rank: int = 0
    reference: str | None = None
    path: str | None = None

    @property
    def is_delta(self) -> bool:
        """A full-parameter XOR delta: it only applies on top of its base."""
        return self.checkpoint_type is SamplerCheckpointType.DELTA and self.lora_rank == 0

    @property
    def is_adapter(self) -> bool:
        """A LoRA adapter, loaded whole and merged by the deployment (never a chain root)."""
        return self.lora_rank > 0 and self.checkpoint_type is not SamplerCheckpointType.MERGED_BASE


class SnapshotLog:
    """The sampler saves of one training client, in order: their types and delta bases.

    A full-parameter delta is XORed against the model's latest base save, so the log keeps
    that base as each delta's ``reference``. Thread-safe: saves are planned on the caller's
    thread and recorded when their results arrive.
    """

    def __init__(self, lora_rank: int) -> None:
        self.lora_rank = lora_rank
        self._lock = threading.Lock()
        # Each planned save's type and, for a delta, the base it is XORed against.
        self._planned: dict[str, tuple[SamplerCheckpointType, str | None]] = {}
        self._saved: dict[str, Snapshot] = {}
        self._latest_base: str | None = None

    @property
    def latest_base(self) -> str | None:
        """The latest whole-weights save sent (what the next delta XORs against), in the
        order the trainer runs them, whether or not its answer has arrived."""
        return self._latest_base

    def plan(
        self, snapshot_name: str, checkpoint_type: SamplerCheckpointType
    ) -> Callable[[], None]:
        """A save of ``snapshot_name`` as ``checkpoint_type`` is being sent; returns what
        takes the plan back (the save could not be sent after all).

        A delta's base is taken now, not when its answer arrives: answers can come in
        another order, or not at all (a lost answer to a base the trainer did save).
        """
        with self._lock:
            before = self._latest_base
            delta = self.lora_rank == 0 and checkpoint_type is SamplerCheckpointType.DELTA
            self._planned[snapshot_name] = (checkpoint_type, before if delta else None)
            if self.lora_rank == 0 and not delta:
                self._latest_base = snapshot_name

        def undo() -> None:
            with self._lock:
                self._planned.pop(snapshot_name, None)
                if self._latest_base == snapshot_name:
                    self._latest_base = before

        return undo

    def saved(self, snapshot_name: str, path: str | None) -> Snapshot:
        """The save of ``snapshot_name`` succeeded (the trainer answered ``path``)."""
        with self._lock:
            planned = self._planned.pop(snapshot_name, None)
            if planned is None:  # not planned through this log: a base, the latest now
                kind, reference = SamplerCheckpointType.BASE, None
                if self.lora_rank == 0:
                    self._latest_base = snapshot_name
            else:
                kind, reference = planned
            snapshot = Snapshot(snapshot_name, kind, self.lora_rank, reference=reference, path=path)
            self._saved[snapshot_name] = snapshot
            if path:
                self._saved.setdefault(path, snapshot)
            return snapshot

    def find(self, reference: str) -> Snapshot | None:
        """The save known by this identity or trainer path, if this client made it."""
        with self._lock:
            return self._saved.get(reference)


@dataclass
class ChainState:
    """What this process knows a deployment serves.

    ``loaded``: the identity every replica served at the last look (None: the base weights,
    no agreement, or not known). ``root``: the whole snapshot ``loaded``'s chain starts from,
    known only when this process loaded it. ``attempted``: a load this process signalled
    that was not confirmed (it may finish later); ``loading`` while that load is waited on
    (replicas may serve it before the wait sees it). ``generation`` moves whenever ``loaded``
    does, so a sampler can tell its snapshot was replaced without a request.
    """

    loaded: str | None = None
    root: str | None = None
    attempted: Snapshot | None = None
    loading: bool = False
    generation: int = 0

    def observe(self, served: str | None) -> None:
        """Take in what every replica serves now (re-read after any failure, before a load)."""
        if served is not None and served == self.loaded:
            return
        if self.attempted is not None and served == self.attempted.identity:
            self.confirm(self.attempted)  # a load that ran past our wait finished after all
            return
        if served != self.loaded:
            # Restarted, re-attached, lagging, or loaded by someone else: the chain is unknown.
            self.loaded, self.root = served, None
            self.generation += 1

    def confirm(self, snapshot: Snapshot) -> None:
        """Every replica serves ``snapshot`` now."""
        if snapshot.is_adapter:
            self.root = None
        elif not snapshot.is_delta:
            self.root = snapshot.identity
        if self.loaded != snapshot.identity:
            self.generation += 1
        self.loaded, self.attempted = snapshot.identity, None

    def chain_broken(self) -> None:
        """An incremental load failed: its chain is not trusted, the next load is whole."""
        self.root = None

    def reset(self) -> None:
        """Forget everything (re-attached to another trainer job, or asked to)."""
        self.loaded = self.root = self.attempted = None
        self.generation += 1

    def replaced(self, identity: str | None) -> None:
        """A hot-load outside the chain: ``identity`` is served (None: not known yet)."""
        self.loaded, self.root, self.attempted = identity, None, None
        self.generation += 1


_CHAIN_STATES: dict[str, ChainState] = {}


def chain_state(hotload_api_url: str, deployment: str) -> ChainState:
    """What this process knows ``deployment`` serves: one record for every client of it.

    Shared by the sync and async chains, the samplers pinned through them and the direct
    ``DeploymentManager.hotload*`` calls, so a load by any of them is seen by all.
    """
    key = f"{hotload_api_url}|{deployment}"
    return _CHAIN_STATES.setdefault(key, ChainState())  # setdefault: one winner per key


class PlanKind(enum.Enum):
    """What to do with one snapshot."""

    ALREADY = "already served"
    FULL = "full load"
    INCREMENTAL = "incremental load"
    REFUSE = "refuse"


@dataclass(frozen=True)
class LoadPlan:
    """The decision for one snapshot: its kind, a delta's previous identity, why refused."""

    kind: PlanKind
    previous: str | None = None
    reason: str = ""


def plan_load(snapshot: Snapshot, chain: ChainState, served: str | None) -> LoadPlan:
    """How ``snapshot`` goes onto a deployment whose replicas all serve ``served`` (or not).

    A whole snapshot or an adapter is a full load. A delta is incremental only when the base
    it was XORed against is the chain root this process loaded and every replica serves what
    this process last confirmed; otherwise it is refused, never loaded as full weights.
    """
    if served == snapshot.identity:
        return LoadPlan(PlanKind.ALREADY)
    if not snapshot.is_delta:
        return LoadPlan(PlanKind.FULL)
    what = f"delta {snapshot.identity!r}"
    now = f"every replica serves {served!r}" if served else "the replicas serve no common snapshot"
    if snapshot.reference is None:
        reason = f"{what} was not saved by a training client of this process: its base is unknown"
    elif chain.root != snapshot.reference:
        root = repr(chain.root) if chain.root else "no base loaded by this process"
        reason = f"{what} applies on base {snapshot.reference!r}, the chain root is {root} ({now})"
    elif served is None or served != chain.loaded:
        reason = f"{what} needs every replica on {chain.loaded!r}; {now}"
    else:
        return LoadPlan(PlanKind.INCREMENTAL, previous=served)
    return LoadPlan(PlanKind.REFUSE, reason=reason + ": save and load a base")


def parse_checkpoint_type(value: SamplerCheckpointType | str) -> SamplerCheckpointType:
    """``base``, ``delta`` or ``merged_base`` (any case); else :class:`InvalidArgumentError`."""
    try:
        return SamplerCheckpointType.parse(value)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None


def next_sampler_type(
    explicit: SamplerCheckpointType | str | None,
    *,
    lora_rank: int,
    log: SnapshotLog,
    chain: ChainState,
) -> SamplerCheckpointType:
    """The type of the next sampler save of a client whose service has a deployment attached.

    An explicit type wins; LoRA saves ``base``; full-parameter saves ``delta`` only when its
    latest base is the deployment's chain root and the deployment serves what this process
    last loaded (``chain`` just observed), else ``base``.
    """
    if explicit is not None:
        return parse_checkpoint_type(explicit)
    if lora_rank > 0 or log.latest_base is None:
        return SamplerCheckpointType.BASE
    if chain.loaded is not None and chain.root == log.latest_base:
        return SamplerCheckpointType.DELTA
    return SamplerCheckpointType.BASE


def snapshot_identity(reference: str, trainer_job: TrainerJobName | None = None) -> str:
    """The identity to hot-load for what a caller passes: a snapshot name, path or row name.

    A 4-segment row name becomes its checkpoint id (it must belong to ``trainer_job``, the
    job the deployment loads from, when given); a serverless or other path is kept as is.
    """
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidArgumentError(f"a snapshot identity must be a non-empty string: {reference!r}")
    text = reference.strip()
    if text.startswith("accounts/"):
        name = CheckpointName.parse(text)
        if trainer_job is not None and name.parent != trainer_job:
            raise InvalidArgumentError(
                f"snapshot {text!r} belongs to trainer job {name.parent}; the deployment loads "
                f"snapshots of {trainer_job}"
            )
        return name.checkpoint_id
    if "/" in text:
        path = check_load_reference(text)  # a serverless run's path; '..' and URIs refused
        if path.startswith(CROSS_JOB_SCHEME):
            raise InvalidArgumentError(f"a deployment cannot load a cross-job reference: {text!r}")
        return path
    try:
        return check_checkpoint_id(text)
    except InvalidNameError as exc:
        raise InvalidArgumentError(f"invalid snapshot identity: {exc}") from None


def snapshot_from_row(identity: str, checkpoint_type: str) -> Snapshot:
    """A snapshot this process did not save, typed from its control-plane row.

    A whole base or a LoRA adapter loads in full; a delta (``INFERENCE_ARC_V2``) has no
    known base here and is refused later; a training state or an unknown type is refused now.
    """
    kind = CheckpointType(checkpoint_type)
    if kind is CheckpointType.INFERENCE_BASE:
        return Snapshot(identity, SamplerCheckpointType.BASE)
    if kind is CheckpointType.INFERENCE_LORA:
        return Snapshot(identity, SamplerCheckpointType.BASE, lora_rank=1)
    if kind is CheckpointType.INFERENCE_ARC_V2:
        return Snapshot(identity, SamplerCheckpointType.DELTA)
    raise SnapshotChainError(
        f"{identity!r} is a {kind.short_name} checkpoint, not a sampler snapshot a deployment "
        "can load",
        category="chain",
        identity=identity,
    )
