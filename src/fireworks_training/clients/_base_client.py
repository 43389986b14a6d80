"""The base of every client: configuration and every step of a call that does no I/O.

One base for every service (control plane, trainer jobs, trainer API, and the services
that come next): the API key and its header, base URLs, timeouts, requests as plain values,
the reply decoder and parser, error mapping, the reply size limit, the redirect rule and the
retry policy. ``_async/_base_client.py`` (and the sync twin generated from it) only sends.
Wire: docs/protocol.md §0 and §1.6.

The key is an :class:`APIKey`, a ``str`` whose ``repr`` is masked: a traceback that shows
locals, or a log of a frame's variables, shows ``'***'``. Errors carry the method, path,
status and the server's text (key masked), never an httpx request, reply or exception.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, SupportsIndex, TypeVar

import httpx

from .._constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT_S
from .._protocol import parsed
from .._retry import RetryPolicy
from .._version import __version__
from ..checkpoints.names import check_account_id
from ..errors import (
    APIError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    InvalidArgumentError,
    ProtocolError,
)
from ._http_errors import connection_error, error_from_response, redact

__all__ = [
    "API_KEY_HEADER",
    "MAX_ERROR_BODY_BYTES",
    "MAX_REPLY_BYTES",
    "NOT_GIVEN",
    "USER_AGENT",
    "APIKey",
    "BaseClient",
    "NotGiven",
    "Request",
    "auth_headers",
    "bearer",
    "decode_reply",
    "http_timeout",
    "resolve_api_key",
    "resolve_base_url",
    "same_origin",
]

T = TypeVar("T")

logger = logging.getLogger("fireworks_training")

USER_AGENT = f"fireworks-training/{__version__}"
# Servers match header names case-insensitively: one spelling for every service.
API_KEY_HEADER = "X-Api-Key"
# The largest reply a control-plane client reads (JSON rows, models, operations): far above
# any real page, far below what would hurt a training process. Per client: max_reply_bytes.
MAX_REPLY_BYTES = 64 * 1024 * 1024
# Of an error reply only the head is read: the message is in the first bytes.
MAX_ERROR_BODY_BYTES = 64 * 1024
# Shorter keys are not masked inside reply bodies (see BaseClient._whole).
_MIN_MASKED_KEY = 12


class APIKey(str):
    """The API key: a ``str`` whose ``repr`` (and that of any slice of it) is masked."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"

    def __getitem__(self, index: SupportsIndex | slice) -> str:
        # Some traceback renderers show a long string's head: its repr stays masked too.
        return APIKey(str.__getitem__(self, index))


class NotGiven:
    """The type of :data:`NOT_GIVEN`: an argument left out, as opposed to ``None``."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


def resolve_api_key(api_key: str | None) -> APIKey:
    """The given key, else ``FIREWORKS_API_KEY``; a missing key is an error now, not later."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not isinstance(key, str) or not key.strip():
        raise InvalidArgumentError(f"no API key: pass api_key= or set {API_KEY_ENV}")
    return APIKey(key.strip())


def resolve_base_url(base_url: str | None) -> str:
    """The given URL, else ``FIREWORKS_BASE_URL``, else the public endpoint; no trailing slash.

    A URL that cannot be reached by construction (unparseable, no host, a port outside
    1..65535) is bad input now rather than a connection retried for minutes.
    """
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    problem = _url_problem(url)
    if problem is not None:
        raise InvalidArgumentError(f"base_url must be an http(s) URL, got {url!r}: {problem}")
    return url.rstrip("/")


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str):
        return f"a {type(url).__name__}, not a string"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        return str(exc) or "not a URL"
    if parsed.scheme not in ("http", "https"):
        return "the scheme is not http or https"
    if not parsed.host:
        return "no host"
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        return f"port {parsed.port} is not in 1..65535"
    return None


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Whether two URLs share scheme, host and port (default ports filled in)."""
    return (a.scheme, a.host, _port(a)) == (b.scheme, b.host, _port(b))


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def http_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """An httpx timeout: ``timeout`` seconds per read, at most 10 s to connect."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None)
    if timeout <= 0:
        raise InvalidArgumentError(f"timeout must be > 0, got {timeout}")
    return httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT_S))


