"""The scripts in examples/ run against the emulator as users would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fireworks_training.emulator")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_loop.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_custom_loop_stops_then_resumes_and_promotes(tmp_path: Path) -> None:
    first = _run("--steps", "12", "--log-path", str(tmp_path), "--crash-after", "7")
    assert first.returncode == 1
    assert "crashed after step 7" in first.stderr
    assert "starting at step 0" in first.stdout
    second = _run("--steps", "12", "--log-path", str(tmp_path))
    assert second.returncode == 0, second.stderr
    assert "starting at step 5" in second.stdout
    assert "promoted accounts/emulator/models/custom-loop-model (READY) after step 12" in (
        second.stdout
    )
