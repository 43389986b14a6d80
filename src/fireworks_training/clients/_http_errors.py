"""HTTP replies and transport failures as our exceptions, with the API key masked.

An error status becomes its :class:`~fireworks_training.errors.APIStatusError` class with the
one-line message ``"{status} {METHOD} {path}: {server message}"``; an httpx transport failure
becomes :class:`~fireworks_training.errors.APIConnectionError` (or ``APITimeoutError``),
noting whether the request left the client. Error bodies: docs/protocol.md §1.6.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .._retry import parse_retry_after
from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    status_error_class,
)

__all__ = ["connection_error", "error_from_response", "raise_for_status", "redact"]

_ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
# Characters of server text kept in an error's one-line message (``server_message`` has all).
MESSAGE_LIMIT = 500


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` masked; mask before cutting ``text``."""
    return text.replace(secret, "***") if secret else text


def _redact_value(value: Any, secret: str) -> Any:
    """``value`` (parsed JSON) with ``secret`` masked in every string."""
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, dict):
        return {k: _redact_value(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secret) for v in value]
    return value


def _error_parts(body: Any) -> tuple[str | None, str | None]:
    """(message, ErrorInfo reason) from a JSON error body of either style."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error", body)
    if isinstance(error, str):
        return error, None
    if not isinstance(error, dict):
        return None, None
    message = error.get("message")
    reason = None
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == _ERROR_INFO_TYPE:
            reason = detail.get("reason")
    return (message if isinstance(message, str) else None), (
        reason if isinstance(reason, str) else None
    )


def error_from_response(response: httpx.Response, *, secret: str = "") -> APIStatusError:
    """The typed error for a response with an error status.

    The key is masked before anything is cut or parsed out of the body, so no cut can leave
    part of it behind.
    """
    request = response.request
    text = redact(response.text, secret)
    body: Any
    is_json = bool(text)
    try:
        body = _redact_value(json.loads(text), secret) if text else None
    except ValueError:
        body, is_json = text, False
    message, reason = _error_parts(body)
    shown = message
    if shown is None:
        shown = text.strip().splitlines()[0] if text.strip() else response.reason_phrase
    if message is None:
        # A JSON body without a message may echo the request: it is not the server's text.
        message = "" if is_json else shown
    path = request.url.path
    line = f"{response.status_code} {request.method} {path}: {_cut(shown)}"
    cls = status_error_class(response.status_code)
    return cls(
        line,
        status_code=response.status_code,
        method=request.method,
        path=path,
        request_id=response.headers.get("x-request-id"),
        reason=reason,
        body=body,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        server_message=message,
    )


def _cut(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (already masked: a cut never reveals a key)."""
    return text if len(text) <= limit else text[:limit] + "..."


def raise_for_status(response: httpx.Response, *, secret: str = "") -> None:
    """Raise the typed error when the response's status is not 2xx."""
    if not response.is_success:
        raise error_from_response(response, secret=secret)


def connection_error(exc: httpx.HTTPError, *, secret: str = "") -> APIConnectionError:
    """Our error for an httpx transport failure; notes whether the request left the client.

    It keeps the method, path and httpx's text (masked), never the httpx exception or its
    request, whose headers hold the key.
    """
    method, path = _where(exc)
    where = f"{method} {path}" if method else "request"
    detail = redact(str(exc) or type(exc).__name__, secret)
    if isinstance(exc, httpx.TimeoutException):
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return APITimeoutError(
            f"timed out: {where}: {detail}", request_sent=sent, method=method, path=path
        )
    sent = not isinstance(exc, httpx.ConnectError)
    return APIConnectionError(
        f"connection failed: {where}: {detail}", request_sent=sent, method=method, path=path
    )


def _where(exc: httpx.HTTPError) -> tuple[str, str]:
    try:
        return exc.request.method, exc.request.url.path
    except RuntimeError:  # an httpx error raised before it had a request
        return "", ""
