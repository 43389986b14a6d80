"""The offline Fireworks: control plane and trainers in one ASGI app (``emulator`` extra).

``Emulator`` is imported lazily, so importing this package (for example through the pytest
plugin) does not need starlette, uvicorn or numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["Emulator"]


def __getattr__(name: str) -> Any:
    if name == "Emulator":
        from .server import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
