"""The offline Fireworks: control plane and trainers in one ASGI app (``emulator`` extra).

``Emulator`` and ``Settings`` are imported lazily, so importing this package (for example
through the pytest plugin) does not need starlette, uvicorn or numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Emulator
    from .settings import Settings

__all__ = ["Emulator", "Settings"]


def __getattr__(name: str) -> Any:
    if name == "Emulator":
        from .server import Emulator

        return Emulator
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
