"""TLS verification of a client: on unless the caller turns it off, and never silently.

The official client takes ``verify_ssl`` too, where ``None`` switches verification off for
``http`` URLs and for IP-literal hosts; here ``None`` and ``True`` verify every ``https`` URL,
and only ``False`` turns verification off, with a warning (docs/control-plane.md).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from ..errors import InvalidArgumentError

__all__ = ["INSECURE_MESSAGE", "tls_verify"]

INSECURE_MESSAGE = (
    "verify_ssl=False: TLS certificates are not verified for this client; anyone on the "
    "network path can read the API key"
)
_PACKAGE = str(Path(__file__).resolve().parents[1])


def tls_verify(verify_ssl: object, *, own_pool: bool) -> bool:
    """Whether the client's pool verifies certificates; warns when it does not.

    ``own_pool`` is False when the caller passed an ``http_client``: its own settings hold,
    so ``verify_ssl=False`` is refused rather than silently ignored.
    """
    if verify_ssl is not None and not isinstance(verify_ssl, bool):
        raise InvalidArgumentError(f"verify_ssl must be True, False or None, got {verify_ssl!r}")
    if verify_ssl is not False:
        return True
    if not own_pool:
        raise InvalidArgumentError(
            "verify_ssl=False does not reach a caller's http_client; "
            "build it with httpx.Client(verify=False) instead"
        )
    warnings.warn(INSECURE_MESSAGE, UserWarning, stacklevel=_caller_level())
    return False


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package (the user's line)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    return level
