"""SIGKILL a training process at random points; the rerun resumes from the newest state saved.

Each trial: a subprocess trains with state saves every few steps and is killed (or kills
itself in the middle of a ledger write, after the state and ``dataloader.json`` are saved);
the test then reruns the same loop in-process with the same ``log_path`` and checks the
resume point (the newest state the control plane lists), the data cursor and the final
weights. The run is the same on object storage: tests/workflow/test_remote_log_path.py.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.demo import BASE_MODEL, BATCH_SIZE

from .crash import kill_at, newest_state
from .worker import Target, run

STEPS = 12
INTERVAL = 3
TRIALS = 20

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
    return Target(emu.base_url, emu.api_key, emu.account_id, job, str(log_path))


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
    delay = random.Random(kill_step).uniform(0, 0.05)
    kill_at(target, steps=STEPS, interval=INTERVAL, kill_step=kill_step, delay_s=delay, tear=tear)
    row = newest_state(target)
    expected = 0 if row is None else row.step
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = run(target, steps=STEPS, interval=INTERVAL)
    assert start.step == expected
    assert start.data_consumed == start.step * BATCH_SIZE
    if tear:
        # The torn line's state and cursor were saved before it: nothing is replayed.
        assert (start.step, start.cursor_recorded) == (kill_step, True)
    if not start.cursor_recorded:  # killed between a state save and its records
        assert any("no data cursor" in str(w.message) for w in caught)
    assert emu.weights_digest(job) == reference_digest
