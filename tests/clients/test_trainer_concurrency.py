"""Ordering under concurrent callers, and 1,000 futures in flight on bounded threads."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import tinker

from fireworks_training.clients.trainer import FiretitanTrainingClient
from fireworks_training.futures import TrainerFuture
from fireworks_training.retries import RetryPolicy

from .trainer_fakes import KEY, MODEL, TRAINER, FakeTrainer, fake, policy, slept, trainer

__all__ = ["fake", "policy", "slept", "trainer"]  # fixtures

THREADS = 16
OPS_PER_THREAD = 30


def _datum() -> tinker.types.Datum:
    return tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints([1, 2]),
        loss_fn_inputs={"target_tokens": np.array([2, 3]), "weights": [1.0, 1.0]},
    )


def _worker(
    client: FiretitanTrainingClient, barrier: threading.Barrier, i: int
) -> list[tuple[str, TrainerFuture[Any]]]:
    barrier.wait()
    made: list[tuple[str, TrainerFuture[Any]]] = []
    for j in range(OPS_PER_THREAD):
        kind = (i + j) % 3
        if kind == 0:
            made.append((f"w{i}-{j}", client.save_state(f"w{i}-{j}")))
        elif kind == 1:
            made.append(("optim", client.optim_step(tinker.types.AdamParams())))
        else:
            made.append(("fb", client.forward_backward([_datum()])))
    return made


def test_many_threads_server_sees_increasing_seq_ids(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    barrier = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        batches = list(pool.map(lambda i: _worker(trainer, barrier, i), range(THREADS)))
    total = THREADS * OPS_PER_THREAD
    for tag, future in [pair for batch in batches for pair in batch][::-1]:  # any order
        result = future.result(timeout=30)
        body = next(b for b in fake.ops() if b["seq_id"] == future.seq_id)
        if tag == "optim":
            assert body["type"] == "optim_step"
            assert result.metrics == {"step": float(future.seq_id)}
        elif tag == "fb":
            assert "type" not in body  # as the official client sends it
            assert result.metrics["seq"] == float(future.seq_id)
        else:
            assert body["path"] == tag
            assert result.path == f"cross_job://job-abc/{tag}"
    seen = [body["seq_id"] for body in fake.ops()]
    assert seen == list(range(1, total + 1))  # strictly increasing, no gap


def test_thousand_futures_in_flight_on_bounded_threads(
    fake: FakeTrainer, policy: RetryPolicy
) -> None:
    n = 1000
    baseline = threading.active_count()
    fake.hold = asyncio.Event()
    fake.expected_submits = n
    with FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY, retry_policy=policy) as client:
        futures = [client.save_state(f"s{i}") for i in range(n)]
        assert fake.all_submitted.wait(60)
        in_flight = threading.active_count()
        assert not any(f.done() for f in futures)
        client._conn.runner.call_soon(fake.hold.set)
        results = [f.result(timeout=60) for f in futures]
        after = threading.active_count()
    assert [r.path for r in results] == [f"cross_job://job-abc/s{i}" for i in range(n)]
    assert in_flight - baseline <= 1, (baseline, in_flight)  # the one event loop thread
    assert after - baseline <= 1
    assert threading.active_count() <= baseline  # closing joins it
    assert len(fake.retrieves) == n
