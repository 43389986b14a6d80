"""Killing a worker process and telling where its successor must resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from fireworks_training.checkpoints import Checkpoint
from fireworks_training.checkpoints.selection import latest_resumable
from fireworks_training.clients.fireworks import FireworksClient

from .worker import Target

WORKER = Path(__file__).with_name("worker.py")
# The worker never needs torch, and tinker imports it when installed: seconds per start, and
# the crash trials start a worker about forty times. A None entry makes ``import torch`` fail.
_WITHOUT_TORCH = (
    "import runpy, sys; sys.modules['torch'] = None; "
    f"runpy.run_path({str(WORKER)!r}, run_name='__main__')"
)
ROOT = Path(__file__).resolve().parents[2]


def kill_at(
    target: Target,
    *,
    steps: int,
    interval: int,
    kill_step: int,
    delay_s: float = 0.0,
    tear: bool = False,
    env: dict[str, str] | None = None,
) -> None:
    """Run the worker and SIGKILL it ``delay_s`` after it reports ``kill_step`` (or let it
    tear its ledger line of ``kill_step`` and kill itself)."""
    command = [sys.executable, "-c", _WITHOUT_TORCH, json.dumps(asdict(target))]
    command += ["--steps", str(steps), "--interval", str(interval)]
    if tear:
        command += ["--tear-at", str(kill_step)]
    child_env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not tear and line.strip() == f"step {kill_step}":
                time.sleep(delay_s)
                proc.kill()
                break
        proc.wait(timeout=60)
        assert proc.returncode == -9, "the worker should have died by SIGKILL"


def newest_state(target: Target) -> Checkpoint | None:
    """The row a resume must load: what the control plane lists, newest resumable."""
    with FireworksClient(target.api_key, target.base_url, account_id=target.account_id) as cp:
        return latest_resumable(cp.list_checkpoints(target.job_id))
