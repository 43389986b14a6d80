"""What deployments serve: their replicas, the hot-load API, and the weights completions use.

Every call first brings the deployment's replicas up to date: the number the resource asks
for while READY, none while it is created, rolled, deleted or restarting, and every load
whose time has come finished (unless hot-loads are held).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .blobs import bf16_bits, bf16_float
from .deployments import READY, Deployments
from .fleet import Fleet, Load, Loaded, Replica
from .model import base_weights
from .names import parse_name
from .service import Service
from .settings import Settings
from .snapshots import Snapshots
from .store import Clock, DeploymentRecord, Store
from .wire import ApiError, format_us

__all__ = ["Serving"]

_US = 1_000_000
_SIGNAL_FIELDS = {"identity", "reset_prompt_cache", "incremental_snapshot_metadata"}
_METADATA_FIELDS = {"previous_snapshot_identity", "compression_format", "checksum_format"}
_RETRY_AFTER = {"Retry-After": "1"}


def _extra_input(name: str) -> ApiError:
    # The hot-load gateway validates its body strictly, with this wording.
    return ApiError(400, f"Extra inputs are not permitted, field: '{name}'")


class Serving(Service):
    """The replicas of every deployment and what they serve."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        settings: Settings,
        deployments: Deployments,
        snapshots: Snapshots,
    ) -> None:
        super().__init__(store, clock, settings)
        self._deployments = deployments
        self._snapshots = snapshots
        self._fleets: dict[str, Fleet] = {}
        self._held = False
        self._failures: list[tuple[str | None, str]] = []

    # -- the replicas of one deployment -------------------------------------------------

    def _live(self, deployment_id: str) -> tuple[DeploymentRecord, Fleet]:
        """The deployment (404 when unknown) and its replicas, brought up to date."""
        record = self._deployments.find(deployment_id)
        if record is None:
            self._fleets.pop(deployment_id, None)
            raise ApiError(404, f"deployment {deployment_id!r} not found", reason="NOT_FOUND")
        fleet = self._fleets.get(deployment_id)
        if fleet is None:
            base = bf16_bits(base_weights(str(record.fields["baseModel"])))
            fleet = self._fleets[deployment_id] = Fleet(base)
        wanted = int(record.fields.get("desiredReplicaCount", 0)) if record.state == READY else 0
        if len(fleet.replicas) != wanted:
            fleet.resize(wanted)
        fleet.settle(self._clock.now_us(), self._held, lambda r, load: self._check(record, r, load))
        return record, fleet

    def _check(self, record: DeploymentRecord, replica: Replica, load: Load) -> Loaded:
        job = parse_name(record.fields.get("hotLoadTrainerJob"), "rlorTrainerJobs")
        base_model = str(record.fields["baseModel"])
        return self._snapshots.load(replica, load, job[1] if job else None, base_model)

    def _swapping_blocks(self, record: DeploymentRecord) -> bool:
        """A SYNC deployment stops serving a replica while it swaps weights."""
        sync = record.fields.get("hotLoadTransitionType") == "SYNC"
        return sync and self._settings.sync_swap_busy

    def _replicas(self, fleet: Fleet) -> list[Replica]:
        return fleet.up(self._clock.now_us())

    def resource(self, deployment_id: str) -> dict[str, Any]:
        """The deployment resource, with its replica counts."""
        with self._lock:
            record, fleet = self._live(deployment_id)
            replicas = self._replicas(fleet)
            blocks = self._swapping_blocks(record)
            ready = sum(1 for r in replicas if not (blocks and r.load is not None))
            return self._deployments.resource_json(record, len(replicas), ready)

    def roll(self, deployment_id: str) -> None:
        """Pods rolled (trainer job or transition type changed): replicas come back fresh."""
        with self._lock:
            fleet = self._fleets.get(deployment_id)
            if fleet is not None:
                fleet.fresh(0)

    # -- hot-load ------------------------------------------------------------------------

    def _target(self, headers: dict[str, str]) -> tuple[DeploymentRecord, Fleet]:
        """The deployment the hot-load headers name; 404 or 400 when they do not fit."""
        name = headers.get("fireworks-deployment")
        ids = parse_name(name, "deployments")
        if ids is None or ids[0] != self._account:
            raise ApiError(404, f"deployment {name!r} not found", reason="NOT_FOUND")
        record, fleet = self._live(ids[1])
        model = headers.get("fireworks-model")
        if model != record.fields["baseModel"]:
            raise ApiError(
                400,
                f"fireworks-model {model!r} does not match the deployment's base model "
                f"{record.fields['baseModel']!r}",
            )
        if not record.fields.get("enableHotLoad"):
            raise ApiError(400, f"hot load is not enabled on deployment {ids[1]!r}")
        return record, fleet

    def _parse_signal(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        allowed = set(_SIGNAL_FIELDS)
        if self._settings.legacy_reset_prompt_cache:
            allowed.discard("reset_prompt_cache")
        for name in body:
            if name not in allowed:
                raise _extra_input(name)
        identity = body.get("identity")
        if not isinstance(identity, str) or not identity:
            raise ApiError(400, "identity is required")
        if not isinstance(body.get("reset_prompt_cache", True), bool):
            raise ApiError(400, "reset_prompt_cache must be a boolean")
        metadata = body.get("incremental_snapshot_metadata")
        if metadata is None:
            return identity, None
        if not isinstance(metadata, dict):
            raise ApiError(400, "incremental_snapshot_metadata must be an object")
        for name in metadata:
            if name not in _METADATA_FIELDS:
                raise _extra_input(name)
        if not isinstance(metadata.get("previous_snapshot_identity"), str):
            raise ApiError(400, "previous_snapshot_identity is required in a delta's metadata")
        return identity, metadata

    def signal(self, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """``POST hot_load``: start loading the identity on every replica; ``{}`` at once."""
        identity, metadata = self._parse_signal(body)
        with self._lock:
            _, fleet = self._target(headers)
            if not self._replicas(fleet):
                raise ApiError(503, "no replica is up to load a snapshot", headers=_RETRY_AFTER)
            now = self._clock.now_us()
            entry: dict[str, Any] = {
                "identity": identity,
                "type": "delta" if metadata is not None else "full",
                "time": format_us(now),
            }
            takers = any(r.takes(identity) for r in fleet.replicas)
            doomed = self._take_failure(identity) if takers else None
            load = Load(identity, metadata, now + int(self._settings.hotload_seconds * _US), entry)
            load.doomed = doomed
            if not fleet.start(load):
                entry["replicas"] = {}  # a repeated signal: already served or loading
            fleet.ledger.append(entry)
            return {}

    def _take_failure(self, identity: str) -> str | None:
        for i, (wanted, message) in enumerate(self._failures):
            if wanted is None or wanted == identity:
                del self._failures[i]
                return message
        return None

    def status(self, headers: dict[str, str]) -> dict[str, Any]:
        """``GET hot_load``: every replica's snapshot, readiness and loading state."""
        with self._lock:
            record, fleet = self._target(headers)
            blocks = self._swapping_blocks(record)
            return {"replicas": [r.status(blocks) for r in self._replicas(fleet)]}

    def ledger(self, deployment_id: str) -> list[dict[str, Any]]:
        """Every signal the deployment received, oldest first, with each replica's outcome."""
        with self._lock:
            _, fleet = self._live(deployment_id)
            return [_ledger_json(e) for e in fleet.ledger]

    def reset_ledger(self, deployment_id: str) -> None:
        """Forget the signals: replicas keep their bits but no longer know their snapshot."""
        with self._lock:
            _, fleet = self._live(deployment_id)
            fleet.ledger.clear()
            for replica in fleet.replicas:
                replica.forget_snapshot()

    # -- inference ---------------------------------------------------------------------------

    def serving_bits(self, model: str) -> NDArray[np.uint16]:
        """The bits of the replica whose turn it is to answer ``model``; 404, 425 or 503."""
        ids = parse_name(model, "deployments")
        if ids is None or ids[0] != self._account:
            raise ApiError(404, f"model {model!r} not found", reason="NOT_FOUND")
        with self._lock:
            record, fleet = self._live(ids[1])
            if not self._replicas(fleet):
                raise ApiError(503, f"deployment {ids[1]!r} is not serving", headers=_RETRY_AFTER)
            replica = fleet.next_serving(self._clock.now_us(), self._swapping_blocks(record))
            if replica is None:
                raise ApiError(425, f"deployment {ids[1]!r} is hot-loading", reason="HOTLOADING")
            return replica.bits

    # -- admin -------------------------------------------------------------------------------

    def view(self, deployment_id: str) -> dict[str, Any]:
        """The resource, every replica's status and the ledger."""
        with self._lock:
            record, fleet = self._live(deployment_id)
            body = self.resource(deployment_id)
            blocks = self._swapping_blocks(record)
            body["replicas"] = [r.status(blocks) for r in self._replicas(fleet)]
            body["ledger"] = [_ledger_json(e) for e in fleet.ledger]
            return body

    def weights(self, deployment_id: str, replica: int) -> NDArray[np.float32]:
        """The float32 values of the bf16 weights a replica serves."""
        with self._lock:
            _, fleet = self._live(deployment_id)
            return bf16_float(fleet.replicas[replica].bits).copy()

    def hold(self, held: bool) -> None:
        """Hold every hot-load (none finishes) or let them finish."""
        with self._lock:
            self._held = held

    def fail_next(self, identity: str | None, message: str) -> None:
        """The next signal (of ``identity``, or any) fails when its load finishes."""
        with self._lock:
            self._failures.append((identity, message))

    def lag(self, deployment_id: str, replica: int, lagging: bool) -> None:
        """A lagging replica keeps serving its old snapshot: its loads never finish."""
        with self._lock:
            _, fleet = self._live(deployment_id)
            fleet.replicas[replica].lagging = lagging

    def restart(self, deployment_id: str, seconds: float, keep_snapshot: bool) -> None:
        """Replicas gone for ``seconds``, then back on the base weights (or their snapshot)."""
        with self._lock:
            _, fleet = self._live(deployment_id)
            kept = [(r.bits, r.current, r.root, r.root_bits) for r in fleet.replicas]
            fleet.fresh(len(fleet.replicas))
            if keep_snapshot:
                for replica, (bits, current, root, root_bits) in zip(
                    fleet.replicas, kept, strict=True
                ):
                    replica.bits, replica.current, replica.root = bits, current, root
                    replica.root_bits = root_bits
            fleet.down_until_us = self._clock.now_us() + int(seconds * _US)


def _ledger_json(entry: dict[str, Any]) -> dict[str, Any]:
    """A ledger entry with its overall result: loading, loaded, error or unchanged."""
    outcomes = set(entry.get("replicas", {}).values())
    if not outcomes:
        result = "unchanged"
    elif "error" in outcomes:
        result = "error"
    elif "loading" in outcomes:
        result = "loading"
    elif outcomes == {"loaded"}:
        result = "loaded"
    else:
        result = "lost"
    return {**entry, "result": result}
