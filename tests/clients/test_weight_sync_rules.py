"""Weight sync without I/O: signals, replica status, the chain's decisions, snapshot records."""

from __future__ import annotations

from typing import Any

import pytest

from fireworks_training.checkpoints.kinds import SamplerCheckpointType as T
from fireworks_training.checkpoints.names import TrainerJobName
from fireworks_training.clients._weight_sync_rules import (
    ChainState,
    Deadline,
    PlanKind,
    Progress,
    ReplicaStatus,
    Snapshot,
    SnapshotLog,
    incremental_metadata,
    load_progress,
    next_sampler_type,
    parse_status,
    plan_load,
    reset_prompt_cache_refused,
    served_by_all,
    signal_body,
    snapshot_from_row,
    snapshot_identity,
)
from fireworks_training.errors import (
    BadRequestError,
    InvalidArgumentError,
    SnapshotChainError,
    WeightSyncError,
)

BASE = Snapshot("b0-s", T.BASE)
DELTA = Snapshot("d1-s", T.DELTA, reference="b0-s")


def replica(current: str | None, *, ready: bool = True, stage: str = "done", **extra: Any) -> Any:
    loading = {"stage": stage, **extra}
    return {"current_snapshot_identity": current, "readiness": ready, "loading_state": loading}


# Signals ----------------------------------------------------------------------------------


def test_a_delta_signal_carries_the_wire_spelling_of_its_metadata() -> None:
    body = signal_body("d1", reset_prompt_cache=True, metadata=incremental_metadata("b0"))
    assert body == {
        "identity": "d1",
        "reset_prompt_cache": True,
        "incremental_snapshot_metadata": {
            "previous_snapshot_identity": "b0",
            "compression_format": "arc_v2",
            "checksum_format": "alder32",
        },
    }
    assert signal_body("b0", reset_prompt_cache=None, metadata=None) == {"identity": "b0"}


@pytest.mark.parametrize(
    ("status", "message", "refused"),
    [
        (400, "Extra inputs are not permitted, field: 'reset_prompt_cache'", True),
        (400, "EXTRA INPUTS ARE NOT PERMITTED: reset_prompt_cache", True),
        (400, "Extra inputs are not permitted, field: 'other'", False),
        (400, "reset_prompt_cache must be a boolean", False),
        (422, "Extra inputs are not permitted, field: 'reset_prompt_cache'", False),
    ],
)
def test_only_the_old_gateways_400_turns_the_cache_flag_off(
    status: int, message: str, refused: bool
) -> None:
    exc = BadRequestError(f"{status} POST /hot_load: {message}", status_code=status)
    exc.status_code = status
    assert reset_prompt_cache_refused(exc) is refused


# Status -----------------------------------------------------------------------------------


def test_status_reads_every_replica() -> None:
    body = {
        "replicas": [
            replica("a"),
            {
                "current_snapshot_identity": None,
                "readiness": False,
                "loading_state": {"stage": "error", "target_snapshot_identity": "b"},
                "loaded_adapters": [{"identity": "x", "status": "loaded"}, {"identity": "y"}],
            },
        ]
    }
    first, second = parse_status(body)
    assert (first.current, first.ready, first.stage) == ("a", True, "done")
    assert (second.current, second.ready, second.target, second.adapters) == (
        None,
        False,
        "b",
        ("x",),
    )


@pytest.mark.parametrize("body", [{}, {"replicas": None}, {"replicas": [1]}])
def test_a_status_off_the_protocol_is_a_protocol_error(body: dict[str, Any]) -> None:
    with pytest.raises(WeightSyncError) as caught:
        parse_status(body)
    assert caught.value.category == "protocol"


@pytest.mark.parametrize(
    ("replicas", "served"),
    [
        ([], None),
        ([replica("a")], "a"),
        ([replica("a"), replica("a")], "a"),
        ([replica("a"), replica("b")], None),  # a lagging replica: no common snapshot
        ([replica("a"), replica("a", ready=False)], None),
        ([replica(None), replica(None)], None),
    ],
)
def test_served_by_all_needs_every_replica(replicas: list[Any], served: str | None) -> None:
    assert served_by_all(parse_status({"replicas": replicas})) == served


def test_a_load_is_done_only_on_every_replica_and_failed_only_for_its_own_target() -> None:
    def progress(*replicas: Any) -> Progress:
        return load_progress(parse_status({"replicas": list(replicas)}), "new").progress

    assert progress() is Progress.PENDING
    assert progress(replica("new"), replica("new")) is Progress.DONE
    assert progress(replica("new"), replica("old", stage="downloading")) is Progress.PENDING
    stale = replica("old", stage="error", target_snapshot_identity="other")
    assert progress(replica("new"), stale) is Progress.PENDING
    failed = replica("old", stage="error", target_snapshot_identity="new", error_message="bad")
    state = load_progress(parse_status({"replicas": [replica("new"), failed]}), "new")
    assert (state.progress, state.detail, state.server_message) == (
        Progress.FAILED,
        "replica 1: bad",
        "bad",
    )
    lagging = load_progress(parse_status({"replicas": [replica("new"), replica("old")]}), "new")
    assert lagging.detail == "replica 1 serves old (stage done)"


