"""The official ``fireworks-ai`` client lists and promotes checkpoints against the emulator.

The client runs in its own virtualenv (cached under
``~/.cache/fireworks-training-wirefidelity/<version>``) so its pins never touch ours. The
package is installed without its dependency pins, then with the few libraries its control-
plane client imports: the registry may lack the newest pin of one of them (certifi), and the
checkpoint client does not need the extras.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, Trainer

VERSION = os.environ.get("FIREWORKS_AI_WIRE_VERSION", "1.2.30")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
VENV = CACHE / "fireworks-training-wirefidelity" / VERSION
RUNTIME_DEPS = [
    "httpx<1",
    "urllib3",
    "pydantic<3",
    "anyio<5",
    "distro",
    "sniffio",
    "typing-extensions",
    "certifi",
]
MODULE = "fireworks.training.sdk.fireworks_client"

DRIVER = """
import json, sys
from fireworks.training.sdk.fireworks_client import FireworksClient

base_url, key, job_id, output_model, base_model = sys.argv[1:6]
client = FireworksClient(api_key=key, base_url=base_url)
rows = client.list_checkpoints(job_id, page_size=2)
promotable = [row for row in rows if row.get("promotable")]
model = client.promote_checkpoint(
    name=promotable[-1]["name"], output_model_id=output_model, base_model=base_model
)
print(json.dumps({"account": client.account_id, "rows": rows, "model": model}))
"""


def _python() -> Path:
    return VENV / "bin" / "python"


def _has_module() -> bool:
    check = subprocess.run(
        [str(_python()), "-c", f"import {MODULE}"], capture_output=True, timeout=60
    )
    return check.returncode == 0


def _build_venv() -> str | None:
    """Create the cached virtualenv; the reason it could not be built, else None."""
    staging = VENV.with_name(VENV.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    pip = [
        str(staging / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    steps = [
        [sys.executable, "-m", "venv", str(staging)],
        [*pip, "--no-deps", f"fireworks-ai=={VERSION}"],
        [*pip, *RUNTIME_DEPS],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            return f"cannot install fireworks-ai=={VERSION}: {result.stderr.strip()[-300:]}"
    shutil.rmtree(VENV, ignore_errors=True)
    staging.rename(VENV)
    return None


@pytest.fixture(scope="module")
def reference_python() -> Path:
    if not _python().exists():
        reason = _build_venv()
        if reason:
            pytest.skip(reason)
    if not _has_module():
        pytest.skip(f"fireworks-ai=={VERSION} has no {MODULE} (no training SDK to compare with)")
    return _python()


def _drive(python: Path, emu: Emulator, job: str, output_model: str) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home())}
    args = [emu.base_url, emu.api_key, job, output_model, BASE_MODEL]
    result = subprocess.run(
        [str(python), "-c", DRIVER, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def _prepare(emu: Emulator, http: httpx.Client) -> tuple[str, list[str]]:
    job = emu.create_trainer_job(job_id="wire-job", lora_rank=4)
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=4)
    emu.add_checkpoint_rows(job, 2)
    emu.add_checkpoint_rows(job, 2, ttl_seconds=60)  # expire: an empty middle page
    emu.advance_time(61)
    trainer.train_step()
    trainer.save_state("step-1")
    trainer.save_sampler("step-1")
    names = [row["name"] for row in trainer.rows(job)]
    return job, names


def test_reference_client_lists_and_promotes(
    reference_python: Path, emu: Emulator, http: httpx.Client
) -> None:
    job, names = _prepare(emu, http)
    emu.request_log.clear()
    out = _drive(reference_python, emu, job, "wire-model")
    assert out["account"] == emu.account_id
    assert [row["name"] for row in out["rows"]] == names
    assert all("sizeBytes" in row for row in out["rows"])
    model = out["model"]
    assert model["name"] == "accounts/emulator/models/wire-model"
    assert model["kind"] == "HF_PEFT_ADDON"
    assert model["sourceCheckpoint"] == names[-1]

    lists = [e for e in emu.request_log if e.route.endswith("/checkpoints")]
    # Pages of 2, 0 (both rows expired) and 2 rows: the client kept going past the empty one.
    assert len(lists) == 3
    assert all("pageSize=2" in e.path for e in lists)
    assert ["pageToken=" in e.path for e in lists] == [False, True, True]
    (promote,) = [e for e in emu.request_log if e.route.endswith(":promote")]
    assert promote.body == {
        "output_model": "accounts/emulator/models/wire-model",
        "trainer_job_id": f"accounts/emulator/rlorTrainerJobs/{job}",
        "base_model": BASE_MODEL,
        "async_promotion": True,
    }


def test_reference_client_retries_a_legacy_server_without_the_opt_in(
    reference_python: Path, emu: Emulator, http: httpx.Client
) -> None:
    job, _ = _prepare(emu, http)
    emu.set_legacy_async_promotion(True)
    emu.request_log.clear()
    out = _drive(reference_python, emu, job, "legacy-model")
    assert out["model"]["state"] == "READY"
    bodies = [e.body for e in emu.request_log if e.route.endswith(":promote")]
    assert [("async_promotion" in b) for b in bodies] == [True, False]


@pytest.mark.slow
def test_reference_client_waits_for_a_long_running_promotion(
    reference_python: Path, emu: Emulator, http: httpx.Client
) -> None:
    job, _ = _prepare(emu, http)
    emu.set_promotion_mode("async", seconds=0.5)  # the client sleeps 10 s before its first poll
    out = _drive(reference_python, emu, job, "async-model")
    assert out["model"]["state"] == "READY"
    assert "@type" not in out["model"]
    assert any("/operations/" in e.route for e in emu.request_log)
