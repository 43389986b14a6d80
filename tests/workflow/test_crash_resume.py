"""SIGKILL a training process at random points; the rerun resumes from the last durable save.

Each trial: a subprocess trains with state saves every few steps and is killed (or kills
itself in the middle of a ledger write); the test then reruns the same loop in-process with
the same ``log_path`` and checks the resume point, the data cursor and the final weights.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints.ledger import Ledger
from fireworks_training.demo import BASE_MODEL, BATCH_SIZE

from .worker import Target, run

STEPS = 12
INTERVAL = 3
TRIALS = 20
WORKER = Path(__file__).with_name("worker.py")

emulator_module = pytest.importorskip("fireworks_training.emulator")


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with emulator_module.Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def reference_digest(emu: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    job = emu.create_trainer_job(base_model=BASE_MODEL)
    run(_target(emu, job, tmp_path_factory.mktemp("reference")), steps=STEPS, interval=0)
    digest: str = emu.weights_digest(job)
    return digest


def _target(emu: Any, job: str, log_path: Path) -> Target:
    return Target(emu.base_url, emu.api_key, emu.account_id, job, log_path)


def _kill_at(target: Target, kill_step: int, delay_s: float, tear: bool) -> None:
    fields = {**target.__dict__, "log_path": str(target.log_path)}
    command = [sys.executable, str(WORKER), json.dumps(fields)]
    command += ["--steps", str(STEPS), "--interval", str(INTERVAL)]
    if tear:
        command += ["--tear-at", str(kill_step)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not tear and line.strip() == f"step {kill_step}":
                time.sleep(delay_s)
                proc.kill()
                break
        proc.wait(timeout=60)
        assert proc.returncode == -9, "the worker should have died by SIGKILL"


def _last_durable(log_path: Path) -> tuple[int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        durable = [r for r in Ledger(log_path).records() if r.state_path]
    if not durable:
        return 0, 0
    return durable[-1].step or 0, durable[-1].data_consumed or 0


TRIAL_PLAN = [
    # (kill after this step, tear the ledger line of this step instead of a plain kill)
    (random.Random(trial).randint(1, STEPS - 1), trial % 4 == 0)
    for trial in range(TRIALS)
]


@pytest.mark.parametrize(
    ("kill_step", "tear"),
    TRIAL_PLAN,
    ids=[
        f"trial{n}-{'tear' if tear else 'kill'}-at-{step}"
        for n, (step, tear) in enumerate(TRIAL_PLAN)
    ],
)
def test_sigkill_then_resume(
    emu: Any, reference_digest: str, tmp_path: Path, kill_step: int, tear: bool
) -> None:
    if tear:
        kill_step = max(INTERVAL, kill_step - kill_step % INTERVAL)
    job = emu.create_trainer_job(base_model=BASE_MODEL)
    target = _target(emu, job, tmp_path / "run")
    _kill_at(target, kill_step, random.Random(kill_step).uniform(0, 0.05), tear)
    expected_step, expected_consumed = _last_durable(target.log_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = run(target, steps=STEPS, interval=INTERVAL)
    assert (start.step, start.data_consumed) == (expected_step, expected_consumed)
    assert start.data_consumed == start.step * BATCH_SIZE
    if tear:
        assert expected_step == kill_step - INTERVAL
        assert any("unreadable ledger line" in str(w.message) for w in caught)
    assert emu.weights_digest(job) == reference_digest
