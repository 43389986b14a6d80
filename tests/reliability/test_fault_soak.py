"""Fault soak: a 200-step run while a fifth of all requests are faulted, on every route.

State saves every 5 steps, a sampler save and a promotion every 10 steps, a listing every
4 steps. The emulator answers about 20% of requests with 503, 429 (with ``Retry-After``), 500,
a dropped connection or a 1 s latency spike, each kind about equally often. ``Retry-After``
(0.05 s) and the trainer backoff (from 0.02 s) are scaled down to keep the suite fast; the
retries themselves are real, and the caller never repeats a call.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from fireworks_training.checkpoints import CheckpointKind, Model
from fireworks_training.checkpoints.ledger import Ledger
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.jobs import TrainerJobConfig, TrainerJobManager
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL, BATCH_SIZE, TrainResult, train
from fireworks_training.emulator import Emulator
from fireworks_training.emulator.faults import Faults
from fireworks_training.retries import RetryPolicy

from .conftest import (
    FAULT_KINDS,
    AttemptCounter,
    install_fault_mix,
    route_counts,
    stored_models,
    trainer_resends,
)

JOB = "soak"
STEPS = 200
STATE_EVERY = 5
SAMPLER_EVERY = 10
LIST_EVERY = 4
PROMOTIONS = STEPS // SAMPLER_EVERY
SPIKE_S = 1.0
TRAINER_POLICY = RetryPolicy(max_retries=10, initial_wait_s=0.02, max_wait_s=0.5)


class SoakLoop:
    """What the user's loop does after each step: list, save for the sampler, promote."""

    def __init__(self, emu: Emulator, control: FireworksClient, ckpt: TrainingCheckpoints):
        self.emu = emu
        self.control = control
        self.ckpt = ckpt
        self.listings = 0
        self.models: list[Model] = []

    def on_step(self, step: int) -> None:
        if step % LIST_EVERY == 1:
            self.check_listing()
        if step % SAMPLER_EVERY == 0:
            record = self.ckpt.save(
                f"sampler-{step}",
                kind=CheckpointKind.SAMPLER,
                step=step,
                data_consumed=step * BATCH_SIZE,
            )
            assert record.sampler_path is not None
            # Half the promotions answer a long-running operation, half the model at once.
            self.emu.set_promotion_mode("async" if step % 20 else "sync", 0.0)
            model = self.ckpt.promote(
                output_model_id=f"soak-model-{step}", checkpoint_name=record.sampler_path
            )
            self.models.append(model)

    def check_listing(self) -> None:
        rows = self.control.list_checkpoints(JOB)
        self.listings += 1
        ids = [row.checkpoint_id for row in rows]
        assert len(ids) == len(set(ids)), "a checkpoint row is listed twice"
        recorded = {r.name for r in self.ckpt.ledger.records() if r.state_path}
        assert recorded <= set(ids), "a recorded state checkpoint is missing on the server"


