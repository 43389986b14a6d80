"""The official ``fireworks-ai`` client, in its own cached virtualenv.

Used by the benchmarks and by ``tests/emulator/test_wire_fidelity.py``. The package is
installed without its dependency pins, then with the few libraries its control-plane client
imports (the registry may lack the newest pin of one of them, certifi), under
``~/.cache/fireworks-training-wirefidelity/<version>``. Scripts run in a subprocess and print
one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["VERSION", "OfficialClient", "official_client"]

VERSION = os.environ.get("FIREWORKS_AI_WIRE_VERSION", "1.2.30")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
_VENV = _CACHE / "fireworks-training-wirefidelity" / VERSION
_RUNTIME_DEPS = [
    "httpx<1",
    "urllib3",
    "pydantic<3",
    "anyio<5",
    "distro",
    "sniffio",
    "typing-extensions",
    "certifi",
]
_MODULE = "fireworks.training.sdk.fireworks_client"


class OfficialClient:
    """Runs scripts with the official client's interpreter."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.version = VERSION

    def run(self, script: str, *args: str, timeout: float = 600) -> dict[str, Any]:
        """Run ``script`` with ``args``; the JSON object on its last output line."""
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home())}
        result = subprocess.run(
            [str(self.python), "-c", script, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"official client script failed: {result.stderr[-1500:]}")
        out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return out


def _build() -> str | None:
    """Create the cached virtualenv; why it could not be built, else None."""
    staging = _VENV.with_name(_VENV.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip.append("--disable-pip-version-check")
    steps = [
        [sys.executable, "-m", "venv", str(staging)],
        [*pip, "--no-deps", f"fireworks-ai=={VERSION}"],
        [*pip, *_RUNTIME_DEPS],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            return f"cannot install fireworks-ai=={VERSION}: {result.stderr.strip()[-300:]}"
    shutil.rmtree(_VENV, ignore_errors=True)
    staging.rename(_VENV)
    return None


def official_client() -> tuple[OfficialClient | None, str]:
    """The official client (building its virtualenv on first use), or None and why not."""
    python = _VENV / "bin" / "python"
    if not python.exists():
        reason = _build()
        if reason:
            return None, reason
    check = subprocess.run([str(python), "-c", f"import {_MODULE}"], capture_output=True)
    if check.returncode != 0:
        return None, f"fireworks-ai=={VERSION} has no {_MODULE}"
    return OfficialClient(python), f"fireworks-ai=={VERSION}"
