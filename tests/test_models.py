"""Wire objects: real dicts with typed, cached properties; the fast timestamp path agrees
with the field-by-field one."""

from __future__ import annotations

import copy
import io
import json
import pickle
from datetime import UTC, date, datetime
from typing import Any, assert_type

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireworks_training._models import _RFC3339, _from_fields, _plain_utc, parse_rfc3339
from fireworks_training.checkpoints import Checkpoint, CheckpointType, Model
from fireworks_training.checkpoints.types import OperationStatus, TrainerJob
from fireworks_training.errors import ProtocolError

PREFIX = "accounts/acme/rlorTrainerJobs/job-abc/checkpoints/"


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1, 1, 1)))
    hour = draw(st.integers(0, 23))
    minute, second = draw(st.integers(0, 59)), draw(st.integers(0, 59))
    sep = draw(st.sampled_from("Tt "))
    frac = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9)))
    zone = draw(
        st.one_of(
            st.sampled_from(["Z", "z"]),
            st.builds(
                lambda sign, h, m, colon: f"{sign}{h:02d}{':' if colon else ''}{m:02d}",
                st.sampled_from("+-"),
                st.integers(0, 23),
                st.integers(0, 59),
                st.booleans(),
            ),
        )
    )
    fraction = f".{frac}" if frac else ""
    return f"{day.isoformat()}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"


@given(rfc3339())
def test_fast_path_agrees_with_the_fields(value: str) -> None:
    match = _RFC3339.match(value)
    assert match is not None
    expected = _from_fields(match)
    parsed = parse_rfc3339(value)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()
    assert parsed.replace(tzinfo=None) == expected.replace(tzinfo=None)


def _wire() -> dict[str, Any]:
    return {
        "name": PREFIX + "step-1-a1b2c3d4",
        "createTime": "2026-01-01T10:00:00.5Z",
        "checkpointType": "INFERENCE_BASE",
        "promotable": True,
        "sizeBytes": "1024",
    }


def test_a_row_is_the_wire_dict() -> None:
    wire = _wire()
    row = Checkpoint(wire)
    assert isinstance(row, dict)
    assert row == wire
    assert {**row} == wire
    assert list(row) == list(wire)
    assert dict(row.items()) == wire
    assert list(row.values()) == list(wire.values())
    assert json.loads(json.dumps([row])) == [wire]
    out = io.StringIO()
    json.dump([row], out)
    assert json.loads(out.getvalue()) == [wire]
    assert row is not wire
    wire["promotable"] = False  # the row holds its own copy of the keys
    assert row["promotable"] is True


def test_copies_and_pickles_keep_the_wire_values_and_the_type() -> None:
    row = Checkpoint(_wire())
    assert row.create_time is not None  # fills the cache
    for other in (row.copy(), copy.copy(row), copy.deepcopy(row), pickle.loads(pickle.dumps(row))):
        assert type(other) is Checkpoint
        assert other == row
        assert other["createTime"] == "2026-01-01T10:00:00.5Z"
        assert other.create_time == row.create_time
        assert other.checkpoint_type is CheckpointType.INFERENCE_BASE


def test_to_wire_is_a_plain_copy() -> None:
    row = Checkpoint(_wire())
    wire = row.to_wire()
    assert type(wire) is dict
    wire["name"] = "changed"
    assert row["name"] == PREFIX + "step-1-a1b2c3d4"


def test_keyword_construction_uses_wire_keys_and_values() -> None:
    moment = datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    row = Checkpoint(name=PREFIX + "c", checkpoint_type=CheckpointType.TRAINING, create_time=moment)
    assert row == {
        "name": PREFIX + "c",
        "checkpointType": "CHECKPOINT_TYPE_TRAINING",
        "createTime": "2026-01-01T10:00:00.500000Z",
    }
    assert row.create_time == moment
    assert Checkpoint(_wire()) == Checkpoint(**_wire())
    assert "checkpoint_type" not in row


def test_a_change_to_the_keys_is_seen_by_the_properties() -> None:
    row = Checkpoint(_wire())
    assert row.promotable
    row["promotable"] = False
    assert not row.promotable
    row.update(checkpointType="CHECKPOINT_TYPE_TRAINING")
    assert row.resumable
    del row["checkpointType"]
    assert row.checkpoint_type is CheckpointType.UNSPECIFIED
    row |= {"createTime": "2026-01-02T00:00:00Z"}
    assert row.create_time == datetime(2026, 1, 2, tzinfo=UTC)
    row.pop("createTime")
    assert row.create_time is None
    row.setdefault("createTime", "2026-01-03T00:00:00Z")
    assert row.create_time == datetime(2026, 1, 3, tzinfo=UTC)
    row.clear()
    with pytest.raises(ProtocolError, match="checkpoint row without a name: name must be a string"):
        _ = row.name


