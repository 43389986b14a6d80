"""pytest plugin: the ``fireworks_emulator`` fixture, a fresh emulator per test.

The emulator is imported inside the fixture, so projects without the ``emulator`` extra can
still run pytest with this plugin installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["fireworks_emulator"]


@pytest.fixture
def fireworks_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A running emulator with its state under the test's ``tmp_path``."""
    try:
        from .server import Emulator
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        pytest.skip(f"the emulator needs 'fireworks-training[emulator]': {exc}")
    with Emulator(tmp_path / "fireworks-emulator", long_poll_seconds=1.0) as emulator:
        yield emulator
