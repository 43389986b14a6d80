"""Helpers for the workflow's hostile-environment tests: live clients of one emulator.

Not a conftest: the tests import what they use.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.demo import ADAM, BASE_MODEL, make_batch
from fireworks_training.emulator import Emulator


@dataclass
class Loop:
    """One training process: its clients, the emulator they talk to, and its job."""

    emu: Emulator
    job: str
    control: FireworksClient
    trainer: FiretitanTrainingClient

    def ckpt(self, log_path: str | os.PathLike[str], **kwargs: Any) -> TrainingCheckpoints:
        options: dict[str, Any] = {
            "trainer_job_id": self.job,
            "base_model": BASE_MODEL,
            "dcp_save_interval": 5,
            **kwargs,
        }
        return TrainingCheckpoints(self.trainer, self.control, log_path=log_path, **options)

    def train(self, ckpt: TrainingCheckpoints, start: int, stop: int, consumed: int) -> int:
        """Steps ``start + 1`` to ``stop`` with periodic saves; the data cursor at the end."""
        for step in range(start + 1, stop + 1):
            batch = make_batch(consumed)
            self.trainer.forward_backward(batch, "cross_entropy").result()
            self.trainer.optim_step(ADAM).result()
            consumed += len(batch)
            ckpt.maybe_save(step, consumed)
        return consumed

    def requests(self) -> int:
        """Requests the emulator has received so far."""
        return len(self.emu.request_log)

    def sent_since(self, mark: int, op: str) -> int:
        """Requests to a route ending in ``op`` since ``mark``."""
        return sum(r.route.endswith(op) for r in self.emu.request_log[mark:])


@contextmanager
def loop(emu: Emulator, job: str | None = None) -> Iterator[Loop]:
    """New clients (a new process, as far as the services can tell) on ``job``."""
    job = job or emu.create_trainer_job(base_model=BASE_MODEL)
    with ExitStack() as stack:
        control = stack.enter_context(
            FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id)
        )
        service = stack.enter_context(
            FiretitanServiceClient(emu.trainer_url(job), emu.api_key, heartbeat_interval_s=None)
        )
        yield Loop(emu, job, control, service.create_training_client(BASE_MODEL))


@contextmanager
def read_only(folder: Path) -> Iterator[bool]:
    """``folder`` made read-only even for root (the immutable flag); False when impossible."""
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if done.returncode != 0 and os.geteuid() != 0:
        folder.chmod(0o555)
    try:
        yield done.returncode == 0 or os.geteuid() != 0
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
        folder.chmod(0o755)
