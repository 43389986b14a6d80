"""The wire base model: the fast timestamp path agrees with the field-by-field one, and the
mapping a model was read from survives copies and pickles."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireworks_training._models import (
    _RFC3339,
    _from_fields,
    _plain_utc,
    parse_rfc3339,
    validate_list,
)
from fireworks_training.checkpoints import Checkpoint, Model

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


def _row() -> Checkpoint:
    return Checkpoint.model_validate(
        {
            "name": PREFIX + "step-1-a1b2c3d4",
            "createTime": "2026-01-01T10:00:00.5Z",
            "checkpointType": "INFERENCE_BASE",
            "promotable": True,
            "sizeBytes": "1024",
        }
    )


def test_copies_and_pickles_keep_the_wire_values() -> None:
    row = _row()
    for other in (
        row.model_copy(),
        copy.copy(row),
        copy.deepcopy(row),
        pickle.loads(pickle.dumps(row)),
    ):
        assert other == row
        assert other["createTime"] == "2026-01-01T10:00:00.5Z"
        assert other["checkpointType"] == "INFERENCE_BASE"
        assert other["sizeBytes"] == "1024"


def test_to_wire_is_a_copy() -> None:
    row = _row()
    wire = row.to_wire()
    wire["name"] = "changed"
    assert row["name"] == PREFIX + "step-1-a1b2c3d4"


def test_constructed_model_has_wire_keys_without_a_source_mapping() -> None:
    model = Model.model_construct(name="accounts/acme/models/m", state="READY")
    assert model["name"] == "accounts/acme/models/m"
    assert model.get("state") == "READY"
    assert "kind" not in model


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


def test_nested_wire_objects_keep_their_values() -> None:
    model = Model.model_validate(
        {"name": "accounts/acme/models/m", "peftDetails": {"baseModel": "b", "r": "8"}}
    )
    assert model.peft_details is not None
    assert model.peft_details.r == 8
    assert model.peft_details["r"] == "8"
    assert model["peftDetails"] == {"baseModel": "b", "r": "8"}


def test_validate_json_and_validate_list_keep_the_wire_values() -> None:
    text = '{"name": "accounts/acme/models/m", "createTime": "2026-01-01T10:00:00.50Z"}'
    assert Model.model_validate_json(text)["createTime"] == "2026-01-01T10:00:00.50Z"
    rows = validate_list(Checkpoint, [_row().to_wire(), {"name": PREFIX + "x", "extra": 1}])
    assert [r["name"] for r in rows] == [PREFIX + "step-1-a1b2c3d4", PREFIX + "x"]
    assert rows[0]["createTime"] == "2026-01-01T10:00:00.5Z"
    assert rows[1]["extra"] == 1


def test_equality_is_by_fields_not_by_what_was_cached() -> None:
    first, second = _row(), _row()
    first.to_wire()  # fills the wire cache of one twin only
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    built = Checkpoint(**first.model_dump())  # no source mapping at all
    assert built == first
    assert first != first.model_copy(update={"promotable": False})
