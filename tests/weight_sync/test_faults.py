"""Every fault of a weight sync, handled: nothing wrong is loaded, nothing wrong reported.

Deltas that cannot apply are refused before anything is sent (or replaced by a base of the
same weights); a restart, a re-attach or a load that finished after its wait is noticed at
the next sync; a lagging replica means no success; a lost or refused signal is resent and
harmless; two syncs never race.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fireworks_training import FiretitanServiceClient
from fireworks_training.clients._sync import weight_sync
from fireworks_training.emulator import Emulator
from fireworks_training.errors import (
    HotLoadError,
    HotLoadTimeoutError,
    SnapshotChainError,
    StaleSnapshotError,
)

from .conftest import BASE_MODEL, Rig, attached, greedy, model_input


def load_base_then_delta(rig: Rig) -> tuple[str, str]:
    base = rig.trainer.save_weights_for_sampler("step-0").result().path
    rig.service.hotload_sampler_snapshot(base)
    rig.train(1)
    delta = rig.trainer.save_weights_for_sampler("step-1").result().path
    rig.service.hotload_sampler_snapshot(delta)
    assert [kind for _, kind, _ in rig.ledger()] == ["full", "delta"]
    return base, delta


def test_a_delta_whose_previous_snapshot_is_not_served_is_refused(emu: Emulator) -> None:
    with attached(emu) as rig:
        _, delta = load_base_then_delta(rig)
        rig.train(1, start=1)
        explicit = rig.trainer.save_weights_for_sampler("step-2", checkpoint_type="delta")
        next_delta = explicit.result().path
        # Another process loads its own snapshot, behind this one's back.
        other = rig.service.create_training_client(BASE_MODEL)
        foreign = other.save_weights_for_sampler_ext("theirs", checkpoint_type="base").snapshot_name
        rig.manager.hotload_and_wait(rig.deployment_id, BASE_MODEL, foreign)
        served = rig.served_bits().copy()
        sent = len(rig.signals())
        with pytest.raises(SnapshotChainError) as caught:
            rig.service.hotload_sampler_snapshot(next_delta)
        assert caught.value.category == "chain"
        assert caught.value.identity == next_delta
        assert f"every replica serves {foreign!r}" in str(caught.value)
        assert len(rig.signals()) == sent  # nothing was sent
        assert (rig.served_bits() == served).all()
        assert rig.current() == [foreign]
        assert delta not in rig.current()


def test_a_delta_computed_against_a_base_never_loaded_is_refused(emu: Emulator) -> None:
    with attached(emu) as rig:
        base, _ = load_base_then_delta(rig)
        # A promotable save (as the workflow makes) re-roots the trainer's next deltas.
        unloaded = rig.trainer.save_weights_for_sampler("final", checkpoint_type="base").result()
        rig.train(1, start=1)
        delta = rig.trainer.save_weights_for_sampler("step-2", checkpoint_type="delta").result()
        with pytest.raises(SnapshotChainError, match=f"applies on base {unloaded.path!r}"):
            rig.service.hotload_sampler_snapshot(delta.path)
        # Left to choose, the client saves a base here, which loads in full.
        auto = rig.trainer.save_weights_for_sampler("step-2b").result()
        rig.service.hotload_sampler_snapshot(auto.path)
        assert rig.ledger()[-1] == (auto.path, "full", "loaded")
        assert (rig.served_bits() == rig.expected_bits(auto.path)).all()
        assert base != auto.path


def test_a_delta_this_process_did_not_save_is_never_sent(emu: Emulator) -> None:
    with attached(emu) as rig:
        load_base_then_delta(rig)
        rig.train(1, start=1)
        delta = rig.trainer.save_weights_for_sampler("step-2").result().path
        job, deployment = rig.job, rig.deployment_id
    # A new process: it knows the delta only by its row (an ARC_V2 delta), not its base.
    with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
        service.attach_deployment(deployment, base_url=emu.base_url)
        sent = len([e for e in emu.request_log if e.method == "POST" and "hot_load" in e.path])
        row = f"accounts/{emu.account_id}/rlorTrainerJobs/{job}/checkpoints/{delta}"
        with pytest.raises(SnapshotChainError, match="its base is unknown"):
            service.hotload_sampler_snapshot(row)
        after = len([e for e in emu.request_log if e.method == "POST" and "hot_load" in e.path])
        assert after == sent


def test_a_restart_restarts_the_chain_with_a_base(emu: Emulator) -> None:
    with attached(emu) as rig:
        load_base_then_delta(rig)
        rig.emu.restart_deployment(rig.deployment_id, seconds=0.5)
        rig.train(1, start=1)
        # The next save is checked against every replica: nothing is served, so a base.
        saved = rig.trainer.save_weights_for_sampler("step-2").result()
        rig.service.hotload_sampler_snapshot(saved.path)  # waits for the replicas to return
        assert rig.ledger()[-1] == (saved.path, "full", "loaded")
        assert (rig.served_bits() == rig.expected_bits(saved.path)).all()


def test_a_delta_saved_before_a_restart_is_refused_after_it(emu: Emulator) -> None:
    with attached(emu) as rig:
        load_base_then_delta(rig)
        rig.train(1, start=1)
        delta = rig.trainer.save_weights_for_sampler("step-2").result().path
        rig.emu.restart_deployment(rig.deployment_id)
        with pytest.raises(SnapshotChainError, match="no base loaded by this process"):
            rig.service.hotload_sampler_snapshot(delta)
        assert rig.current() == [None]


def test_a_held_load_times_out_and_its_later_completion_is_taken_in(emu: Emulator) -> None:
    with attached(emu, hotload_timeout_s=0.5) as rig:
        emu.hold_hotloads()
        base = rig.trainer.save_weights_for_sampler("step-0").result().path
        with pytest.raises(HotLoadTimeoutError) as caught:
            rig.service.hotload_sampler_snapshot(base)
        assert caught.value.category == "timeout"
        assert "replica 0 serves the base weights (stage downloading" in str(caught.value)
        emu.release_hotloads()
        assert rig.current() == [base]  # the server finished after the client gave up
        rig.train(1)
        # The next sync reads the status again: the base is served, the chain goes on.
        delta = rig.trainer.save_weights_for_sampler("step-1").result().path
        rig.service.hotload_sampler_snapshot(delta)
        assert rig.ledger()[-1] == (delta, "delta", "loaded")
        assert (
            rig.signals()[-1]["incremental_snapshot_metadata"]["previous_snapshot_identity"] == base
        )


def test_a_lagging_replica_means_no_success(emu: Emulator) -> None:
    with attached(emu, replicas=2, hotload_timeout_s=0.5) as rig:
        base = rig.trainer.save_weights_for_sampler("step-0").result().path
        pinned = rig.service.create_sampling_client(model_path=base)
        emu.lag_replica(rig.deployment_id, 1)
        rig.train(1)
        delta = rig.trainer.save_weights_for_sampler("step-1").result().path
        with pytest.raises(HotLoadTimeoutError, match=f"replica 1 serves {base}"):
            rig.service.hotload_sampler_snapshot(delta)
        assert rig.current() == [delta, base]
        # The replicas disagree: the pinned client refuses rather than mix two snapshots.
        with pytest.raises(StaleSnapshotError):
            pinned.sample(model_input(), 1, greedy()).result()
        pinned.close()
        emu.lag_replica(rig.deployment_id, 1, lagging=False)
        rig.train(1, start=1)
        saved = rig.trainer.save_weights_for_sampler("step-2").result()  # a base: unverified
        rig.service.hotload_sampler_snapshot(saved.path)
        assert rig.ledger()[-1] == (saved.path, "full", "loaded")
        assert rig.current() == [saved.path, saved.path]


def test_a_refused_and_a_dropped_signal_are_resent_and_harmless(emu: Emulator) -> None:
    with attached(emu) as rig:
        base = rig.trainer.save_weights_for_sampler("step-0").result().path
        # The status read passes; the signal gets a 503, then is acted on with its answer lost.
        emu.faults.add("hot_load", script=[None, 503, "drop_response"], retry_after=0.1)
        rig.service.hotload_sampler_snapshot(base)
        stats = emu.faults.stats()
        assert (stats["503"], stats["drop_response"]) == (1, 1)
        assert [s["identity"] for s in rig.signals()] == [base, base, base]
        assert [result for _, _, result in rig.ledger()] == ["loaded", "unchanged"]
        assert rig.current() == [base]


def test_a_failed_load_says_why_and_a_retry_loads(emu: Emulator) -> None:
    with attached(emu) as rig:
        base = rig.trainer.save_weights_for_sampler("step-0").result().path
        emu.fail_next_hotload(base, message="disk full")
        with pytest.raises(HotLoadError) as caught:
            rig.service.hotload_sampler_snapshot(base)
        error = caught.value
        assert (error.category, error.identity, error.server_message) == ("load", base, "disk full")
        rig.service.hotload_sampler_snapshot(base)  # a new signal clears the old error
        assert rig.current() == [base]


def test_an_older_gateway_gets_signals_without_the_cache_flag(emu: Emulator) -> None:
    with attached(emu) as rig:
        emu.set_legacy_reset_prompt_cache(True)
        load_base_then_delta(rig)
        sent = rig.signals()
        assert [("reset_prompt_cache" in s) for s in sent] == [True, False, False]


def test_a_reattach_to_another_trainer_starts_with_a_full_load(emu: Emulator) -> None:
    with attached(emu) as rig:
        _, delta = load_base_then_delta(rig)
        other_job = emu.create_trainer_job()
        rig.manager.reattach_trainer(
            rig.deployment_id, base_model=BASE_MODEL, trainer_job_name=other_job, timeout_s=30
        )
        assert rig.current() == [None]  # the pods rolled
        with FiretitanServiceClient(emu.trainer_url(other_job), api_key=emu.api_key) as service:
            service.attach_deployment(rig.deployment_id, deployment_manager=rig.manager)
            trainer = service.create_training_client(BASE_MODEL)
            saved = trainer.save_weights_for_sampler("step-0").result()
            service.hotload_sampler_snapshot(saved.path)
            assert rig.ledger()[-1] == (saved.path, "full", "loaded")
        # The first job's next delta has no place on the re-attached deployment.
        rig.train(1, start=1)
        stale = rig.trainer.save_weights_for_sampler("step-2", checkpoint_type="delta").result()
        with pytest.raises(SnapshotChainError, match="the chain root is"):
            rig.service.hotload_sampler_snapshot(stale.path)
        assert delta not in rig.current()


def until(predicate: Any, timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class RecordingLock:
    """A lock that says when someone waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting = threading.Semaphore(0)

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.waiting.release()
            self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


