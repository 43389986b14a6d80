"""The I/O half of every client: a connection pool, one attempt, and retried calls.

Everything that does no I/O is :class:`~.._base_client.BaseClient`'s. The public
constructor arguments are these; a resource module adds its calls as a mixin of this class.

One attempt (:meth:`AsyncAPIClient._respond`) is bounded as a whole: one deadline for
connecting, sending and reading every byte (``timeout``, see ``_deadline.py``), at most
``max_reply_bytes`` read, redirects followed only when the ``http_client`` asks for it and
only to the same origin. Whatever goes wrong is our typed error, raised outside any
``except`` block so that no httpx exception (whose request holds the key) is chained to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, overload

import httpx

from ..._closing import AsyncClosing
from ..._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from ...errors import FireworksError
from .._base_client import BaseClient, Request, resolve_api_key
from .._deadline import AsyncDeadline, total_seconds
from .._tls import tls_verify

__all__ = ["AsyncAPIClient"]

T = TypeVar("T")

_READ = httpx.ByteStream(b"")  # the stream of a reply already read and closed
_HTTPX_LOG = logging.getLogger("httpx")


class AsyncAPIClient(AsyncClosing, BaseClient):
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
        api_key = resolve_api_key(api_key)  # a masked repr in this frame too
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
            if hasattr(http_client, "_transport_for_url"):
                self._direct_headers = httpx.Headers(http_client.headers)
                self._direct_headers.update(self._headers)
        self._http = http_client
        # Imported here, not at the top: the sync client's modules import this one, and
        # the sync client's import loads no asyncio.
        import asyncio

        # Guards what a client resolves once (the account) against concurrent callers.
        self._lock = asyncio.Lock()
        # unasync: async only
        self._loop: asyncio.AbstractEventLoop | None = None
        # unasync: end

    async def close(self) -> None:
        """Close the HTTP connections (a caller's ``http_client`` stays open).

        Any later call raises :class:`~fireworks_training.errors.ClientClosedError`.
        """
        self._closed = True
        # unasync: async only
        import asyncio

        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            return  # its connections belong to the loop it ran on, which alone can close them
        # unasync: end
        if self._owns_http:
            await self._http.aclose()

    # unasync: async only
    async def aclose(self) -> None:
        """Same as :meth:`close`."""
        await self.close()

    # unasync: end
    def _usable_http(self) -> httpx.AsyncClient:
        """The connection pool, once it is known that it can send."""
        if self._closed:
            raise self._closed_error()
        if self._http.is_closed:
            raise self._closed_error(http_client=True)
        # unasync: async only
        import asyncio

        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            # Its connections (and lock) belong to the first loop: reusing them there fails
            # with "Event loop is closed", or worse, works by accident.
            raise FireworksError(
                f"this {type(self).__name__} was first used on another event loop; "
                "make one async client per event loop (or use the sync client)"
            )
        # unasync: end
        return self._http

    async def _respond(self, request: Request) -> httpx.Response:
        """One attempt, whatever the status: the whole reply, read within the deadline.

        A transport failure, the deadline, a reply too large, a refused redirect or a closed
        client is our typed error.
        """
        http = self._usable_http()
        timeout = self._timeout_of(request)
        deadline = AsyncDeadline(total_seconds(timeout))
        http_request = self._build(http, request, timeout, deadline.extensions(http))
        error: BaseException
        try:
            async with deadline:
                response = await self._exchange(http, http_request, deadline)
        except TimeoutError:
            error = self._deadline_error(http_request, deadline.seconds)
        except httpx.HTTPError as exc:
            error = self._transport_error(exc)
        except RuntimeError:
            if not http.is_closed:  # closed meanwhile, by another thread or task
                raise
            error = self._closed_error(http_client=not self._closed)
        else:
            return self._received(request, response)
        raise error  # outside the except blocks: the httpx exception is not chained

    async def _exchange(
        self, http: httpx.AsyncClient, http_request: httpx.Request, deadline: AsyncDeadline
    ) -> httpx.Response:
        """Send, follow same-origin redirects if ``http`` does, read at most the limit."""
        response = await self._dispatch(http, http_request)
        try:
            deadline.watch(response)
            hops = 0
            while response.next_request is not None and http.follow_redirects:
                following = self._redirect(response, hops, http.max_redirects)
                hops += 1
                deadline.release()
                await response.aclose()
                response = await http.send(following, stream=True, follow_redirects=False)
                deadline.watch(response)
            return await self._read_reply(response, deadline)
        finally:
            deadline.release()
            await response.aclose()
            # httpx's reply and its stream refer to each other: a cycle that only the garbage
            # collector frees, long after, with the whole body. Nothing reads the stream of a
            # closed reply, so breaking the cycle frees each page when its last user drops it.
            response.stream = _READ

    async def _dispatch(
        self, http: httpx.AsyncClient, http_request: httpx.Request
    ) -> httpx.Response:
        """``http.send(http_request, stream=True, follow_redirects=False)``.

        A pool of our own is sent on through its transport directly: httpx's ``send`` also
        runs auth, event hooks, redirect bookkeeping and a cookie jar that such a pool never
        has (its replies' cookies are still kept), some 100 µs of a request. Not while
        httpx's log is on, which only ``send`` writes.
        """
        if self._direct_headers is None or _HTTPX_LOG.isEnabledFor(logging.INFO):
            return await http.send(http_request, stream=True, follow_redirects=False)
        transport = http._transport_for_url(http_request.url)
        response = await transport.handle_async_request(http_request)
        response.request = http_request
        if http.is_closed:  # closed by another thread or task meanwhile: as send would
            await response.aclose()
            raise RuntimeError("the http client was closed")
        if "set-cookie" in response.headers:
            http.cookies.extract_cookies(response)
        return response

    async def _read_reply(
        self, response: httpx.Response, deadline: AsyncDeadline
    ) -> httpx.Response:
        """The reply with its body read: a 2xx over the limit raises, an error's head is kept.

        A body of a declared length within the limit, not compressed, is read as it is;
        any other is read chunk by chunk, counting decoded bytes.
        """
        limit = self._reply_limit(response)
        if self._declared_within(response, limit):
            await response.aread()
            return self._masked(response)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            deadline.check()
            size += len(chunk)
            if size > limit:
                if response.is_success:
                    chunks.clear()  # not kept alive (nor shown) by the error's traceback
                    raise self._too_large(response)
                chunks.append(chunk[: len(chunk) - (size - limit)])
                break
            chunks.append(chunk)
        return self._whole(response, b"".join(chunks))

    @overload
    async def _send(self, request: Request) -> dict[str, Any]: ...

    @overload
    async def _send(self, request: Request, parse: Callable[[Any], T]) -> T: ...

    async def _send(self, request: Request, parse: Callable[[Any], T] | None = None) -> Any:
        """One attempt: the reply's JSON object (or ``parse`` of it), or our typed error.

        A reply ``parse`` fails on is a one-line ``ProtocolError`` naming the request.
        """
        response = await self._respond(request)
        body = self._decode(response)
        return body if parse is None else self._parse(response, body, parse)

    @overload
    async def _call(
        self, request: Request, *, retry_on: Callable[[BaseException], bool] | None = None
    ) -> dict[str, Any]: ...

    @overload
    async def _call(
        self,
        request: Request,
        *,
        parse: Callable[[Any], T],
        retry_on: Callable[[BaseException], bool] | None = None,
    ) -> T: ...

    async def _call(
        self,
        request: Request,
        *,
        parse: Callable[[Any], T] | None = None,
        retry_on: Callable[[BaseException], bool] | None = None,
    ) -> Any:
        """:meth:`_send` under the client's retry policy; ``retry_on`` replaces its predicate.

        Without ``retry_on`` only failures of a call that is safe to repeat are retried.
        """
        policy = self._retry if retry_on is None else self._retry.with_predicate(retry_on)
        if parse is None:
            return await policy.acall(lambda: self._send(request))
        return await policy.acall(lambda: self._send(request, parse))
