"""What a reply that breaks the protocol becomes: one line, a ``ProtocolError``.

Every reply is parsed by a function of its resource (``parse_model``, a row validator ...).
Whatever such a function raises on server data of the wrong shape (pydantic's
``ValidationError``, ``KeyError``, ``TypeError``, a server name off its grammar) is turned
here into :class:`~fireworks_training.errors.ProtocolError` naming the request and the first
problem, with the API key masked. Deliberate errors (a ``FireworksError``, or an
``InvalidArgumentError`` that tells the caller what to pass) go through unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Required, TypedDict, TypeVar, Unpack

from .errors import FireworksError, InvalidArgumentError, InvalidNameError, ProtocolError

__all__ = ["PARSE_FAILURES", "as_protocol_error", "describe", "parsed"]

T = TypeVar("T")

# What a parse of server data raises when the data is not of the documented shape.
PARSE_FAILURES: tuple[type[Exception], ...] = (
    ValueError,  # pydantic.ValidationError and InvalidNameError are ValueErrors too
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)
_PROBLEM_LIMIT = 300
# What ``parsed`` turns into a ProtocolError naming the request (see as_protocol_error).
_REWRAPPED: tuple[type[Exception], ...] = (*PARSE_FAILURES, ProtocolError)


def _mask(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def describe(exc: BaseException, *, secret: str = "") -> str:
    """One line saying what was wrong with the data, the key masked, at most 300 characters."""
    # Only code that imported pydantic can have raised its ValidationError: looked up, not
    # imported, so that a client that never loads pydantic does not pay for its import.
    pydantic_core = sys.modules.get("pydantic_core")
    if pydantic_core is not None and isinstance(exc, pydantic_core.ValidationError):
        problems = exc.errors(include_url=False, include_context=False, include_input=False)
        first = problems[0] if problems else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"])
        text = f"{where}: {first['msg']}" if where else str(first["msg"])
        if len(problems) > 1:
            text += f" (and {len(problems) - 1} more)"
    elif isinstance(exc, KeyError):
        text = f"missing {exc}"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(_mask(text, secret).split())
    return text if len(text) <= _PROBLEM_LIMIT else text[:_PROBLEM_LIMIT] + "..."


class _Reply(TypedDict, total=False):
    """The keywords of :func:`as_protocol_error`, which :func:`parsed` passes on."""

    where: Required[str]
    secret: str
    status_code: int | None
    method: str
    path: str


def parsed(parse: Callable[[Any], T], data: Any, **reply: Unpack[_Reply]) -> T:
    """``parse(data)``; a failure on data of the wrong shape is a one-line ``ProtocolError``.

    ``where`` starts the message (``"200 GET /v1/..."`` or ``"operation ..."``); the other
    keywords are those of :func:`as_protocol_error`. The error is raised outside any
    ``except`` block, so it chains nothing.
    """
    try:
        return parse(data)
    except _REWRAPPED as exc:
        error = as_protocol_error(exc, **reply)
        if error is None:
            raise
    raise error


def as_protocol_error(
    exc: BaseException,
    *,
    where: str,
    secret: str = "",
    status_code: int | None = None,
    method: str = "",
    path: str = "",
) -> ProtocolError | None:
    """The ``ProtocolError`` for ``exc`` raised while parsing server data, or None.

    None for a deliberate error, which goes to the caller as it is: a ``FireworksError``, or an
    ``InvalidArgumentError`` other than a bad name (a name the server sent is its fault). A
    ``ProtocolError`` of the data alone (a row's own check, which knows no request) is told
    again naming the request.
    """
    if isinstance(exc, ProtocolError) and not exc.method:
        return ProtocolError(
            f"{where}: reply does not match the protocol: {_mask(exc.message, secret)}",
            status_code=status_code,
            method=method,
            path=path,
        )
    deliberate = isinstance(exc, FireworksError) or (
        isinstance(exc, InvalidArgumentError) and not isinstance(exc, InvalidNameError)
    )
    if deliberate or not isinstance(exc, PARSE_FAILURES):
        return None
    return ProtocolError(
        f"{where}: reply does not match the protocol: {describe(exc, secret=secret)}",
        status_code=status_code,
        method=method,
        path=path,
    )
