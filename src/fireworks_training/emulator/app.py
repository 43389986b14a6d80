"""The emulator's ASGI app: Starlette routes behind a front door that records requests,
checks the API key and injects faults (status codes, latency, dropped connections).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .backend import Backend, RecordedRequest
from .faults import DROP_CONNECTION, DROP_RESPONSE, Fault, FaultRule
from .routes import ADMIN_PREFIX, all_routes
from .wire import error_body

__all__ = ["EmulatorApp", "build_app"]

logger = logging.getLogger(__name__)

_HOLD_POLL_S = 0.005


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"no route for {request.method} {request.url.path}"
    return JSONResponse(error_body(status, message), status_code=status)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _discard(message: Message) -> None:
    return None


async def _drop_connection(send: Send) -> None:
    """Close the client's connection without an answer (uvicorn's transport, found via send)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        # Not uvicorn: start a response and fail, which closes the connection mid-answer.
        await send({"type": "http.response.start", "status": 500, "headers": []})
        raise ConnectionAbortedError("emulator fault: dropped connection")
    transport.abort()
    for _ in range(3):  # let connection_lost run so the server sees the disconnect
        await asyncio.sleep(0)


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _authenticated(headers: dict[str, str], key: str) -> bool:
    """The key came in ``X-Api-Key`` or as ``Authorization: Bearer <key>`` (either will do)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    presented = [headers.get("x-api-key"), token.strip() if scheme.lower() == "bearer" else None]
    expected = key.encode()
    return any(
        hmac.compare_digest(p.encode("utf-8", "surrogateescape"), expected) for p in presented if p
    )


class EmulatorApp:
    """The front door: request log, API key, faults; then the Starlette app."""

    def __init__(self, backend: Backend, app: ASGIApp) -> None:
        self.backend = backend
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        admin = path.startswith(ADMIN_PREFIX + "/")
        if not admin:
            query = scope.get("query_string", b"").decode("latin-1")
            target = f"{path}?{query}" if query else path
            entry = RecordedRequest(scope["method"], target, _json_or_none(body), headers)
            self.backend.request_log.record(entry)
        if not _authenticated(headers, self.backend.settings.api_key):
            message = "missing or invalid API key (send X-Api-Key or Authorization: Bearer)"
            await JSONResponse(error_body(401, message), status_code=401)(scope, receive, send)
            return
        fault = None if admin else self.backend.faults.decide(path)
        if fault is not None:
            await self._faulted(fault, scope, _replay(body, receive), send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _faulted(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.latency_s:
            await asyncio.sleep(fault.latency_s)
        if fault.hold is not None:
            await self._hold(fault.hold)
        if fault.status is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            body = error_body(fault.status, f"emulator fault: injected {fault.status}")
            await JSONResponse(body, fault.status, headers)(scope, receive, send)
        elif fault.drop == DROP_CONNECTION:
            await _drop_connection(send)
        elif fault.drop == DROP_RESPONSE:
            await self.app(scope, receive, _discard)
            await _drop_connection(send)
        else:
            await self.app(scope, receive, send)

    async def _hold(self, rule: FaultRule) -> None:
        """Wait, without blocking the loop, until the rule is released or the server stops."""
        with rule.holding():
            while not (rule.released or self.backend.closing):
                await asyncio.sleep(_HOLD_POLL_S)


def build_app(backend: Backend) -> EmulatorApp:
    """The whole emulator as one ASGI app."""
    handlers = {404: _not_found, 405: _not_found}
    return EmulatorApp(backend, Starlette(routes=all_routes(backend), exception_handlers=handlers))
