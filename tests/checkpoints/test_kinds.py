"""CheckpointKind, CheckpointType, SamplerCheckpointType and the promotability rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireworks_training.checkpoints import (
    CheckpointKind,
    CheckpointType,
    SamplerCheckpointType,
    is_promotable,
)
from fireworks_training.checkpoints.kinds import choose_sampler_type


@pytest.mark.parametrize(
    ("kind", "resumable", "promotable"),
    [
        (CheckpointKind.STATE, True, False),
        (CheckpointKind.SAMPLER, False, True),
        (CheckpointKind.BOTH, True, True),
    ],
)
def test_kind_flags(kind: CheckpointKind, resumable: bool, promotable: bool) -> None:
    assert kind.resumable is resumable
    assert kind.promotable is promotable
    assert CheckpointKind.from_flags(resumable=resumable, promotable=promotable) is kind


def test_kind_from_no_flags_is_an_error() -> None:
    with pytest.raises(ValueError, match="resumable, promotable, or both"):
        CheckpointKind.from_flags(resumable=False, promotable=False)


@pytest.mark.parametrize(
    ("wire", "member", "resumable", "expected_promotable"),
    [
        ("CHECKPOINT_TYPE_TRAINING", CheckpointType.TRAINING, True, False),
        ("TRAINING", CheckpointType.TRAINING, True, False),
        ("CHECKPOINT_TYPE_TRAINING_LORA", CheckpointType.TRAINING_LORA, True, False),
        ("TRAINING_LORA", CheckpointType.TRAINING_LORA, True, False),
        ("CHECKPOINT_TYPE_INFERENCE_BASE", CheckpointType.INFERENCE_BASE, False, True),
        ("INFERENCE_BASE", CheckpointType.INFERENCE_BASE, False, True),
        ("CHECKPOINT_TYPE_INFERENCE_LORA", CheckpointType.INFERENCE_LORA, False, True),
        ("INFERENCE_LORA", CheckpointType.INFERENCE_LORA, False, True),
        ("CHECKPOINT_TYPE_INFERENCE_ARC_V2", CheckpointType.INFERENCE_ARC_V2, False, False),
        ("INFERENCE_ARC_V2", CheckpointType.INFERENCE_ARC_V2, False, False),
        ("CHECKPOINT_TYPE_UNSPECIFIED", CheckpointType.UNSPECIFIED, False, False),
        ("inference_base", CheckpointType.INFERENCE_BASE, False, True),
    ],
)
def test_checkpoint_type_accepts_both_spellings(
    wire: str, member: CheckpointType, resumable: bool, expected_promotable: bool
) -> None:
    parsed = CheckpointType(wire)
    assert parsed is member
    assert parsed.is_known
    assert parsed.resumable is resumable
    assert parsed.expected_promotable is expected_promotable


def test_unknown_checkpoint_type_is_kept_not_raised() -> None:
    parsed = CheckpointType("CHECKPOINT_TYPE_INFERENCE_FP4")
    assert isinstance(parsed, CheckpointType)
    assert parsed.value == "CHECKPOINT_TYPE_INFERENCE_FP4"
    assert str(parsed) == "CHECKPOINT_TYPE_INFERENCE_FP4"
    assert not parsed.is_known
    assert not parsed.resumable
    assert not parsed.expected_promotable
    assert parsed.short_name == "INFERENCE_FP4"


def test_checkpoint_type_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="is not a valid CheckpointType"):
        CheckpointType(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["base", "delta", "merged_base", " BASE ", "Delta"])
def test_sampler_type_parse(text: str) -> None:
    assert SamplerCheckpointType.parse(text).value == text.strip().lower()


@pytest.mark.parametrize("bad", ["", "full", "arc_v2", None, 1])
def test_sampler_type_parse_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="checkpoint_type must be one of"):
        SamplerCheckpointType.parse(bad)  # type: ignore[arg-type]


# The promotability table of docs/concepts.md: every row, LoRA (rank 8) and full (rank 0).
# (how it was saved, has an earlier sampler save succeeded, LoRA promotable, full promotable)
PROMOTABILITY = [
    ("workflow STATE", CheckpointKind.STATE, False, False, False),
    ("workflow SAMPLER", CheckpointKind.SAMPLER, False, True, True),
    ("workflow BOTH", CheckpointKind.BOTH, True, True, True),
    ("ext base", "base", True, True, True),
    ("ext base enum", SamplerCheckpointType.BASE, False, True, True),
    ("ext delta", "delta", True, True, False),
    ("ext merged_base", "merged_base", True, True, True),
    ("weight sync first save", None, False, True, True),
    ("weight sync later save", None, True, True, False),
]


@pytest.mark.parametrize(
    ("saved_as", "has_saved", "lora", "full"),
    [row[1:] for row in PROMOTABILITY],
    ids=[row[0] for row in PROMOTABILITY],
)
def test_promotability_cheat_sheet(
    saved_as: CheckpointKind | SamplerCheckpointType | str | None,
    has_saved: bool,
    lora: bool,
    full: bool,
) -> None:
    assert is_promotable(saved_as, lora_rank=8, has_saved_sampler=has_saved) is lora
    assert is_promotable(saved_as, lora_rank=0, has_saved_sampler=has_saved) is full


@pytest.mark.parametrize("member", list(CheckpointType))
def test_promotability_of_server_types(member: CheckpointType) -> None:
    assert is_promotable(member) is member.expected_promotable


@pytest.mark.parametrize(
    ("explicit", "lora_rank", "has_saved", "expected"),
    [
        (None, 0, False, SamplerCheckpointType.BASE),
        (None, 0, True, SamplerCheckpointType.DELTA),
        (None, 16, False, SamplerCheckpointType.BASE),
        (None, 16, True, SamplerCheckpointType.BASE),
        ("base", 0, True, SamplerCheckpointType.BASE),
        ("delta", 0, False, SamplerCheckpointType.DELTA),
        ("delta", 16, True, SamplerCheckpointType.DELTA),
        (SamplerCheckpointType.MERGED_BASE, 16, True, SamplerCheckpointType.MERGED_BASE),
    ],
)
def test_choose_sampler_type(
    explicit: str | SamplerCheckpointType | None,
    lora_rank: int,
    has_saved: bool,
    expected: SamplerCheckpointType,
) -> None:
    chosen = choose_sampler_type(explicit, lora_rank=lora_rank, has_saved_sampler=has_saved)
    assert chosen is expected


@settings(max_examples=200)
@given(st.text())
def test_any_string_is_a_checkpoint_type(text: str) -> None:
    parsed = CheckpointType(text)
    assert isinstance(parsed, CheckpointType)
    if parsed.is_known:
        assert parsed in list(CheckpointType)
        assert parsed.value == "CHECKPOINT_TYPE_" + parsed.short_name
    else:
        assert parsed.value == str(parsed) == text  # kept as sent
        assert not parsed.resumable
        assert not parsed.expected_promotable
    assert isinstance(parsed.is_sampler, bool)


@settings(max_examples=200)
@given(st.text() | st.sampled_from([" Base", "DELTA\n", "merged_BASE", "merged-base"]))
def test_any_string_is_a_sampler_type_or_the_documented_error(text: str) -> None:
    if text.strip().lower() not in ("base", "delta", "merged_base"):
        with pytest.raises(ValueError, match=r"^checkpoint_type must be one of") as info:
            SamplerCheckpointType.parse(text)
        assert type(info.value) is ValueError
        return
    parsed = SamplerCheckpointType.parse(text)
    assert parsed.value == text.strip().lower()
    assert SamplerCheckpointType.parse(parsed.value) is parsed
