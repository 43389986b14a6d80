"""WeightSyncer with the official names and call forms, over the verified chain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fireworks_training import (
    DeploymentManager,
    FiretitanServiceClient,
    FiretitanTrainingClient,
    TrainingCheckpoints,
    WeightSyncer,
)
from fireworks_training.checkpoints.weight_sync import PeriodicWeightSync
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.emulator import Emulator
from fireworks_training.errors import InvalidArgumentError, SnapshotChainError

from .conftest import BASE_MODEL, greedy, model_input


@contextmanager
def syncer_on(
    emu: Emulator, *, lora_rank: int = 0, **options: object
) -> Iterator[tuple[WeightSyncer, FiretitanTrainingClient, str]]:
    job = emu.create_trainer_job(lora_rank=lora_rank)
    emu.create_deployment("dep", hot_load_trainer_job=job)
    with (
        DeploymentManager(api_key=emu.api_key, base_url=emu.base_url) as manager,
        FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service,
    ):
        policy = service.create_training_client(BASE_MODEL, lora_rank=lora_rank)
        syncer = WeightSyncer(
            policy_client=policy,
            deploy_mgr=manager,
            deployment_id="dep",
            base_model=BASE_MODEL,
            hotload_timeout=60,
            first_checkpoint_type="base",
            lora_rank=lora_rank,
            **options,  # type: ignore[arg-type]
        )
        yield syncer, policy, job


def train(policy: FiretitanTrainingClient, step: int) -> None:
    from fireworks_training.demo import ADAM, make_batch

    policy.forward_backward(make_batch(step), "cross_entropy").result()
    policy.optim_step(ADAM).result()


def kinds(emu: Emulator) -> list[str]:
    return [e["type"] for e in emu.deployment_ledger("dep")]


def test_the_official_loop_base_then_deltas(emu: Emulator) -> None:
    with syncer_on(emu) as (syncer, policy, _):
        syncer.wait_for_hotload_ready(timeout_s=30)
        assert syncer.check_deployment_state() is None
        first = syncer.save_and_hotload("step-0", checkpoint_type="base")
        assert first == f"step-0-{policy.session_id}"
        assert (syncer.base_saved, syncer.base_identity) == (True, first)
        assert set(syncer.last_timing) == {
            "save_time_s",
            "hotload_time_s",
            "warmup_time_s",
            "total_time_s",
        }
        for step in (1, 2):
            train(policy, step)
            syncer.save_and_hotload(f"step-{step}")
        assert kinds(emu) == ["full", "delta", "delta"]
        assert syncer.check_deployment_state() == f"step-2-{policy.session_id}"
        with syncer.get_sampling_client() as sampler:
            assert sampler.snapshot_identity == syncer.base_identity
            assert sampler.sample(model_input(), 1, greedy()).result().sequences


def test_after_a_restart_the_next_save_is_a_base(emu: Emulator) -> None:
    with syncer_on(emu) as (syncer, policy, _):
        syncer.save_and_hotload("step-0")
        emu.restart_deployment("dep")
        train(policy, 1)
        served = syncer.save_and_hotload("step-1")
        assert served == f"step-1-{policy.session_id}"
        assert kinds(emu) == ["full", "full"]


def test_an_explicit_delta_that_cannot_apply_is_replaced_by_a_base(emu: Emulator) -> None:
    with syncer_on(emu) as (syncer, policy, _):
        syncer.save_and_hotload("step-0")
        emu.restart_deployment("dep")
        train(policy, 1)
        served = syncer.save_and_hotload("step-1", checkpoint_type="delta")
        assert served == f"step-1-base-{policy.session_id}"  # same weights, saved whole
        assert [e["identity"] for e in emu.deployment_ledger("dep")][-1] == served
        assert kinds(emu) == ["full", "full"]


def test_save_only_then_hotload_and_a_delta_that_cannot_apply(emu: Emulator) -> None:
    with syncer_on(emu, warmup_after_hotload=False) as (syncer, policy, _):
        base = syncer.save_only("step-0")
        assert base is not None
        assert emu.deployment_ledger("dep") == []
        assert syncer.hotload(base, "base") is True
        train(policy, 1)
        delta = syncer.save_only("step-1")
        assert delta is not None
        emu.restart_deployment("dep")
        with pytest.raises(SnapshotChainError):
            syncer.hotload(delta, "delta")
        with pytest.raises(SnapshotChainError, match="its base is unknown"):
            syncer.hotload("not-saved-here", "delta")
        assert kinds(emu) == ["full"]


def test_reset_delta_chain_starts_over_with_a_base(emu: Emulator) -> None:
    with syncer_on(emu) as (syncer, policy, _):
        syncer.save_and_hotload("step-0")
        syncer.reset_delta_chain()
        assert (syncer.base_saved, syncer.base_identity) == (False, None)
        train(policy, 1)
        syncer.save_and_hotload("step-1")
        assert kinds(emu) == ["full", "full"]


def test_lora_saves_and_loads_the_adapter_whole_every_time(emu: Emulator) -> None:
    with syncer_on(emu, lora_rank=4) as (syncer, policy, _):
        for step in range(3):
            train(policy, step)
            syncer.save_and_hotload(f"step-{step}")
        assert kinds(emu) == ["full", "full", "full"]
        assert all(
            "incremental_snapshot_metadata" not in e.body
            for e in emu.request_log
            if e.method == "POST" and e.route.endswith("hot_load")
        )


def test_without_a_deployment_it_only_saves(emu: Emulator) -> None:
    job = emu.create_trainer_job()
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        policy = service.create_training_client(BASE_MODEL)
        syncer = WeightSyncer(policy_client=policy)
        assert syncer.save_and_hotload("step-0") == f"step-0-{policy.session_id}"
        assert syncer.hotload("step-0", "base") is False
        assert syncer.check_deployment_state() is None
    with pytest.raises(InvalidArgumentError):
        WeightSyncer(policy_client=None, first_checkpoint_type="full")


def test_periodic_sync_saves_a_promotable_base_first_and_promote_latest_finds_it(
    emu: Emulator, tmp_path: object
) -> None:
    with (
        syncer_on(emu) as (syncer, policy, job),
        FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control,
    ):
        schedule = PeriodicWeightSync(syncer, every=2)
        for step in range(1, 6):
            train(policy, step)
            schedule.maybe_sync(step)
        assert [(r.step, r.requested) for r in schedule.history] == [(2, "base"), (4, None)]
        assert kinds(emu) == ["full", "delta"]
        checkpoints = TrainingCheckpoints(
            policy, control, trainer_job_id=job, log_path=str(tmp_path), base_model=BASE_MODEL
        )
        model = checkpoints.promote_latest("synced-model")
        assert model["sourceCheckpoint"].endswith(f"/checkpoints/step-2-{policy.session_id}")


def test_the_schedule_checks_its_arguments() -> None:
    class Never:
        def save_and_hotload(self, name: str, checkpoint_type: str | None = None) -> str | None:
            raise AssertionError("not called")

    for bad in ({"every": -1}, {"every": 1, "name_format": "bad name {step}"}):
        with pytest.raises(InvalidArgumentError):
            PeriodicWeightSync(Never(), **bad)  # type: ignore[arg-type]
    assert PeriodicWeightSync(Never(), every=0).maybe_sync(5) is None
