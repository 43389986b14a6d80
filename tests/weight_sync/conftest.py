"""An emulator with a trainer job, a deployment attached to it, and our clients on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import tinker

from fireworks_training import DeploymentManager, FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.demo import ADAM, make_batch
from fireworks_training.emulator import Emulator, blobs
from fireworks_training.emulator.model import base_weights
from fireworks_training.emulator.settings import Settings

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
PROMPT = list(b"the quick brown fox")
HOT_LOAD_PATH = "/hot_load/v1/models/hot_load"


@pytest.fixture
def fireworks_emulator_settings() -> Settings:
    return Settings(long_poll_seconds=0.5)


@pytest.fixture
def emu(fireworks_emulator: Emulator) -> Emulator:
    return fireworks_emulator


@dataclass
class Rig:
    """A trainer job with a training client, and a deployment its service client samples."""

    emu: Emulator
    job: str
    deployment_id: str
    manager: DeploymentManager
    service: FiretitanServiceClient
    trainer: FiretitanTrainingClient

    def train(self, steps: int = 1, start: int = 0) -> None:
        for step in range(start, start + steps):
            self.trainer.forward_backward(make_batch(step), "cross_entropy").result()
            self.trainer.optim_step(ADAM).result()

    def served_bits(self, replica: int = 0) -> np.ndarray:
        return blobs.bf16_bits(self.emu.deployment_weights(self.deployment_id, replica))

    def expected_bits(self, snapshot: str) -> np.ndarray:
        """What serving ``snapshot`` means: the trainer's bf16 weights (saved just now), or
        for a LoRA adapter bf16(W0 + bf16(A) @ bf16(B)) read from its blob."""
        if self.trainer.lora_rank == 0:
            return blobs.bf16_bits(self.emu.weights(self.job))
        path = self.emu.state_dir / "checkpoints" / self.job / f"{snapshot}.ckpt"
        adapter = blobs.read_blob(path)
        a, b = (blobs.bf16_float(adapter.arrays[k]) for k in ("A", "B"))
        return blobs.bf16_bits((base_weights(BASE_MODEL) + a @ b).astype(np.float32))

    def ledger(self) -> list[tuple[str, str, str]]:
        """(identity, full/delta, result) of every signal the deployment received."""
        return [
            (e["identity"], e["type"], e["result"])
            for e in self.emu.deployment_ledger(self.deployment_id)
        ]

    def signals(self) -> list[dict[str, Any]]:
        return [
            e.body for e in self.emu.request_log if e.route == HOT_LOAD_PATH and e.method == "POST"
        ]

    def current(self) -> list[str | None]:
        return [
            r["current_snapshot_identity"]
            for r in self.emu.deployment(self.deployment_id)["replicas"]
        ]


@contextmanager
def attached(
    emu: Emulator,
    *,
    lora_rank: int = 0,
    replicas: int = 1,
    deployment_id: str = "dep",
    **attach: Any,
) -> Iterator[Rig]:
    """A fresh job and deployment, a service client attached to it, one training client."""
    job = emu.create_trainer_job(lora_rank=lora_rank)
    emu.create_deployment(deployment_id, hot_load_trainer_job=job, replica_count=replicas)
    with (
        DeploymentManager(emu.api_key, emu.base_url) as manager,
        FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service,
    ):
        service.attach_deployment(deployment_id, deployment_manager=manager, **attach)
        trainer = service.create_training_client(BASE_MODEL, lora_rank=lora_rank)
        yield Rig(emu, job, deployment_id, manager, service, trainer)


def greedy(max_tokens: int = 8) -> tinker.types.SamplingParams:
    return tinker.types.SamplingParams(max_tokens=max_tokens, temperature=0.0)


def model_input(tokens: list[int] = PROMPT) -> tinker.types.ModelInput:
    return tinker.types.ModelInput.from_ints(tokens)