def bearer(api_key: str) -> dict[str, str]:
    """``Authorization: Bearer <key>``: the hot-load and inference gateways read it."""
    return {"Authorization": f"Bearer {api_key}"}


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
    ``timeout`` overrides the client's for this request (a long poll reads longer);
    ``headers`` are added to the client's (hot-load routing, ``Authorization``, request ids).
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Mapping[str, Any] | None = None
    base_url: str | None = None
    timeout: float | httpx.Timeout | NotGiven | None = NOT_GIVEN
    headers: Mapping[str, str] | None = None


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
        raise reply_error(response, "reply is not a JSON object")
    return body


def reply_error(response: httpx.Response, problem: str) -> ProtocolError:
    """A ``ProtocolError`` about ``response``: ``"{status} {METHOD} {path}: {problem}"``."""
    request = response.request
    return ProtocolError(
        f"{response.status_code} {request.method} {request.url.path}: {problem}",
        status_code=response.status_code,
        method=request.method,
        path=request.url.path,
    )


# Read when a client is made: tests replace them to run without waiting.
_clock = time.monotonic


def _sleep_sync(seconds: float) -> None:
    time.sleep(seconds)


async def _sleep_async(seconds: float) -> None:
    import asyncio  # here, not at the top: the sync client's import does not load asyncio

    await asyncio.sleep(seconds)


