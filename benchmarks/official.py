"""The official ``fireworks-ai`` client, in its own cached virtualenv.

Used by the benchmarks and by ``tests/emulator/test_wire_fidelity.py``, under
``~/.cache/fireworks-training-wirefidelity/<version>``. ``fireworks-ai==1.2.30`` requires
``certifi>=2026.10.19``, which the package registry does not carry, so a plain install
fails: the package goes in with ``--no-deps``, then the few libraries its control-plane,
trainer, deployment and sampling clients import (no torch). The directory name carries a
digest of that list, so a changed list builds a new virtualenv. Scripts run in a subprocess
and print one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["VERSION", "OfficialClient", "official_client"]

VERSION = os.environ.get("FIREWORKS_AI_WIRE_VERSION", "1.2.30")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
_RUNTIME_DEPS = [
    "httpx<1",
    "urllib3",
    "pydantic<3",
    "anyio<5",
    "distro",
    "sniffio",
    "typing-extensions",
    "certifi",
    # The training, deployment and weight-sync modules (its training-sdk extra, torch-free).
    "numpy<3",
    "orjson<4",
    "protobuf<8",
    "pyqwest==0.10.0",
    "h2<5",
]
_DIGEST = hashlib.sha256("\n".join(_RUNTIME_DEPS).encode()).hexdigest()[:8]
_VENV = _CACHE / "fireworks-training-wirefidelity" / f"{VERSION}-{_DIGEST}"
_MODULE = "fireworks.training.sdk.fireworks_client, fireworks.training.sdk.weight_syncer"


class OfficialClient:
    """Runs scripts with the official client's interpreter."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.version = VERSION

    def run(self, script: str, *args: str, timeout: float = 600) -> dict[str, Any]:
        """Run ``script`` with ``args``; the JSON object on its last output line."""
        result = subprocess.run(
            [str(self.python), "-c", script, *args],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"official client script failed: {result.stderr[-1500:]}")
        out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return out


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home())}


def _check_import(python: Path) -> None:
    """Raise when the installed client does not import: a real break, not a reason to skip."""
    check = subprocess.run(
        [str(python), "-c", f"import {_MODULE}"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    if check.returncode != 0:
        raise RuntimeError(
            f"fireworks-ai=={VERSION} is installed in {python.parent.parent} but {_MODULE} "
            f"does not import (delete that directory to rebuild):\n{check.stderr[-1500:]}"
        )


def _build() -> str | None:
    """Build the virtualenv; why it could not be installed, else None.

    Each builder installs into its own fresh directory and renames it into place, so
    concurrent builders never touch each other's files; when another one got there first,
    ours is discarded and theirs used.
    """
    _VENV.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{_VENV.name}.building-", dir=_VENV.parent))
    try:
        python = staging / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        steps = [
            [sys.executable, "-m", "venv", str(staging)],
            [*pip, "--no-deps", f"fireworks-ai=={VERSION}"],
            [*pip, *_RUNTIME_DEPS],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                return f"cannot install fireworks-ai=={VERSION}: {result.stderr.strip()[-300:]}"
        _check_import(python)
        try:
            staging.rename(_VENV)
        except OSError:
            if not (_VENV / "bin" / "python").exists():
                raise
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def official_client() -> tuple[OfficialClient | None, str]:
    """The official client (building its virtualenv on first use), or None and why not.

    Only a failed install is a reason to go without it; an installed client whose module
    does not import raises.
    """
    python = _VENV / "bin" / "python"
    if python.exists():
        _check_import(python)
    else:
        reason = _build()
        if reason:
            return None, reason
    return OfficialClient(python), f"fireworks-ai=={VERSION}"
