"""The I/O half of every client: a connection pool, one attempt, and retried calls.

Everything that does no I/O is :class:`~.._base_client.BaseClient`'s. The public
constructor arguments are these; a resource module adds its calls as a mixin of this class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from ..._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from .._base_client import BaseClient, Request
from .._tls import tls_verify

__all__ = ["AsyncAPIClient"]


class AsyncAPIClient(BaseClient):
    """Sends requests: one attempt (:meth:`_send`) or retried per the policy (:meth:`_call`).

    The first four arguments are the official client's, in its order: the API key (else
    ``FIREWORKS_API_KEY``), the URL (else ``FIREWORKS_BASE_URL``, else the public endpoint),
    extra headers, and ``verify_ssl`` (``False`` turns TLS verification off, with a warning).
    ``account_id`` skips the account lookup. A caller's ``http_client`` is used and left
    open. Use it as a context manager or close it.
    """

    # Connection pool limits when the client makes its own pool (None: httpx's defaults).
    _LIMITS: ClassVar[httpx.Limits | None] = None

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        additional_headers: Mapping[str, str] | None = None,
        verify_ssl: bool | None = None,
        *,
        account_id: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key,
            base_url,
            account_id=account_id,
            timeout=timeout,
            max_retries=max_retries,
            additional_headers=additional_headers,
        )
        self._owns_http = http_client is None
        verify = tls_verify(verify_ssl, own_pool=http_client is None)
        if http_client is None:
            options: dict[str, Any] = {"timeout": self._timeout}
            if not verify:
                options["verify"] = False
            if self._LIMITS is not None:
                options["limits"] = self._LIMITS
            http_client = httpx.AsyncClient(**options)
        self._http = http_client
        # Guards what a client resolves once (the account) against concurrent callers.
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP connections (a caller's ``http_client`` stays open)."""
        if self._owns_http:
            await self._http.aclose()

    # unasync: async only
    async def aclose(self) -> None:
        """Same as :meth:`close`."""
        await self.close()

    # unasync: end
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _respond(self, request: Request) -> httpx.Response:
        """One attempt, whatever the status; a transport failure is our connection error."""
        try:
            response = await self._http.request(**self._http_args(request))
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return self._received(request, response)

    async def _send(self, request: Request) -> dict[str, Any]:
        """One attempt: the reply's JSON object, or our typed error."""
        return self._decode(await self._respond(request))

    async def _call(
        self, request: Request, *, retry_on: Callable[[BaseException], bool] | None = None
    ) -> dict[str, Any]:
        """:meth:`_send` under the client's retry policy; ``retry_on`` replaces its predicate.

        Without ``retry_on`` only failures of a call that is safe to repeat are retried.
        """
        policy = self._retry if retry_on is None else self._retry.with_predicate(retry_on)
        return await policy.acall(lambda: self._send(request))
