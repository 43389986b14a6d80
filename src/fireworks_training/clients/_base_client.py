"""The base of every client: configuration and every step of a call that does no I/O.

One base for every service (control plane, trainer jobs, trainer API, and the services
that come next): the API key and its header, base URLs, timeouts, requests as plain values,
the reply decoder, error mapping and the retry policy. ``_async/_base_client.py`` (and the
sync twin generated from it) only sends. Wire: docs/protocol.md §0 and §1.6.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from .._constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT_S
from .._retry import RetryPolicy
from .._version import __version__
from ..checkpoints.names import check_account_id
from ..errors import APIConnectionError, APIStatusError, InvalidArgumentError, ProtocolError
from ._http_errors import connection_error, error_from_response

__all__ = [
    "API_KEY_HEADER",
    "NOT_GIVEN",
    "USER_AGENT",
    "BaseClient",
    "NotGiven",
    "Request",
    "auth_headers",
    "decode_reply",
    "http_timeout",
    "resolve_api_key",
    "resolve_base_url",
]

logger = logging.getLogger("fireworks_training")

USER_AGENT = f"fireworks-training/{__version__}"
# Servers match header names case-insensitively: one spelling for every service.
API_KEY_HEADER = "X-Api-Key"


class NotGiven:
    """The type of :data:`NOT_GIVEN`: an argument left out, as opposed to ``None``."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


def resolve_api_key(api_key: str | None) -> str:
    """The given key, else ``FIREWORKS_API_KEY``; a missing key is an error now, not later."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not key or not key.strip():
        raise InvalidArgumentError(f"no API key: pass api_key= or set {API_KEY_ENV}")
    return key.strip()


def resolve_base_url(base_url: str | None) -> str:
    """The given URL, else ``FIREWORKS_BASE_URL``, else the public endpoint; no trailing slash."""
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(f"base_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def http_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """An httpx timeout: ``timeout`` seconds per read, at most 10 s to connect."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None)
    if timeout <= 0:
        raise InvalidArgumentError(f"timeout must be > 0, got {timeout}")
    return httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT_S))


def auth_headers(
    api_key: str, additional_headers: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Default headers of a client: auth, user agent, JSON, then the caller's extras."""
    headers = {API_KEY_HEADER: api_key, "User-Agent": USER_AGENT, "Accept": "application/json"}
    headers.update(additional_headers or {})
    return headers


@dataclass(frozen=True)
class Request:
    """One request as a value: what to send and where.

    ``path`` starts with ``/`` and is appended to ``base_url`` (another base URL of the same
    credentials, such as a trainer behind the gateway) or else to the client's base URL.
    ``timeout`` overrides the client's for this request (a long poll reads longer).
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Mapping[str, Any] | None = None
    base_url: str | None = None
    timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN


def decode_reply(response: httpx.Response, *, secret: str = "") -> dict[str, Any]:
    """The JSON object of a 2xx reply (an empty body is ``{}``); else our typed error.

    An error status raises its :class:`~fireworks_training.errors.APIStatusError`; a 2xx
    reply that is not a JSON object raises :class:`~fireworks_training.errors.ProtocolError`.
    """
    if not response.is_success:
        raise error_from_response(response, secret=secret)
    if not response.content:
        return {}
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        request = response.request
        raise ProtocolError(
            f"{response.status_code} {request.method} {request.url.path}: "
            "reply is not a JSON object",
            status_code=response.status_code,
            method=request.method,
            path=request.url.path,
        )
    return body


# Read when a client is made: tests replace them to run without waiting.
_clock = time.monotonic


def _sleep_sync(seconds: float) -> None:
    time.sleep(seconds)


async def _sleep_async(seconds: float) -> None:
    await asyncio.sleep(seconds)


class BaseClient:
    """Configuration and request plumbing shared by every client; no I/O here."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        account_id: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        additional_headers: Mapping[str, str] | None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self._base_url = resolve_base_url(base_url)
        self._account_id = None if account_id is None else check_account_id(account_id)
        self._timeout = http_timeout(timeout)
        self._headers = auth_headers(self._api_key, additional_headers)
        self._clock = _clock
        self._retry = RetryPolicy(
            max_retries=max_retries, sleep=_sleep_sync, async_sleep=_sleep_async
        )

    @property
    def base_url(self) -> str:
        """The URL requests go to."""
        return self._base_url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, account_id={self._account_id!r})"
        )

    def _http_args(self, request: Request) -> dict[str, Any]:
        """The arguments of ``httpx`` ``request()`` for ``request``."""
        timeout = self._timeout if isinstance(request.timeout, NotGiven) else request.timeout
        return {
            "method": request.method,
            "url": (request.base_url or self._base_url) + request.path,
            "params": request.params,
            "json": request.json,
            "headers": self._headers,
            "timeout": timeout,
        }

    def _transport_error(self, exc: httpx.TransportError) -> APIConnectionError:
        """Our connection error for an httpx transport failure, the key masked."""
        return connection_error(exc, secret=self._api_key)

    def _received(self, request: Request, response: httpx.Response) -> httpx.Response:
        """``response``, logged (method, path and status only: never a header or a body)."""
        logger.debug("%s %s -> %d", request.method, request.path, response.status_code)
        return response

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        """The reply's JSON object, or our typed error (see :func:`decode_reply`)."""
        return decode_reply(response, secret=self._api_key)

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        """The typed error of an error status, the key masked."""
        return error_from_response(response, secret=self._api_key)