def test_two_syncs_of_one_deployment_never_race(emu: Emulator) -> None:
    with attached(emu) as rig:
        base = rig.trainer.save_weights_for_sampler("step-0", checkpoint_type="base").result()
        rig.train(1)
        delta = rig.trainer.save_weights_for_sampler("step-1", checkpoint_type="delta").result()
        rig.service.requires_initial_sampler_sync()  # resolves the chain
        key = f"{emu.base_url}|accounts/{emu.account_id}/deployments/{rig.deployment_id}"
        lock = RecordingLock()
        weight_sync._CHAINS[key].lock = lock  # type: ignore[assignment]
        emu.hold_hotloads()
        errors: list[BaseException] = []

        def sync(path: str) -> None:
            try:
                rig.service.hotload_sampler_snapshot(path)
            except BaseException as exc:  # reported below
                errors.append(exc)

        first = threading.Thread(target=sync, args=(base.path,))
        first.start()
        assert until(lambda: len(rig.ledger()) == 1)  # the first sync holds the lock, loading
        second = threading.Thread(target=sync, args=(delta.path,))
        second.start()
        assert lock.waiting.acquire(timeout=30)  # the second sync waits for the first
        assert [identity for identity, _, _ in rig.ledger()] == [base.path]
        emu.release_hotloads()
        first.join(30)
        second.join(30)
        assert errors == []
        assert rig.ledger() == [(base.path, "full", "loaded"), (delta.path, "delta", "loaded")]
