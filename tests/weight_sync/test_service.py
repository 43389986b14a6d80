"""The service client and its deployment: attaching, hot-loading by path, pinned samplers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from fireworks_training import DeploymentManager, FiretitanSamplingClient, FiretitanServiceClient
from fireworks_training.emulator import Emulator
from fireworks_training.errors import (
    DeploymentError,
    SamplingClientClosedError,
    StaleSnapshotError,
    WeightSyncError,
)

from .conftest import BASE_MODEL, attached, greedy, model_input


def test_a_service_without_a_deployment_says_so(emu: Emulator) -> None:
    job = emu.create_trainer_job()
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        trainer = service.create_training_client(BASE_MODEL)
        assert service.deployment_id is None
        saved = trainer.save_weights_for_sampler("step-0").result()
        for call in (
            lambda: service.hotload_sampler_snapshot(saved.path),
            lambda: service.create_sampling_client(model_path=saved.path),
            lambda: trainer.create_sampling_client(saved.path),
        ):
            with pytest.raises(WeightSyncError) as caught:
                call()
            assert caught.value.category == "no_deployment"
        # Without a deployment the sampler type follows the plain rule: base, then delta.
        assert trainer._sampler_snapshot_log().find(saved.path) is not None
        second = trainer.save_weights_for_sampler("step-1").result()
        assert trainer._sampler_snapshot_log().find(second.path).is_delta  # type: ignore[union-attr]


def test_attaching_checks_the_deployment(emu: Emulator) -> None:
    job = emu.create_trainer_job()
    emu.create_deployment("cold", hot_load_trainer_job=job, enable_hot_load=False)
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        with pytest.raises(DeploymentError, match="hot load turned off"):
            service.attach_deployment("cold", base_url=emu.base_url)
        with pytest.raises(DeploymentError, match="not found"):
            service.attach_deployment("missing", base_url=emu.base_url)
        assert service.deployment_id is None


def test_a_snapshot_is_hot_loaded_by_its_path_name_or_row_name(emu: Emulator) -> None:
    with attached(emu) as rig:
        assert rig.service.deployment_id == "dep"
        assert rig.service.requires_initial_sampler_sync()
        saved = rig.trainer.save_weights_for_sampler_ext("step-0")
        row = (
            f"accounts/{emu.account_id}/rlorTrainerJobs/{rig.job}/checkpoints/{saved.snapshot_name}"
        )
        rig.service.hotload_sampler_snapshot(row)
        assert rig.current() == [saved.snapshot_name]
        assert not rig.service.requires_initial_sampler_sync()
        rig.service.hotload_sampler_snapshot(saved.path)  # already served: nothing sent
        assert len(rig.signals()) == 1


def test_a_base_saved_by_another_process_is_typed_from_its_row(emu: Emulator) -> None:
    job = emu.create_trainer_job()
    emu.create_deployment("dep", hot_load_trainer_job=job)
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as first:
        saved = first.create_training_client(BASE_MODEL).save_weights_for_sampler("step-0")
        identity = saved.result().path
    with (
        DeploymentManager(emu.api_key, emu.base_url) as manager,
        FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as second,
    ):
        second.attach_deployment("dep", deployment_manager=manager)
        with second.create_sampling_client(model_path=identity) as sampler:
            assert sampler.snapshot_identity == identity
            assert sampler.check_snapshot() == identity
        ledger = emu.deployment_ledger("dep")
        assert [(e["identity"], e["type"]) for e in ledger] == [(identity, "full")]


def test_a_pinned_sampler_refuses_once_its_snapshot_is_replaced(emu: Emulator) -> None:
    with attached(emu) as rig:
        first = rig.trainer.save_weights_for_sampler("step-0").result()
        old = rig.service.create_sampling_client(model_path=first.path)
        unpinned = rig.service.create_sampling_client()
        assert unpinned.snapshot_identity is None
        assert old.sample(model_input(), 1, greedy()).result().sequences
        rig.train(1)
        second = rig.trainer.save_weights_for_sampler("step-1").result()
        new = rig.trainer.create_sampling_client(second.path)
        with pytest.raises(StaleSnapshotError) as caught:
            old.sample(model_input(), 1, greedy()).result()
        assert (caught.value.identity, caught.value.category) == (first.path, "stale")
        with pytest.raises(StaleSnapshotError, match=repr(second.path)):
            old.compute_logprobs(model_input()).result()
        with pytest.raises(StaleSnapshotError):
            old.check_snapshot()
        assert new.check_snapshot() == second.path
        assert unpinned.sample(model_input(), 1, greedy()).result().sequences  # whatever is served
        assert new.get_base_model() == BASE_MODEL
        for client in (old, new, unpinned):
            client.close()


def test_a_pinned_sampler_refuses_while_this_process_loads_another_snapshot(
    emu: Emulator,
) -> None:
    # Replicas may serve a load before this process's wait reads their status: from the
    # signal on, the pinned client refuses instead of sampling the new weights under its pin.
    with attached(emu) as rig:
        first = rig.trainer.save_weights_for_sampler("step-0").result()
        pinned = rig.service.create_sampling_client(model_path=first.path)
        rig.train(1)
        second = rig.trainer.save_weights_for_sampler("step-1").result()
        emu.hold_hotloads()
        syncing = threading.Thread(target=rig.service.hotload_sampler_snapshot, args=(second.path,))
        syncing.start()
        try:
            assert _within(10.0, lambda: len(rig.ledger()) == 2)  # step-1 is signalled
            slow_status = emu.faults.add("hot_load", hold=True)  # the wait's next read hangs
            emu.release_hotloads()
            assert _within(10.0, lambda: rig.current() == [second.path])  # replicas serve it
            with pytest.raises(StaleSnapshotError, match=rf"is loading {second.path!r}"):
                pinned.sample(model_input(), 1, greedy()).result()
            emu.faults.remove(slow_status)
        finally:
            emu.release_hotloads()
            syncing.join(30)
            pinned.close()
        assert not syncing.is_alive()
        with pytest.raises(StaleSnapshotError, match=rf"serves {second.path!r}"):
            pinned.check_snapshot()


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_pinned_sampler_refuses_after_a_direct_manager_hot_load(emu: Emulator) -> None:
    # A DeploymentManager call outside the chain, in the same process, replaces the pin too.
    with attached(emu) as rig:
        base = rig.trainer.save_weights_for_sampler("step-0").result().path
        pinned = rig.service.create_sampling_client(model_path=base)
        other = rig.service.create_training_client(BASE_MODEL)
        foreign = other.save_weights_for_sampler_ext("theirs", checkpoint_type="base")
        assert rig.manager.hotload_and_wait(rig.deployment_id, BASE_MODEL, foreign.snapshot_name)
        assert rig.current() == [foreign.snapshot_name]
        with pytest.raises(StaleSnapshotError, match=repr(foreign.snapshot_name)):
            pinned.sample(model_input(), 1, greedy()).result()
        # A signal alone leaves what is served unknown: refused until a status read says.
        rig.manager.hotload(rig.deployment_id, BASE_MODEL, base)
        with pytest.raises(StaleSnapshotError, match="no common snapshot"):
            pinned.compute_logprobs(model_input()).result()
        pinned.close()


def test_a_closed_sampler_takes_no_request(emu: Emulator) -> None:
    with attached(emu) as rig:
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        sampler = rig.service.create_sampling_client(model_path=saved.path)
        sampler.close()
        sampler.close()  # again: nothing happens
        with pytest.raises(SamplingClientClosedError):
            sampler.sample(model_input(), 1, greedy())


def test_the_sampler_wraps_a_given_deployment_sampler_unpinned(emu: Emulator) -> None:
    with attached(emu) as rig:
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        token_sampler = rig.service.create_deployment_sampler(model_path=saved.path)
        assert token_sampler.model == f"accounts/{emu.account_id}/deployments/dep"
        wrapped = rig.service.create_sampling_client(deployment_sampler=token_sampler)
        assert isinstance(wrapped, FiretitanSamplingClient)
        assert wrapped.deployment_sampler is token_sampler
        assert wrapped.snapshot_identity is None
        assert wrapped.sample(model_input(), 1, greedy(3)).result().sequences
        wrapped.close()


def test_attaching_again_replaces_the_deployment(emu: Emulator) -> None:
    with attached(emu) as rig:
        emu.create_deployment("dep-2", hot_load_trainer_job=rig.job)
        rig.service.attach_deployment("dep-2", base_url=emu.base_url)
        assert rig.service.deployment_id == "dep-2"
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        rig.service.hotload_sampler_snapshot(saved.path)
        assert emu.deployment("dep-2")["replicas"][0]["current_snapshot_identity"] == saved.path
        assert rig.current() == [None]
