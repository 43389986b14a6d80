"""The I/O half every control-plane client shares: a connection pool, one attempt, retries.

``FireworksClient`` and ``TrainerJobManager`` (and their async twins) build on these; what
needs no I/O stays in ``_control_plane.py``. The two classes are kept line-for-line parallel.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from .._transport import connection_error, raise_for_status
from ..checkpoints.names import TrainerJobName
from ._control_plane import (
    ControlPlaneBase,
    Request,
    accounts_request,
    decode_json,
    parse_account,
)

__all__ = ["AsyncControlPlane", "SyncControlPlane"]


class SyncControlPlane(ControlPlaneBase):
    """Synchronous requests to the control plane."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        account_id: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        http_client: httpx.Client | None,
        additional_headers: Mapping[str, str] | None,
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
        self._http = http_client or httpx.Client(timeout=self._timeout)
        self._account_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections (a caller's ``http_client`` stays open)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, request: Request) -> dict[str, Any]:
        """One attempt: the JSON reply, or our typed error."""
        try:
            response = self._http.request(
                request.method,
                self._url(request),
                params=request.params,
                json=request.json,
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise connection_error(exc, secret=self._api_key) from exc
        self._log_reply(request, response)
        raise_for_status(response, secret=self._api_key)
        return decode_json(response)

    def _call(self, request: Request) -> dict[str, Any]:
        """A request that is safe to repeat, retried per the client's policy."""
        return self._retry.call(lambda: self._send(request))

    def get_account_id(self) -> str:
        """The account id: as given, else resolved once via ``GET /v1/accounts``."""
        with self._account_lock:
            if self._account_id is None:
                self._account_id = parse_account(self._call(accounts_request()))
        return self._account_id

    def _job_name(self, job_id: str | TrainerJobName) -> TrainerJobName:
        account, job = TrainerJobName.parse_ref(job_id)
        return TrainerJobName(account or self.get_account_id(), job)


class AsyncControlPlane(ControlPlaneBase):
    """Asynchronous requests to the control plane."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        account_id: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        http_client: httpx.AsyncClient | None,
        additional_headers: Mapping[str, str] | None,
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
        self._http = http_client or httpx.AsyncClient(timeout=self._timeout)
        self._account_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the HTTP connections (a caller's ``http_client`` stays open)."""
        if self._owns_http:
            await self._http.aclose()

    async def aclose(self) -> None:
        """Same as :meth:`close`."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, request: Request) -> dict[str, Any]:
        """One attempt: the JSON reply, or our typed error."""
        try:
            response = await self._http.request(
                request.method,
                self._url(request),
                params=request.params,
                json=request.json,
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise connection_error(exc, secret=self._api_key) from exc
        self._log_reply(request, response)
        raise_for_status(response, secret=self._api_key)
        return decode_json(response)

    async def _call(self, request: Request) -> dict[str, Any]:
        """A request that is safe to repeat, retried per the client's policy."""
        return await self._retry.acall(lambda: self._send(request))

    async def get_account_id(self) -> str:
        """The account id: as given, else resolved once via ``GET /v1/accounts``."""
        async with self._account_lock:
            if self._account_id is None:
                self._account_id = parse_account(await self._call(accounts_request()))
        return self._account_id

    async def _job_name(self, job_id: str | TrainerJobName) -> TrainerJobName:
        account, job = TrainerJobName.parse_ref(job_id)
        return TrainerJobName(account or await self.get_account_id(), job)
