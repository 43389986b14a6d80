"""The replicas of one deployment: the bf16 weights each serves, and its hot-loads.

A replica serves ``bits`` (bf16 of the weight matrix) and reports ``current``, the identity
of the snapshot it last loaded as signalled (None for the base model's own weights). Its
``root`` is the checkpoint of its last full load: a delta applies only on top of it. A load
runs from the signal until ``ready_us`` on the emulator's clock; the old bits are served
until then. The checks that decide whether a load succeeds live in ``snapshots.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Fleet", "Load", "Loaded", "LoadError", "Replica"]

Bits = NDArray[np.uint16]


class LoadError(Exception):
    """Why a snapshot cannot be loaded on a replica; its text is the reported error."""


@dataclass(frozen=True)
class Loaded:
    """What a successful load leaves on a replica."""

    bits: Bits
    root: str | None  # the checkpoint later deltas must be relative to (None: no chain)
    root_bits: Bits | None
    adapter: bool = False


@dataclass
class Load:
    """One signal as one replica processes it."""

    identity: str
    metadata: dict[str, Any] | None
    ready_us: int
    entry: dict[str, Any]  # the deployment ledger's entry for the signal
    doomed: str | None = None  # an injected failure (``fail_next_hotload``)


@dataclass
class Replica:
    """One serving replica."""

    bits: Bits
    current: str | None = None
    root: str | None = None
    root_bits: Bits | None = None
    load: Load | None = None
    stage: str = "idle"
    target: str | None = None
    error: str | None = None
    adapters: list[dict[str, str]] = field(default_factory=list)
    lagging: bool = False

    def takes(self, identity: str) -> bool:
        """False when the identity is already served or being loaded (a repeated signal)."""
        if self.load is not None:
            return self.load.identity != identity
        return not (self.current == identity and self.stage != "error")

    def forget_snapshot(self) -> None:
        """Keep serving the bits, but no longer know which snapshot they are."""
        self.current, self.root, self.root_bits, self.adapters = None, None, None, []

    def status(self, swapping_blocks: bool) -> dict[str, Any]:
        """The replica as the hot-load status endpoint reports it."""
        loading: dict[str, Any] = {"stage": self.stage}
        if self.target is not None:
            loading["target_snapshot_identity"] = self.target
        if self.error is not None:
            loading["error_message"] = self.error
        return {
            "current_snapshot_identity": self.current,
            "readiness": not (swapping_blocks and self.load is not None),
            "loading_state": loading,
            "loaded_adapters": list(self.adapters),
        }


Check = Callable[[Replica, Load], Loaded]


@dataclass
class Fleet:
    """The replicas of a deployment, its signal ledger and its restart window."""

    base_bits: Bits
    replicas: list[Replica] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    down_until_us: int | None = None
    turn: int = 0

    def fresh(self, count: int) -> None:
        """Replace every replica with ``count`` new ones serving the base weights."""
        self.resize(0)
        self.resize(count)

    def resize(self, count: int) -> None:
        """Add fresh replicas or remove the last ones (their loads are lost)."""
        for index, replica in enumerate(self.replicas[count:], start=count):
            if replica.load is not None:
                _result(replica.load.entry, index, "lost")
        self.replicas = self.replicas[:count]
        self.replicas += [Replica(self.base_bits) for _ in range(count - len(self.replicas))]

    def up(self, now_us: int) -> list[Replica]:
        """The replicas serving now: none while a restart is under way."""
        if self.down_until_us is not None and now_us < self.down_until_us:
            return []
        return self.replicas

    def start(self, load: Load) -> bool:
        """Start ``load`` on every replica not holding or loading it yet; False if none.

        A load in flight for another identity is superseded; an earlier error is cleared.
        """
        started = False
        for index, replica in enumerate(self.replicas):
            if not replica.takes(load.identity):
                continue
            if replica.load is not None:
                _result(replica.load.entry, index, "superseded")
            _result(load.entry, index, "loading")
            replica.load, replica.stage, replica.target = load, "downloading", load.identity
            replica.error = None
            started = True
        return started

    def settle(self, now_us: int, held: bool, check: Check) -> None:
        """Finish every load whose time has come (none while hot-loads are held)."""
        if held:
            return
        for index, replica in enumerate(self.replicas):
            load = replica.load
            if load is None or replica.lagging or load.ready_us > now_us:
                continue
            replica.load = None
            try:
                if load.doomed is not None:
                    raise LoadError(load.doomed)
                loaded = check(replica, load)
            except LoadError as exc:
                replica.stage, replica.error = "error", str(exc)
                _result(load.entry, index, "error", str(exc))
                continue
            replica.bits, replica.root, replica.root_bits = (
                loaded.bits,
                loaded.root,
                loaded.root_bits,
            )
            replica.current, replica.stage = load.identity, "done"
            replica.adapters = (
                [{"identity": load.identity, "status": "loaded"}] if loaded.adapter else []
            )
            _result(load.entry, index, "loaded")

    def next_serving(self, now_us: int, swapping_blocks: bool) -> Replica | None:
        """The next replica in turn that can answer a request, or None."""
        ready = [r for r in self.up(now_us) if not (swapping_blocks and r.load is not None)]
        if not ready:
            return None
        self.turn += 1
        return ready[self.turn % len(ready)]


def _result(entry: dict[str, Any], replica: int, result: str, error: str | None = None) -> None:
    """Record one replica's outcome of a signal in the ledger entry."""
    outcomes: dict[str, str] = entry.setdefault("replicas", {})
    outcomes[str(replica)] = result
    if error is not None:
        entry["error"] = error
