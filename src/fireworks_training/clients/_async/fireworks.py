"""``AsyncFireworksClient``: the Fireworks control plane (docs/protocol.md §1).

The client is the base client plus its resources: accounts, checkpoint rows and promotion,
models, operations, training shapes, and the checkpoints of training sessions and managed
jobs. Each resource is one module of this folder.
"""

from __future__ import annotations

from .checkpoints import AsyncCheckpoints
from .sessions import AsyncSessions
from .shapes import AsyncTrainingShapes

__all__ = ["AsyncFireworksClient"]


class AsyncFireworksClient(AsyncCheckpoints, AsyncSessions, AsyncTrainingShapes):
    """The Fireworks control plane: list checkpoints, promote them, read models and shapes.

    ``AsyncFireworksClient(api_key, base_url, additional_headers, verify_ssl, *,
    account_id, timeout, max_retries, http_client)``: the first four as the official
    ``FireworksClient`` takes them. The API key comes from ``api_key`` or
    ``FIREWORKS_API_KEY``; the URL from ``base_url``, ``FIREWORKS_BASE_URL`` or the public
    endpoint. Use it as a context manager or call :meth:`close`.
    """
