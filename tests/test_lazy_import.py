"""`import fireworks_training` stays cheap: names load on first use, tinker with the trainer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import fireworks_training


def _modules_after(statement: str) -> dict[str, bool]:
    script = (
        f"import json, sys\n{statement}\n"
        "print(json.dumps({m: m in sys.modules for m in "
        "('tinker', 'numpy', 'fireworks_training.futures', 'fireworks_training.clients.trainer', "
        "'fireworks_training.clients.fireworks', 'fireworks_training.clients._sync.fireworks', "
        "'httpx', 'pydantic', 'asyncio', 'tenacity')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_import_loads_no_client_and_no_tinker() -> None:
    loaded = _modules_after("import fireworks_training")
    assert not any(loaded.values()), loaded


def test_control_plane_client_does_not_load_tinker() -> None:
    loaded = _modules_after("from fireworks_training import FireworksClient, Checkpoint")
    assert loaded["fireworks_training.clients._sync.fireworks"]
    assert not loaded["tinker"]
    assert not loaded["fireworks_training.futures"]
    assert not loaded["fireworks_training.clients.trainer"]


def test_sync_client_loads_no_asyncio_tenacity_or_pydantic() -> None:
    # The sync client's import time: the event loop, the retry library (loaded on the first
    # call) and pydantic (rows are dicts) are not part of it.
    loaded = _modules_after("from fireworks_training import FireworksClient")
    assert loaded["httpx"]
    assert not loaded["asyncio"]
    assert not loaded["tenacity"]
    assert not loaded["pydantic"]
    assert not loaded["fireworks_training.clients.fireworks"]  # the module of both clients


def test_trainer_client_loads_tinker() -> None:
    loaded = _modules_after("from fireworks_training import FiretitanTrainingClient")
    assert loaded["tinker"]
    assert loaded["fireworks_training.futures"]


@pytest.mark.parametrize("name", fireworks_training.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(fireworks_training, name)
    assert value is not None
    assert name in dir(fireworks_training)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        fireworks_training.Nope  # noqa: B018


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from fireworks_training import *", namespace)
    assert set(fireworks_training.__all__) <= set(namespace)
