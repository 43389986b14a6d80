"""``FireworksClient`` and ``AsyncFireworksClient``: the Fireworks control plane.

Accounts, checkpoint rows, promotion, operations and models (docs/protocol.md §1). The async
client is written in ``_async/fireworks.py``; the sync one is generated from it.
"""

from __future__ import annotations

from ._async.fireworks import AsyncFireworksClient
from ._sync.fireworks import FireworksClient

__all__ = ["AsyncFireworksClient", "FireworksClient"]
