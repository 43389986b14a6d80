"""What the sync and async control-plane clients do differently, beyond the unasync rewrite.

The async source (``_async/accounts.py``) builds on :class:`AsyncAccountView`; its generated
twin builds on :class:`AccountView`. Both are written here by hand:

- ``account_id``: the async client cannot do I/O in a property, so it gives the account when
  known (given, or resolved by ``await get_account_id()``) and ``None`` before. The sync
  client resolves it on first access, as the official client does (``GET /v1/accounts``
  once, then cached); ``client._account_id = "acct"`` sets it, as the cookbook does.
- ``_get(path, timeout=30)``: the official client's private GET, which cookbook code calls
  (``mgr._get("/v1/...", timeout=30)``) and reads as an ``httpx.Response``. Compatibility,
  not API: new code calls the typed methods.
- A sync client that is dropped without ``close()`` (cookbook scripts do that) closes its own
  connection pool when it is garbage collected, as the official client does.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from .._retry import RETRYABLE_STATUSES
from ..errors import APIStatusError, InvalidArgumentError
from ._async._base_client import AsyncAPIClient
from ._base_client import Request
from ._sync._base_client import SyncAPIClient

__all__ = ["AccountView", "AsyncAccountView"]

_GET_TIMEOUT_S = 30.0


class AsyncAccountView(AsyncAPIClient):
    """The async client's account: known or None (no I/O in a property)."""

    @property
    def account_id(self) -> str | None:
        """The account id when given or already resolved; else None (``await get_account_id()``)."""
        return self._account_id


class AccountView(SyncAPIClient):
    """The sync client's account, resolved on first access, and the cookbook's ``_get``."""

    @property
    def account_id(self) -> str:
        """The account id: as given, else resolved once from the API key (a request then)."""
        return self.get_account_id()

    def __del__(self) -> None:
        # Only the pool this client made; a half-built client (its __init__ raised) has none.
        http = getattr(self, "_http", None)
        if getattr(self, "_owns_http", False) and http is not None and not http.is_closed:
            http.close()

    def get_account_id(self) -> str:
        """The account id (the subclass resolves it)."""
        raise NotImplementedError

    def _get(
        self,
        path: str,
        *,
        timeout: float | None = _GET_TIMEOUT_S,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """``GET {base_url}{path}``: the response whatever its status (the official ``_get``).

        Connection failures and 408/429/5xx are retried under the client's policy; after
        the last attempt its response is returned. A connection that never answers raises
        :class:`~fireworks_training.errors.APIConnectionError`.
        """
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidArgumentError(f"path must start with '/', got {path!r}")
        request = Request("GET", path, params=params, timeout=timeout)
        last: list[httpx.Response] = []

        def attempt() -> httpx.Response:
            response = self._respond(request)
            if response.status_code in RETRYABLE_STATUSES:
                last[:] = [response]
                raise self._status_error(response)
            return response

        try:
            return self._retry.call(attempt)
        except APIStatusError:
            return last[0]