class BaseClient:
    """Configuration and request plumbing shared by every client; no I/O here."""

    # The largest reply read (see MAX_REPLY_BYTES); a service with bigger replies sets its own.
    _MAX_REPLY_BYTES: ClassVar[int] = MAX_REPLY_BYTES

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
        self._api_key = api_key = resolve_api_key(api_key)  # masked from here on
        self._base_url = resolve_base_url(base_url)
        self._account_id = None if account_id is None else check_account_id(account_id)
        self._timeout = http_timeout(timeout)
        self._headers = auth_headers(self._api_key, additional_headers)
        self._clock = _clock
        self._retry = RetryPolicy(
            max_retries=max_retries, sleep=_sleep_sync, async_sleep=_sleep_async
        )
        self._max_reply_bytes = self._MAX_REPLY_BYTES
        self._closed = False
        # The pool's headers merged with ours, when requests go straight to the pool's
        # transport (a pool of our own: see AsyncAPIClient._dispatch); else None.
        self._direct_headers: httpx.Headers | None = None

    @property
    def base_url(self) -> str:
        """The URL requests go to."""
        return self._base_url

    @property
    def max_reply_bytes(self) -> int:
        """The largest reply read; a larger one fails with ``ProtocolError``, unread."""
        return self._max_reply_bytes

    @max_reply_bytes.setter
    def max_reply_bytes(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidArgumentError(f"max_reply_bytes must be an int > 0, got {value!r}")
        self._max_reply_bytes = value

    def __repr__(self) -> str:
        # Also for a client whose __init__ failed half-way (a traceback may show it).
        base_url = getattr(self, "_base_url", None)
        account_id = getattr(self, "_account_id", None)
        return f"{type(self).__name__}(base_url={base_url!r}, account_id={account_id!r})"

    def _closed_error(self, *, http_client: bool = False) -> ClientClosedError:
        name = type(self).__name__
        if http_client:
            return ClientClosedError(f"the http_client of this {name} is closed")
        return ClientClosedError(f"this {name} is closed; make a new one")

    def _timeout_of(self, request: Request) -> httpx.Timeout:
        """The timeouts of ``request``: its own, else the client's."""
        if isinstance(request.timeout, NotGiven):
            return self._timeout
        return http_timeout(request.timeout)

    def _build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        request: Request,
        timeout: httpx.Timeout,
        extensions: dict[str, Any],
    ) -> httpx.Request:
        """The httpx request for ``request``; a path no URL can hold is bad input."""
        url = (request.base_url or self._base_url) + request.path
        try:
            if request.params:
                # Encoded here, as httpx would: its params= merge parses the URL once more
                # (about 35 µs a request, a listing's page included).
                query = str(httpx.QueryParams(request.params))
                url = f"{url}{'&' if '?' in url else '?'}{query}"
            headers = self._direct_headers
            if headers is None or http.cookies:
                return http.build_request(
                    request.method,
                    url,
                    json=request.json,
                    headers={**self._headers, **request.headers}
                    if request.headers
                    else self._headers,
                    timeout=timeout,
                    extensions=extensions,
                )
            # What build_request makes, without merging the pool's settings again per request.
            if request.headers:
                headers = headers.copy()
                headers.update(request.headers)
            extensions["timeout"] = timeout.as_dict()
            return httpx.Request(
                request.method, url, json=request.json, headers=headers, extensions=extensions
            )
        except httpx.InvalidURL as exc:
            problem = str(exc)
        raise InvalidArgumentError(f"cannot send {request.method} {request.path!r}: {problem}")

    def _transport_error(self, exc: httpx.HTTPError) -> APIError:
        """Our error for an httpx failure, the key masked; the httpx exception is not kept."""
        if isinstance(exc, httpx.DecodingError | httpx.TooManyRedirects):
            method, path = exc.request.method, exc.request.url.path
            detail = redact(str(exc) or type(exc).__name__, self._api_key)
            return ProtocolError(
                f"{method} {path}: reply could not be read: {detail}", method=method, path=path
            )
        return connection_error(exc, secret=self._api_key)

    def _deadline_error(self, http_request: httpx.Request, seconds: float | None) -> APIError:
        """The request's deadline passed before its whole reply arrived."""
        method, path = http_request.method, http_request.url.path
        return APITimeoutError(
            f"timed out: {method} {path}: no whole reply within {seconds:g} s",
            request_sent=True,
            method=method,
            path=path,
        )

    def _redirect(self, response: httpx.Response, hops: int, max_hops: int) -> httpx.Request:
        """The next request of a redirect the http_client asked to follow.

        Followed only to the same origin (scheme, host, port): the API key goes nowhere else.
        """
        target = response.next_request
        assert target is not None
        sent_to = response.request.url
        if not same_origin(target.url, sent_to):
            raise reply_error(
                response,
                f"redirect to {_origin(target.url)} not followed: the API key is sent "
                f"only to {_origin(sent_to)}",
            )
        if hops >= max_hops:
            raise reply_error(response, f"more than {max_hops} redirects")
        return target

    def _reply_limit(self, response: httpx.Response) -> int:
        """How much of ``response`` to read; a 2xx declared larger than allowed raises now."""
        if not response.is_success:
            return MAX_ERROR_BODY_BYTES
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_reply_bytes:
            raise self._too_large(response)
        return self._max_reply_bytes

    @staticmethod
    def _declared_within(response: httpx.Response, limit: int) -> bool:
        """Whether the body's declared length is within ``limit`` and it is not compressed.

        (HTTP/1.1 framing then reads exactly that many bytes: the limit holds.)
        """
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "identity")
        return declared.isdigit() and int(declared) <= limit and encoding == "identity"

    def _masked(self, response: httpx.Response) -> httpx.Response:
        """``response`` (read), rebuilt with the key masked if the server echoed it."""
        key = self._api_key.encode()
        if len(key) >= _MIN_MASKED_KEY and key in response.content:
            return self._whole(response, response.content)
        return response

    def _too_large(self, response: httpx.Response) -> ProtocolError:
        return reply_error(
            response,
            f"reply larger than {self._max_reply_bytes} bytes (the client's max_reply_bytes); "
            "not read",
        )

    def _whole(self, response: httpx.Response, content: bytes) -> httpx.Response:
        """A read reply: ``response``'s status and headers with ``content`` (decoded).

        A key the server echoed is masked in the body itself, so no reply, row, model or
        frame of a traceback built from it holds the key. (Not a key too short to be a real
        one, such as a test's ``"k"``: masking it would corrupt the data.)
        """
        key = self._api_key.encode()
        if len(key) >= _MIN_MASKED_KEY and key in content:
            content = content.replace(key, b"***")
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-encoding"]
        extensions = {k: v for k, v in response.extensions.items() if k == "reason_phrase"}
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=response.request,
            extensions=extensions,
        )

    def _received(self, request: Request, response: httpx.Response) -> httpx.Response:
        """``response``, logged (method, path and status only: never a header or a body)."""
        logger.debug("%s %s -> %d", request.method, request.path, response.status_code)
        return response

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        """The reply's JSON object, or our typed error (see :func:`decode_reply`)."""
        return decode_reply(response, secret=self._api_key)

    def _parse(
        self, response: httpx.Response, body: dict[str, Any], parse: Callable[[Any], T]
    ) -> T:
        """``parse(body)``; a reply of the wrong shape is a one-line ``ProtocolError``."""
        request = response.request
        method, path = request.method, request.url.path
        return parsed(
            parse,
            body,
            where=f"{response.status_code} {method} {path}",
            secret=self._api_key,
            status_code=response.status_code,
            method=method,
            path=path,
        )

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        """The typed error of an error status, the key masked."""
        return error_from_response(response, secret=self._api_key)