def test_an_adapter_counts_as_served() -> None:
    status = ReplicaStatus(0, "other", True, "done", adapters=("lora",))
    assert status.serves("lora")
    assert not ReplicaStatus(0, "lora", False, "done").serves("lora")


# The chain --------------------------------------------------------------------------------


def chain(loaded: str | None = "b0-s", root: str | None = "b0-s") -> ChainState:
    return ChainState(loaded=loaded, root=root)


@pytest.mark.parametrize(
    ("snapshot", "state", "served", "kind"),
    [
        (BASE, chain(None, None), None, PlanKind.FULL),
        (BASE, chain(), "b0-s", PlanKind.ALREADY),
        (DELTA, chain(), "b0-s", PlanKind.INCREMENTAL),
        (DELTA, chain("d0-s"), "d0-s", PlanKind.INCREMENTAL),  # the chain advances
        (DELTA, chain(), None, PlanKind.REFUSE),  # restarted: nothing served
        (DELTA, chain(), "other", PlanKind.REFUSE),  # someone else loaded
        (DELTA, chain("b0-s", "b9-s"), "b0-s", PlanKind.REFUSE),  # a base never loaded
        (DELTA, chain(None, None), None, PlanKind.REFUSE),
        (Snapshot("d", T.DELTA), chain(), "b0-s", PlanKind.REFUSE),  # base unknown
        (Snapshot("lora", T.BASE, lora_rank=8), chain(), "b0-s", PlanKind.FULL),
        (Snapshot("lora", T.DELTA, lora_rank=8), chain(), "b0-s", PlanKind.FULL),
        (Snapshot("merged", T.MERGED_BASE, lora_rank=8), chain(), None, PlanKind.FULL),
    ],
)
def test_plan(snapshot: Snapshot, state: ChainState, served: str | None, kind: PlanKind) -> None:
    plan = plan_load(snapshot, state, served)
    assert plan.kind is kind
    if kind is PlanKind.INCREMENTAL:
        assert plan.previous == served
    if kind is PlanKind.REFUSE:
        assert snapshot.identity in plan.reason
        assert plan.reason.endswith("save and load a base")


def test_the_chain_follows_loads_and_forgets_what_it_cannot_verify() -> None:
    state = ChainState()
    state.confirm(BASE)
    assert (state.loaded, state.root) == ("b0-s", "b0-s")
    state.confirm(DELTA)
    assert (state.loaded, state.root) == ("d1-s", "b0-s")
    generation = state.generation
    state.observe("d1-s")
    assert state.generation == generation  # nothing new
    state.observe(None)  # a restart
    assert (state.loaded, state.root) == (None, None)
    assert state.generation == generation + 1
    state.confirm(Snapshot("lora", T.BASE, lora_rank=4))
    assert (state.loaded, state.root) == ("lora", None)


def test_a_load_that_finished_after_its_wait_is_adopted() -> None:
    state = chain()
    state.attempted = DELTA
    state.observe("d1-s")
    assert (state.loaded, state.root, state.attempted) == ("d1-s", "b0-s", None)
    state.attempted = Snapshot("b2-s", T.BASE)
    state.observe("b2-s")
    assert (state.loaded, state.root) == ("b2-s", "b2-s")


def test_a_foreign_snapshot_is_known_as_served_but_roots_nothing() -> None:
    state = chain()
    state.observe("someone-else")
    assert (state.loaded, state.root) == ("someone-else", None)
    state.reset()
    assert (state.loaded, state.root, state.attempted) == (None, None, None)


def test_the_log_keeps_each_deltas_base() -> None:
    log = SnapshotLog(0)
    assert log.latest_base is None
    for name, kind in [("b0", T.BASE), ("d1", T.DELTA), ("b2", T.BASE), ("d3", T.DELTA)]:
        log.plan(name, kind)
        log.saved(name, f"path/{name}")
    assert log.find("d1") == Snapshot("d1", T.DELTA, 0, reference="b0", path="path/d1")
    assert log.find("path/d3") == Snapshot("d3", T.DELTA, 0, reference="b2", path="path/d3")
    assert log.latest_base == "b2"
    assert log.find("nope") is None


def test_a_deltas_base_is_the_base_sent_before_it_whatever_order_the_answers_take() -> None:
    # The trainer runs saves in the order they are sent: b1 then d2 XORs against b1, even
    # when d2's answer comes first, and even when b1's answer never comes.
    log = SnapshotLog(0)
    log.plan("b0", T.BASE)
    log.saved("b0", None)
    log.plan("b1", T.BASE)
    assert log.latest_base == "b1"  # sent: the next delta XORs against it
    log.plan("d2", T.DELTA)
    assert log.saved("d2", None).reference == "b1"
    log.saved("b1", None)  # late
    assert log.latest_base == "b1"
    log.plan("b3", T.BASE)  # its answer is lost
    log.plan("d4", T.DELTA)
    assert log.saved("d4", None).reference == "b3"


