"""tinker-cookbook's trainer calls, made as it writes them, against the emulator.

tinker-cookbook drives ``tinker.ServiceClient`` / ``tinker.TrainingClient``; ours is both
(``isinstance`` holds). Each test makes one of its call forms (its supervised and RL loops,
its ``checkpoint_utils``) and uses the result the way it does: the ``*_async`` twins that
give futures, ``await future.result_async()``, ``.path`` of a save, per-token logprobs of a
cross-entropy pass. The checkpoint flows are written here in our own words. Sampling is not
here (see docs/migration.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tinker

from fireworks_training.client import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.emulator import Emulator

BASE = "accounts/fireworks/models/tiny-bigram"
RANK = 8
TIMEOUT = 60
ADAM = tinker.AdamParams(learning_rate=0.05, beta1=0.9, beta2=0.95, eps=1e-8)


def batch(step: int = 0) -> list[tinker.Datum]:
    text = list(f"batch {step}: a tinker datum".encode())
    model_input = tinker.ModelInput.from_ints(text[:-2]).append_int(text[-2])  # 86
    return [
        tinker.Datum(
            model_input=model_input,
            # 86: plain lists are converted by key (int64 targets, float32 weights).
            loss_fn_inputs={"target_tokens": text[1:], "weights": [1.0] * (len(text) - 1)},
        )
    ]


@pytest.fixture
def emu(fireworks_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    # tinker-cookbook passes base_url and nothing else: the key comes from the environment.
    monkeypatch.setenv("FIREWORKS_API_KEY", fireworks_emulator.api_key)
    return fireworks_emulator


@pytest.fixture
def service(emu: Emulator) -> Iterator[FiretitanServiceClient]:
    job = emu.create_trainer_job(job_id="tinker", lora_rank=RANK)
    # 71: tinker.ServiceClient(base_url=..., user_metadata=...)
    with FiretitanServiceClient(
        base_url=emu.trainer_url(job), user_metadata={"recipe": "sl"}
    ) as svc:
        yield svc


@pytest.fixture
def training_client(service: FiretitanServiceClient) -> FiretitanTrainingClient:
    # 72: used directly as a client.
    return service.create_lora_training_client(base_model=BASE, rank=RANK)


def test_71_the_service_is_a_tinker_service(
    service: FiretitanServiceClient, training_client: FiretitanTrainingClient
) -> None:
    assert isinstance(service, tinker.ServiceClient)
    assert isinstance(training_client, tinker.TrainingClient)
    with pytest.raises(NotImplementedError, match="project_id"):
        FiretitanServiceClient(base_url=service.base_url, project_id="other-project")


def test_72_73_lora_factories_with_user_metadata(service: FiretitanServiceClient) -> None:
    client = service.create_lora_training_client(
        base_model=BASE, rank=RANK, user_metadata={"a": "b"}
    )
    made = asyncio.run(
        service.create_lora_training_client_async(BASE, rank=RANK, user_metadata={"a": "b"})
    )
    assert client.lora_rank == made.lora_rank == RANK


def test_73_from_state_sync_and_async(
    service: FiretitanServiceClient, training_client: FiretitanTrainingClient, emu: Emulator
) -> None:
    path = training_client.save_state("000001").result(timeout=TIMEOUT).path
    weights = emu.weights("tinker")
    resumed = service.create_training_client_from_state_with_optimizer(
        path, user_metadata={"a": "b"}
    )
    warm = asyncio.run(service.create_training_client_from_state_async(path, user_metadata={}))
    assert np.array_equal(emu.weights("tinker"), weights)
    assert resumed.lora_rank == warm.lora_rank == RANK
    with pytest.raises(NotImplementedError, match="weights_access_token"):
        service.create_training_client_from_state(path, weights_access_token="t")


def test_74_75_76_85_the_supervised_loop(training_client: FiretitanTrainingClient) -> None:
    async def evaluate() -> float:
        future = await training_client.forward_async(batch(0), loss_fn="cross_entropy")  # 76
        result = await future.result_async()
        return -sum(result.loss_fn_outputs[0]["logprobs"].data)

    async def loop() -> tuple[float, float, list[float]]:
        before = await evaluate()
        steps = []
        for step in range(3):
            # Both submitted before either is awaited, as the supervised loop pipelines them.
            fwd_bwd_future = await training_client.forward_backward_async(
                batch(step), loss_fn="cross_entropy"
            )
            optim_future = await training_client.optim_step_async(ADAM)  # 75
            fwd_bwd_result = await fwd_bwd_future.result_async()
            optim_result = await optim_future.result_async()
            metrics = optim_result.metrics or {}  # may be None
            steps.append(metrics.get("step", 0.0))
            logprobs = [x["logprobs"] for x in fwd_bwd_result.loss_fn_outputs]  # 85
            weights = batch(step)[0].loss_fn_inputs["weights"]
            assert logprobs[0].to_numpy().shape == weights.to_numpy().shape
        return before, await evaluate(), steps

    before, after, steps = asyncio.run(loop())
    assert steps == [1.0, 2.0, 3.0]
    assert after < before  # three steps on similar text lowered its loss


def test_74_rl_loop_with_a_loss_config(training_client: FiretitanTrainingClient) -> None:
    async def step() -> Any:
        future = await training_client.forward_backward_async(
            batch(), loss_fn="cross_entropy", loss_fn_config={"clip": 0.2}
        )
        return await future.result_async()

    assert asyncio.run(step()).metrics["loss:sum"] > 0


# checkpoint_utils, in our own words --------------------------------------------------------


async def save_checkpoint_async(
    training_client: Any,
    name: str,
    log_path: Path,
    loop_state: dict[str, Any],
    kind: str = "state",
    ttl_seconds: int | None = None,
) -> dict[str, str]:
    """Save state and/or sampler weights, append a JSONL record, return the paths (77, 78)."""
    futures = {}
    if kind in ("state", "both"):
        futures["state"] = await training_client.save_state_async(name, ttl_seconds=ttl_seconds)
    if kind in ("sampler", "both"):
        futures["sampler"] = await training_client.save_weights_for_sampler_async(
            name, ttl_seconds=ttl_seconds
        )
    paths = {f"{k}_path": (await f.result_async()).path for k, f in futures.items()}
    with open(log_path / "checkpoints.jsonl", "a") as out:
        out.write(json.dumps({"name": name, **loop_state, **paths}) + "\n")
    return paths


def save_checkpoint(
    training_client: Any, name: str, log_path: Path, **kwargs: Any
) -> dict[str, str]:
    """The synchronous form: one event loop for the save (cannot run inside another loop)."""
    return asyncio.run(save_checkpoint_async(training_client, name, log_path, **kwargs))


def last_checkpoint(log_path: Path, key: str = "state_path") -> dict[str, Any] | None:
    lines = (log_path / "checkpoints.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return next((r for r in reversed(records) if key in r), None)


def test_77_78_save_checkpoint_then_resume_from_the_record(
    service: FiretitanServiceClient,
    training_client: FiretitanTrainingClient,
    emu: Emulator,
    tmp_path: Path,
) -> None:
    training_client.forward_backward(batch(), "cross_entropy").result(timeout=TIMEOUT)
    training_client.optim_step(ADAM).result(timeout=TIMEOUT)
    paths = save_checkpoint(
        training_client,
        "000010",
        tmp_path,
        loop_state={"batch": 10},
        kind="both",
        ttl_seconds=604800,
    )
    assert set(paths) == {"state_path", "sampler_path"}
    assert paths["sampler_path"].endswith(f"000010-{training_client.session_id}")
    final = save_checkpoint(
        training_client, "final", tmp_path, loop_state={"batch": 11}, kind="both"
    )
    weights = emu.weights("tinker")

    record = last_checkpoint(tmp_path)
    assert record is not None
    assert (record["name"], record["batch"]) == ("final", 11)
    assert record["state_path"] == final["state_path"]
    resumed = service.create_training_client_from_state_with_optimizer(record["state_path"])
    assert resumed.lora_rank == RANK
    assert np.array_equal(emu.weights("tinker"), weights)


class RollingCheckpoints:
    """Periodic saves that keep only the newest rolling state, as CheckpointManager does.

    Each rolling save has a short TTL; once the next one is saved, the previous one would be
    deleted through tinker's REST client, which this SDK does not have: the failure is only
    logged and the TTL cleans up, as in the cookbook.
    """

    def __init__(self, training_client: Any, service: Any, log_path: Path) -> None:
        self.training_client = training_client
        self.service = service
        self.log_path = log_path
        self.previous: str | None = None
        self.delete_failures = 0

    async def save_rolling(self, step: int) -> str:
        paths = await save_checkpoint_async(
            self.training_client,
            f"{step:06d}",
            self.log_path,
            {"batch": step, "rolling": True},
            kind="state",
            ttl_seconds=7200,
        )
        if self.previous is not None:
            try:
                self.service.create_rest_client()
            except Exception:  # the cookbook logs this and lets the TTL clean up
                self.delete_failures += 1
        self.previous = paths["state_path"]
        return self.previous


def test_rolling_saves_with_ttls(
    service: FiretitanServiceClient,
    training_client: FiretitanTrainingClient,
    emu: Emulator,
    tmp_path: Path,
) -> None:
    manager = RollingCheckpoints(training_client, service, tmp_path)

    async def run() -> list[str]:
        saved = []
        for step in range(1, 4):
            training_client.forward_backward(batch(step)).result(timeout=TIMEOUT)
            training_client.optim_step(ADAM).result(timeout=TIMEOUT)
            saved.append(await manager.save_rolling(step))
        return saved

    saved = asyncio.run(run())
    assert [p.rsplit("/", 1)[-1] for p in saved] == ["000001", "000002", "000003"]
    assert manager.delete_failures == 2
    rows = {r["name"].rsplit("/", 1)[-1] for r in service.list_checkpoints("tinker")}
    assert {"000001", "000002", "000003"} <= rows
    emu.advance_time(7201)  # the rolling TTL: the states expire on the server
    rows = {r["name"].rsplit("/", 1)[-1] for r in service.list_checkpoints("tinker")}
    assert not {"000001", "000002", "000003"} & rows
    assert (
        training_client.list_checkpoints() == []
        or "000003" not in training_client.list_checkpoints()
    )


def test_86_datum_conversion(training_client: FiretitanTrainingClient) -> None:
    datum = batch()[0]
    assert datum.loss_fn_inputs["weights"].data[0] == 1.0
    assert datum.loss_fn_inputs["target_tokens"].dtype == "int64"
    result = training_client.forward_backward([datum], "cross_entropy").result(timeout=TIMEOUT)
    assert len(result.loss_fn_outputs[0]["logprobs"].data) == len(
        datum.loss_fn_inputs["weights"].data
    )
