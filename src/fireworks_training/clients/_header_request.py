"""Requests that carry headers of their own (hot-load routing, ``Authorization``, request ids).

The base client sends its default headers with every request; a :class:`HeaderRequest` adds
or overrides a few for one request. A client that sends them inherits :class:`HeaderRequests`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._base_client import BaseClient, Request

__all__ = ["HeaderRequest", "HeaderRequests", "bearer"]


def bearer(api_key: str) -> dict[str, str]:
    """``Authorization: Bearer <key>``: the hot-load and inference gateways read it."""
    return {"Authorization": f"Bearer {api_key}"}


@dataclass(frozen=True)
class HeaderRequest(Request):
    """A :class:`Request` with headers added to (or replacing) the client's defaults."""

    headers: Mapping[str, str] | None = None


class HeaderRequests(BaseClient):
    """Sends a :class:`HeaderRequest`'s own headers on top of the client's."""

    def _http_args(self, request: Request) -> dict[str, Any]:
        args = super()._http_args(request)
        if isinstance(request, HeaderRequest) and request.headers:
            args["headers"] = {**args["headers"], **request.headers}
        return args
