"""``AsyncFireworksClient``: the Fireworks control plane (docs/protocol.md §1).

The client is the base client plus its resources: accounts, checkpoint rows and promotion,
models, and operations. Each resource is one module of this folder.
"""

from __future__ import annotations

from .checkpoints import AsyncCheckpoints

__all__ = ["AsyncFireworksClient"]


class AsyncFireworksClient(AsyncCheckpoints):
    """The Fireworks control plane: list checkpoints, promote them, read models.

    The API key comes from ``api_key`` or ``FIREWORKS_API_KEY``; the URL from ``base_url``,
    ``FIREWORKS_BASE_URL`` or the public endpoint. Use it as a context manager or call
    :meth:`close`.
    """
