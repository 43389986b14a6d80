"""pytest plugin: the ``fireworks_emulator`` fixture, a fresh emulator per test.

Settings come from the ``fireworks_emulator_settings`` fixture (override it in a
``conftest.py``), then from a ``fireworks_emulator(**overrides)`` marker on the test::

    @pytest.mark.fireworks_emulator(promotion_mode="async", promotion_seconds=5)
    def test_waits(fireworks_emulator): ...

The emulator is imported inside the fixture, so projects without the ``emulator`` extra can
still run pytest with this plugin installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .settings import Settings

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["fireworks_emulator", "fireworks_emulator_settings"]

MARKER = "fireworks_emulator"
_LONG_POLL_S = 1.0  # short long-polls keep a test's idle retrieves brief


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (projects run with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers", f"{MARKER}(**settings): Settings fields for the fireworks_emulator fixture"
    )


@pytest.fixture
def fireworks_emulator_settings() -> Settings:
    """The settings of ``fireworks_emulator``; override this fixture to change them."""
    return Settings(long_poll_seconds=_LONG_POLL_S)


@pytest.fixture
def fireworks_emulator(
    request: pytest.FixtureRequest, tmp_path: Path, fireworks_emulator_settings: Settings
) -> Iterator[Emulator]:
    """A running emulator with its state under the test's ``tmp_path``."""
    try:
        from .server import Emulator
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        pytest.skip(f"the emulator needs 'fireworks-training[emulator]': {exc}")
    overrides: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # closest wins
        overrides.update(marker.kwargs)
    settings = fireworks_emulator_settings.updated(**overrides)
    with Emulator(tmp_path / "fireworks-emulator", settings=settings) as emulator:
        yield emulator