def test_fault_soak(emulator: Emulator, tmp_path: Path, figures: dict[str, Any]) -> None:
    emu = emulator
    began = time.monotonic()
    mix = install_fault_mix(
        emu.faults, total_rate=0.2, retry_after_s=0.05, latency_s=SPIKE_S, seed=9
    )
    attempts = AttemptCounter()
    with (
        httpx.Client(transport=attempts, timeout=30) as http,
        TrainerJobManager(emu.api_key, emu.base_url, max_retries=10, http_client=http) as jobs,
        FireworksClient(emu.api_key, emu.base_url, max_retries=10, http_client=http) as control,
    ):
        jobs.create_and_wait(TrainerJobConfig(BASE_MODEL), job_id=JOB, timeout=120)
        url = jobs.trainer_url(JOB)
        with FiretitanServiceClient(url, emu.api_key, retry_policy=TRAINER_POLICY) as service:
            trainer = service.create_training_client(BASE_MODEL)
            ckpt = TrainingCheckpoints(
                trainer,
                control,
                trainer_job_id=JOB,
                log_path=tmp_path / "run",
                base_model=BASE_MODEL,
                dcp_save_interval=STATE_EVERY,
            )
            loop = SoakLoop(emu, control, ckpt)
            done = train(
                trainer, ckpt, start=TrainResult(0, 0), steps=STEPS, sync_every=0,
                on_step=loop.on_step,
            )  # fmt: skip
    stats = emu.faults.stats()
    emu.faults.clear()
    assert done.step == STEPS
    assert loop.listings == 50
    assert len(loop.models) == PROMOTIONS
    check_server_matches_ledger(emu, tmp_path / "run", loop.models)
    figures.update(
        steps=done.step,
        listings=loop.listings,
        promotions=len(loop.models),
        requests=route_counts(emu),
        faults_injected=mix.injected(),
        fault_stats=stats,
        trainer=trainer_resends(emu),
        control_attempts=dict(attempts.outcomes),
        control_retries=attempts.failed,
        promote_requests=sum(r.route.endswith(":promote") for r in emu.request_log),
        seconds=round(time.monotonic() - began, 1),
    )
    for plane, injected in mix.injected().items():
        missing = [kind for kind in FAULT_KINDS if injected[kind] == 0]
        assert not missing, f"never injected on the {plane} plane: {missing}"
    assert sum(mix.injected()["trainer"].values()) > 50
    assert figures["trainer"]["submit_resends"] + figures["trainer"]["retrieve_repolls"] > 0
    assert attempts.failed > 0


def test_the_mix_faults_a_fifth_of_requests_spikes_included() -> None:
    faults = Faults()
    mix = install_fault_mix(faults, total_rate=0.2, retry_after_s=0.05, latency_s=SPIKE_S, seed=3)
    paths = ["/v1/accounts/a/models/m", "/training/v1/rlorTrainerJobs/a/j/api/v1/optim_step"]
    decided = [faults.decide(path) for path in paths for _ in range(5000)]
    spikes = [f for f in decided if f is not None and f.status is None and f.drop is None]
    assert all(f.latency_s == SPIKE_S for f in spikes)  # a spike waits, then answers
    assert faults.stats()["total"] == sum(f is not None for f in decided)
    assert 0.18 < faults.stats()["total"] / len(decided) < 0.22
    for plane, injected in mix.injected().items():
        for kind in FAULT_KINDS:  # each kind about a fifth of the faults
            assert 0.025 < injected[kind] / 5000 < 0.055, (plane, kind, injected[kind])
    assert len(spikes) == faults.stats()["latency_spike"] == faults.stats()["latency"]


def check_server_matches_ledger(emu: Emulator, log_path: Path, models: list[Model]) -> None:
    """No checkpoint lost or recorded twice; exactly one model per promotion."""
    with FireworksClient(emu.api_key, emu.base_url) as control:
        rows = control.list_checkpoints(JOB)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn ledger line would be a failure here
        records = Ledger(log_path).records()
    names = Counter(r.name for r in records)
    assert max(names.values()) == 1, "a checkpoint is recorded twice"
    states = {r.name for r in records if r.state_path}
    samplers = {r.sampler_path for r in records if r.sampler_path}
    assert len(states) == STEPS // STATE_EVERY
    assert len(samplers) == PROMOTIONS
    ids = Counter(row.checkpoint_id for row in rows)
    assert max(ids.values()) == 1, "a checkpoint row exists twice"
    assert {r.checkpoint_id for r in rows if r.resumable} == states
    assert {r.checkpoint_id for r in rows if r.promotable} == samplers
    assert len(rows) == len(states) + len(samplers)
    stored = stored_models(emu)
    assert sorted(stored) == sorted(m.model_id for m in models)
    assert len(stored) == PROMOTIONS
    sources = {record["source_checkpoint"].rsplit("/", 1)[-1] for record in stored.values()}
    assert sources == samplers