def test_after_a_lost_base_answer_the_next_save_is_a_base() -> None:
    # b0 is the deployment's chain root; b1's answer was lost after it was sent. A delta
    # typed now would be XORed against b1 by the trainer, and loaded on b0: a base it is.
    log = SnapshotLog(0)
    log.plan("b0-s", T.BASE)
    log.saved("b0-s", None)
    assert next_sampler_type(None, lora_rank=0, log=log, chain=chain()) is T.DELTA
    log.plan("b1-s", T.BASE)
    assert next_sampler_type(None, lora_rank=0, log=log, chain=chain()) is T.BASE


def test_a_failed_incremental_load_breaks_the_chain() -> None:
    log = SnapshotLog(0)
    log.plan("b0-s", T.BASE)
    log.saved("b0-s", None)
    state = chain()
    state.chain_broken()  # a refused delta: every later one would be refused the same way
    assert (state.loaded, state.root) == ("b0-s", None)
    assert next_sampler_type(None, lora_rank=0, log=log, chain=state) is T.BASE


def test_lora_saves_are_never_a_chain() -> None:
    log = SnapshotLog(8)
    log.plan("a", T.DELTA)
    adapter = log.saved("a", None)
    assert (adapter.is_adapter, adapter.is_delta, adapter.reference) == (True, False, None)
    assert log.latest_base is None
    log.plan("m", T.MERGED_BASE)
    merged = log.saved("m", None)
    assert (merged.is_adapter, merged.is_delta) == (False, False)


@pytest.mark.parametrize(
    ("explicit", "lora", "latest", "state", "expected"),
    [
        ("delta", 0, None, chain(), T.DELTA),  # explicit wins
        (None, 8, "b0-s", chain(), T.BASE),
        (None, 0, None, chain(), T.BASE),  # first save
        (None, 0, "b0-s", chain(), T.DELTA),
        (None, 0, "b0-s", chain(None, None), T.BASE),  # nothing verified served
        (None, 0, "b1-s", chain(), T.BASE),  # the latest base was never loaded
    ],
)
def test_next_type(
    explicit: str | None, lora: int, latest: str | None, state: ChainState, expected: T
) -> None:
    log = SnapshotLog(lora)
    if latest is not None:
        log.plan(latest, T.BASE)
        log.saved(latest, None)
    assert next_sampler_type(explicit, lora_rank=lora, log=log, chain=state) is expected


def test_identities_from_what_callers_pass() -> None:
    job = TrainerJobName("acme", "job-1")
    row = "accounts/acme/rlorTrainerJobs/job-1/checkpoints/step-3-a1b2c3d4"
    assert snapshot_identity(row, job) == "step-3-a1b2c3d4"
    assert snapshot_identity(" step-3-a1b2c3d4 ") == "step-3-a1b2c3d4"
    serverless = f"acme/run-{'0' * 32}/step-3"
    assert snapshot_identity(serverless) == serverless
    with pytest.raises(InvalidArgumentError, match="belongs to trainer job"):
        snapshot_identity(row, TrainerJobName("acme", "job-2"))
    for bad in ["", "  ", "a b", "../x", "cross_job://job-1/step-3", "gs://b/x"]:
        with pytest.raises(InvalidArgumentError):
            snapshot_identity(bad)


def test_snapshots_of_other_processes_are_typed_from_their_rows() -> None:
    assert snapshot_from_row("b", "CHECKPOINT_TYPE_INFERENCE_BASE").checkpoint_type is T.BASE
    assert snapshot_from_row("l", "CHECKPOINT_TYPE_INFERENCE_LORA").is_adapter
    delta = snapshot_from_row("d", "CHECKPOINT_TYPE_INFERENCE_ARC_V2")
    assert (delta.is_delta, delta.reference) == (True, None)
    with pytest.raises(SnapshotChainError, match="TRAINING"):
        snapshot_from_row("s", "CHECKPOINT_TYPE_TRAINING")


def test_one_deadline_polls_soon_then_a_tenth_of_the_wait() -> None:
    now = [100.0]
    deadline = Deadline(10.0, lambda: now[0])
    assert deadline.poll_delay(5.0) == Deadline.FIRST_POLL_S
    now[0] += 4.0
    assert deadline.poll_delay(5.0) == pytest.approx(0.4)
    assert deadline.poll_delay(0.1) == 0.1
    now[0] += 5.95
    assert deadline.poll_delay(5.0) == pytest.approx(0.05)  # never past the deadline
    assert deadline.timeout(60.0) == pytest.approx(0.05)
    now[0] += 1.0
    assert deadline.expired()
    assert deadline.timeout(60.0) == 0.001
