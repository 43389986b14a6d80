"""Checkpoint rows and models: typed access, wire-key access, ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireworks_training._models import parse_rfc3339
from fireworks_training.checkpoints import (
    Checkpoint,
    CheckpointType,
    JobState,
    Model,
    TrainerJob,
    latest_promotable,
    newest_first,
)
from fireworks_training.errors import ProtocolError
from fireworks_training.operations import OperationStatus

PREFIX = "accounts/acme/rlorTrainerJobs/job-abc/checkpoints/"


def row(
    cid: str, created: str, ctype: str = "INFERENCE_BASE", promotable: bool = True
) -> Checkpoint:
    return Checkpoint.model_validate(
        {
            "name": PREFIX + cid,
            "createTime": created,
            "updateTime": created,
            "checkpointType": ctype,
            "promotable": promotable,
        }
    )


def test_row_typed_and_dict_access() -> None:
    wire = {
        "name": PREFIX + "step-50-a1b2c3d4",
        "createTime": "2026-01-01T10:00:00.5Z",
        "checkpointType": "CHECKPOINT_TYPE_INFERENCE_BASE",
        "promotable": True,
        "futureField": {"x": 1},
    }
    r = Checkpoint.model_validate(wire)
    assert r.create_time == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert r.checkpoint_type is CheckpointType.INFERENCE_BASE
    assert (r.job_id, r.checkpoint_id, r.logical_name, r.step) == (
        "job-abc",
        "step-50-a1b2c3d4",
        "step-50",
        50,
    )
    assert r.promotable
    assert not r.resumable
    assert r["name"] == wire["name"]
    assert r["createTime"] == "2026-01-01T10:00:00.5Z"
    assert r.get("promotable") is True
    assert r.get("futureField") == {"x": 1}
    assert r.get("missing", "default") == "default"
    assert "futureField" in r
    assert "missing" not in r
    with pytest.raises(KeyError):
        r["missing"]


def test_typed_properties_are_read_only() -> None:
    r = row("step-1", "2026-01-01T10:00:00Z")
    with pytest.raises(AttributeError):
        r.promotable = False  # type: ignore[misc]
    assert r.promotable


def test_state_rows_keep_their_name() -> None:
    r = row("step-12345678", "2026-01-01T10:00:00Z", "TRAINING", promotable=False)
    assert r.resumable
    assert r.logical_name == "step-12345678"
    assert r.step == 12345678


def test_unknown_type_on_a_row_is_kept() -> None:
    r = row("x", "2026-01-01T10:00:00Z", "CHECKPOINT_TYPE_NEW_THING", promotable=True)
    assert r["checkpointType"] == "CHECKPOINT_TYPE_NEW_THING"
    assert not r.checkpoint_type.is_known
    assert r.promotable


def test_python_constructed_row_has_wire_keys() -> None:
    r = Checkpoint(name=PREFIX + "c", checkpoint_type=CheckpointType.TRAINING)
    assert r["checkpointType"] == "CHECKPOINT_TYPE_TRAINING"
    assert r.get("checkpoint_type") is None


def test_mixed_precision_ordering() -> None:
    whole = row("a", "2026-01-01T10:00:00Z")
    half = row("b", "2026-01-01T10:00:00.500000Z")
    # As strings "...00Z" > "...00.5..." ('Z' sorts after '.'): the string order is wrong.
    assert whole["createTime"] > half["createTime"]
    assert newest_first([whole, half]) == [half, whole]


def test_nanosecond_and_offset_timestamps() -> None:
    assert parse_rfc3339("2026-01-01T10:00:00.123456789Z").microsecond == 123456
    assert parse_rfc3339("2026-01-01T12:00:00+02:00") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339("2026-01-01 nope")


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_rfc3339_round_trip(moment: datetime, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert parse_rfc3339(local.isoformat()) == moment
    assert parse_rfc3339(moment.isoformat().replace("+00:00", "Z")) == moment


def test_latest_promotable_prefers_highest_step_then_newest_time() -> None:
    rows = [
        row("step-30-aaaaaaaa", "2026-01-01T10:00:05Z"),
        # touched later asynchronously, but an older step
        row("step-20-bbbbbbbb", "2026-01-01T10:09:00Z"),
        row("step-30-cccccccc", "2026-01-01T10:00:05.250Z"),
        row("step-40-dddddddd", "2026-01-01T10:10:00Z", "INFERENCE_ARC_V2", promotable=False),
        row("final-eeeeeeee", "2026-01-01T11:00:00Z"),
    ]
    best = latest_promotable(rows)
    assert best is not None
    assert best.checkpoint_id == "step-30-cccccccc"


def test_latest_promotable_none() -> None:
    assert latest_promotable([row("a", "2026-01-01T10:00:00Z", "TRAINING", False)]) is None
    assert latest_promotable([]) is None


def test_model_and_operation() -> None:
    model = Model.model_validate(
        {
            "name": "accounts/acme/models/my-model",
            "state": "READY",
            "kind": "HF_PEFT_ADDON",
            "peftDetails": {"baseModel": "accounts/fireworks/models/qwen3-8b", "r": 8},
            "createTime": "2026-01-01T10:00:00Z",
        }
    )
    assert model.model_id == "my-model"
    assert model.peft_details is not None
    assert model.peft_details.r == 8
    assert model["peftDetails"]["baseModel"] == "accounts/fireworks/models/qwen3-8b"
    op = OperationStatus.model_validate(
        {"name": "accounts/acme/operations/1", "metadata": {"value": {"status_message": "copy"}}}
    )
    assert op.status_message == "copy"
    assert not op.done


# Loosely shaped timestamps reach the field checks (month 13, hour 25, offset 99:00, ...).
LOOSE_RFC3339 = st.from_regex(
    r"\A\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,12})?([Zz]|[+-]\d{2}:?\d{2})\Z"
)


@settings(max_examples=200)
@given(st.text() | LOOSE_RFC3339)
def test_any_string_is_a_timestamp_or_a_value_error(text: str) -> None:
    try:
        parsed = parse_rfc3339(text)
    except ValueError:
        with pytest.raises(ProtocolError, match="createTime must be an RFC 3339 timestamp"):
            _ = row("a", text).create_time
        return
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() is not None
    assert row("a", text).create_time == parsed


@pytest.mark.parametrize(
    ("wire", "state", "resumable", "tombstone"),
    [
        ("JOB_STATE_UNSPECIFIED", JobState.UNSPECIFIED, False, False),
        ("JOB_STATE_PENDING", JobState.PENDING, False, False),
        ("JOB_STATE_RUNNING", JobState.RUNNING, False, False),
        ("JOB_STATE_FAILED", JobState.FAILED, True, False),
        ("JOB_STATE_CANCELLED", JobState.CANCELLED, True, False),
        ("JOB_STATE_PAUSED", JobState.PAUSED, True, False),
        ("JOB_STATE_COMPLETED", JobState.COMPLETED, True, False),
        ("JOB_STATE_CANCELLING", JobState.CANCELLING, False, False),
        ("JOB_STATE_EARLY_STOPPED", JobState.EARLY_STOPPED, False, True),
        ("JOB_STATE_DELETING", JobState.DELETING, False, True),
        ("JOB_STATE_DELETED", JobState.DELETED, False, True),
        ("running", JobState.RUNNING, False, False),
        (" Failed ", JobState.FAILED, True, False),
    ],
)
def test_job_states(wire: str, state: JobState, resumable: bool, tombstone: bool) -> None:
    job = TrainerJob.model_validate({"name": "accounts/a/rlorTrainerJobs/j", "state": wire})
    assert job.state is state
    assert job.state == state.value  # still a plain string for code that compares strings
    assert (job.state.resumable, job.state.tombstone) == (resumable, tombstone)
    assert job.state.is_known
    assert job["state"] == wire  # the wire value comes back as sent


def test_an_unknown_job_state_is_kept() -> None:
    job = TrainerJob.model_validate({"name": "accounts/a/rlorTrainerJobs/j", "state": "JOB_X"})
    assert job.state == "JOB_X"
    assert isinstance(job.state, JobState)
    assert not job.state.is_known
    assert not job.state.resumable
    assert not job.state.tombstone
    assert TrainerJob(name="accounts/a/rlorTrainerJobs/j").state is JobState.UNSPECIFIED