def test_wire_fields_keep_their_types_names_and_cache() -> None:
    # The assert_type lines are for ``mypy --strict tests/test_models.py``: a ``wire_field``
    # reads as the type its reader returns, like a decorated ``wire_property``.
    row = Checkpoint(_wire())
    assert_type(row.name, str)
    assert_type(row.create_time, datetime | None)
    assert_type(row.promotable, bool)
    model = Model({"name": "accounts/acme/models/m", "kind": "HF_PEFT_ADDON", "displayName": "d"})
    assert_type(model.kind, str | None)
    assert (model.kind, model.display_name, model.create_time) == ("HF_PEFT_ADDON", "d", None)
    assert Model.kind.__doc__ == "The ``kind`` key, typed."  # help(Model.kind) is not empty
    job = TrainerJob({"name": "accounts/acme/rlorTrainerJobs/j", "trainingConfig": {"loraRank": 8}})
    assert job.training_config is not None
    assert_type(job.training_config.lora_rank, int | None)
    assert job.training_config.lora_rank == 8
    operation = OperationStatus({"name": "accounts/acme/operations/o", "response": {"a": 1}})
    assert_type(operation.response, dict[str, Any] | None)
    assert (operation.done, operation.response) == (False, {"a": 1})
    assert row.create_time is not None
    assert set(row._cache) == {"name", "create_time", "promotable"}  # keyed by attribute name
    with pytest.raises(AttributeError, match="create_time is read from the wire keys"):
        row.create_time = None  # type: ignore[assignment]


def test_typed_properties_cannot_be_assigned() -> None:
    row = Checkpoint(_wire())
    with pytest.raises(AttributeError, match="promotable is read from the wire keys"):
        row.promotable = False  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        row.anything = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "value", "prop", "message"),
    [
        ("createTime", "yesterday", "create_time", "createTime must be an RFC 3339 timestamp"),
        ("createTime", 1700000000, "create_time", "createTime must be an RFC 3339 timestamp"),
        ("promotable", "true", "promotable", "promotable must be a boolean"),
        ("checkpointType", 3, "checkpoint_type", "checkpointType must be a string"),
        ("name", "accounts/a/models/m", "checkpoint_id", "accounts/a/models/m"),
        ("name", None, "name", "name must be a string"),
    ],
)
def test_a_malformed_value_is_a_protocol_error_when_read(
    key: str, value: Any, prop: str, message: str
) -> None:
    row = Checkpoint({**_wire(), key: value})  # wrapping checks nothing
    assert row[key] == value
    with pytest.raises(ProtocolError, match=message):
        getattr(row, prop)
    with pytest.raises(ProtocolError, match=message):
        row.check()
    with pytest.raises(ProtocolError, match=message):
        Checkpoint.model_validate({**_wire(), key: value})


def test_int64_strings_and_nested_objects() -> None:
    model = Model({"name": "accounts/acme/models/m", "peftDetails": {"baseModel": "b", "r": "8"}})
    assert model.peft_details is not None
    assert model.peft_details.r == 8
    assert model.peft_details["r"] == "8"
    assert model["peftDetails"] == {"baseModel": "b", "r": "8"}
    assert model.state == "STATE_UNSPECIFIED"
    bad = Model({"name": "accounts/acme/models/m", "peftDetails": {"r": "eight"}})
    assert bad.peft_details is not None
    with pytest.raises(ProtocolError, match="peftDetails without a name: r must be an integer"):
        _ = bad.peft_details.r


def test_equality_is_the_dicts() -> None:
    first, second = Checkpoint(_wire()), Checkpoint(_wire())
    assert first.create_time is not None  # fills the cache of one twin only
    assert first == second
    assert first != Checkpoint({**_wire(), "promotable": False})
    with pytest.raises(TypeError):
        hash(first)  # like the dicts the official client returns


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-01T24:00:00Z",
        "2026-W01-1T10:00:00Z",
        "2026-01-01T10:00:00,5Z",
        "2026-01-01T10:00:60Z",
        "2026-02-30T10:00:00Z",
        "2026-01-01T10:00Z",
        "20260101T100000Z",
    ],
)
def test_not_rfc3339_or_impossible_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|must be in|out of range"):
        parse_rfc3339(value)


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("2026-01-01T10:00:00Z", True),
        ("2026-01-01T10:00:00.5Z", True),
        ("2026-01-01T10:00:00.123456Z", True),
        ("2026-01-01T10:00:00.1234567Z", False),
        ("2026-01-01T10:00:00+00:00", False),
        ("2026-01-01t10:00:00Z", False),
        ("2026-01-01T24:00:00Z", False),
    ],
)
def test_the_service_shape_takes_the_fast_path(value: str, plain: bool) -> None:
    assert _plain_utc(value) is plain


def test_plain_utc_shapes() -> None:
    assert parse_rfc3339("2026-01-01T10:00:00Z") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert parse_rfc3339("2026-01-01T10:00:00.5Z").microsecond == 500000
    assert parse_rfc3339(" 2026-01-01T10:00:00.123456Z ").microsecond == 123456
    assert parse_rfc3339("2026-01-01T10:00:00.123456Z").tzinfo is UTC
