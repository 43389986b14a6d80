"""Drop-in for ``fireworks.training.sdk.weight_syncer``: ``WeightSyncer`` (docs/weight-sync.md)."""

from __future__ import annotations

from .clients.weight_syncer import WeightSyncer

__all__ = ["WeightSyncer"]
