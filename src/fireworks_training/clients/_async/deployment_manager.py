"""``AsyncDeploymentManager``: deployments and their hot-load API (docs/protocol.md §4).

The manager is the base client plus its resources: the account, deployment resources
(``deployments.py``) and the hot-load API (``hot_load.py``). It talks to three URLs of the
same credentials: the control plane (``base_url``), inference (``inference_url``) and
hot-load (``hotload_api_url``); the last two default to the first.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ..._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from .._base_client import resolve_api_key, resolve_base_url
from .hot_load import AsyncHotLoad

__all__ = ["AsyncDeploymentManager"]


class AsyncDeploymentManager(AsyncHotLoad):
    """Deployments: create or get, wait, update, scale, delete, re-attach, hot-load, warm up.

    Arguments in the official order. The API key comes from ``api_key`` or
    ``FIREWORKS_API_KEY``; ``base_url`` from the argument, ``FIREWORKS_BASE_URL`` or the public
    endpoint. ``verify_ssl=False`` turns TLS verification off for this manager's own
    connection pool, with a warning (never implicitly; refused with a caller's
    ``http_client``). ``account_id`` skips the account lookup. Use it as a context manager
    or close it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        inference_url: str | None = None,
        hotload_api_url: str | None = None,
        additional_headers: Mapping[str, str] | None = None,
        verify_ssl: bool | None = None,
        *,
        account_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        api_key = resolve_api_key(api_key)  # a masked repr in this frame too
        super().__init__(
            api_key,
            base_url,
            additional_headers,
            verify_ssl,
            account_id=account_id,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        self._inference_url = resolve_base_url(inference_url) if inference_url else self._base_url
        self._hotload_url = resolve_base_url(hotload_api_url) if hotload_api_url else self._base_url
        self._reset_prompt_cache_supported = None
        self._last_hotload_error_message = None
        self.boot_time_s = None
