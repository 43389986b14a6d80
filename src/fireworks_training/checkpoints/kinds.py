"""The three layers of "type": workflow kind, SDK sampler type, server checkpoint type.

Also the promotability rules (docs/concepts.md) and the sampler-type decision
(docs/protocol.md §2.3).
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "CheckpointKind",
    "CheckpointType",
    "LenientStrEnum",
    "SamplerCheckpointType",
    "choose_sampler_type",
    "is_promotable",
]


class CheckpointKind(enum.Enum):
    """What a workflow save writes: training state, sampler weights, or both."""

    STATE = "state"
    SAMPLER = "sampler"
    BOTH = "both"

    @property
    def resumable(self) -> bool:
        """True when the save writes training state (weights + optimizer)."""
        return self is not CheckpointKind.SAMPLER

    @property
    def promotable(self) -> bool:
        """True when the save writes base sampler weights, which the server promotes."""
        return self is not CheckpointKind.STATE

    @classmethod
    def from_flags(cls, *, resumable: bool, promotable: bool) -> CheckpointKind:
        """The kind for the ``resumable=`` / ``promotable=`` flags of the workflow."""
        if resumable and promotable:
            return cls.BOTH
        if resumable:
            return cls.STATE
        if promotable:
            return cls.SAMPLER
        raise ValueError("a checkpoint must be resumable, promotable, or both")


class SamplerCheckpointType(enum.StrEnum):
    """How a sampler save is written: whole weights, XOR delta, or LoRA merged into base."""

    BASE = "base"
    DELTA = "delta"
    MERGED_BASE = "merged_base"

    @classmethod
    def parse(cls, value: SamplerCheckpointType | str) -> SamplerCheckpointType:
        """Accept the enum or its wire string; anything else is a ``ValueError``."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        choices = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"checkpoint_type must be one of {choices}, got {value!r}")


class LenientStrEnum(enum.StrEnum):
    """A server enum: each member's value is ``<PREFIX>_<NAME>``.

    Accepts the value or the bare name, in any case; a value this library does not know is
    kept as a pseudo-member instead of raising (newer servers must not break older clients).
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        text = value.strip().upper()
        for member in cls:
            if text in (member.value, member.name):
                return member
        unknown = str.__new__(cls, value)
        unknown._name_ = value
        unknown._value_ = value
        return unknown

    @property
    def is_known(self) -> bool:
        """False for a value this library version does not know."""
        return any(self is member for member in type(self))


_PREFIX = "CHECKPOINT_TYPE_"


class CheckpointType(LenientStrEnum):
    """The server's ``checkpointType``, detected from the blob.

    Accepts both ``CHECKPOINT_TYPE_INFERENCE_BASE`` and ``INFERENCE_BASE``; a value this
    library does not know is kept as a pseudo-member instead of raising.
    """

    UNSPECIFIED = "CHECKPOINT_TYPE_UNSPECIFIED"
    TRAINING = "CHECKPOINT_TYPE_TRAINING"
    TRAINING_LORA = "CHECKPOINT_TYPE_TRAINING_LORA"
    INFERENCE_BASE = "CHECKPOINT_TYPE_INFERENCE_BASE"
    INFERENCE_LORA = "CHECKPOINT_TYPE_INFERENCE_LORA"
    INFERENCE_ARC_V2 = "CHECKPOINT_TYPE_INFERENCE_ARC_V2"

    @property
    def resumable(self) -> bool:
        """True for training state (DCP) checkpoints, the only ones resume can load."""
        return self in (CheckpointType.TRAINING, CheckpointType.TRAINING_LORA)

    @property
    def is_sampler(self) -> bool:
        """True for sampler (inference) weights, which hold no training state."""
        return self.value.startswith(_PREFIX + "INFERENCE_") or self.value.startswith("INFERENCE_")

    @property
    def expected_promotable(self) -> bool:
        """What the type implies; the row's ``promotable`` field stays authoritative."""
        return self in (CheckpointType.INFERENCE_BASE, CheckpointType.INFERENCE_LORA)

    @property
    def short_name(self) -> str:
        """``INFERENCE_BASE`` for ``CHECKPOINT_TYPE_INFERENCE_BASE``."""
        return self.value.removeprefix(_PREFIX)


def choose_sampler_type(
    explicit: SamplerCheckpointType | str | None,
    *,
    lora_rank: int,
    has_saved_sampler: bool,
) -> SamplerCheckpointType:
    """The type of the next sampler save (docs/protocol.md §2.3).

    An explicit type wins; LoRA always saves ``base`` (the adapter is saved whole);
    full-parameter saves ``base`` first and ``delta`` after any successful sampler save.
    """
    if explicit is not None:
        # merged_base on a full-parameter model is a whole-weights save, like base.
        return SamplerCheckpointType.parse(explicit)
    if lora_rank > 0 or not has_saved_sampler:
        return SamplerCheckpointType.BASE
    return SamplerCheckpointType.DELTA


def is_promotable(
    saved_as: CheckpointKind | SamplerCheckpointType | CheckpointType | str | None,
    *,
    lora_rank: int = 0,
    has_saved_sampler: bool = False,
) -> bool:
    """Whether a checkpoint saved this way can be promoted (docs/concepts.md).

    ``saved_as`` is a workflow kind, an SDK sampler type (a string is read as one), a
    server type, or ``None`` for a weight-sync save whose type the client picks; then
    ``has_saved_sampler`` says whether an earlier sampler save of the same client succeeded.
    """
    if isinstance(saved_as, CheckpointKind):
        # Workflow sampler saves always send "base".
        return saved_as.promotable
    if isinstance(saved_as, CheckpointType):
        return saved_as.expected_promotable
    sampler_type = choose_sampler_type(
        saved_as, lora_rank=lora_rank, has_saved_sampler=has_saved_sampler
    )
    if lora_rank > 0:
        return True
    return sampler_type is not SamplerCheckpointType.DELTA
