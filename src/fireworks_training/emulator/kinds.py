"""Checkpoint types as the server detects them from a stored blob, and what each allows.

The type is read from what the blob holds, never from what the client called the save:
a state (weights and optimizer) is resumable, whole inference weights or a LoRA adapter are
promotable, an XOR delta is neither.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "INFERENCE_ARC_V2",
    "INFERENCE_BASE",
    "INFERENCE_LORA",
    "TRAINING",
    "TRAINING_LORA",
    "UNSPECIFIED",
    "classify",
    "is_promotable",
    "is_resumable",
]

TRAINING = "CHECKPOINT_TYPE_TRAINING"
TRAINING_LORA = "CHECKPOINT_TYPE_TRAINING_LORA"
INFERENCE_BASE = "CHECKPOINT_TYPE_INFERENCE_BASE"
INFERENCE_LORA = "CHECKPOINT_TYPE_INFERENCE_LORA"
INFERENCE_ARC_V2 = "CHECKPOINT_TYPE_INFERENCE_ARC_V2"
UNSPECIFIED = "CHECKPOINT_TYPE_UNSPECIFIED"

_RESUMABLE = frozenset({TRAINING, TRAINING_LORA})
_PROMOTABLE = frozenset({INFERENCE_BASE, INFERENCE_LORA})


def classify(header: dict[str, Any]) -> str:
    """The type of a blob from its header: what it holds and whether it is LoRA."""
    content = header.get("content")
    if content == "state":
        return TRAINING_LORA if int(header.get("lora_rank") or 0) > 0 else TRAINING
    return {
        "weights": INFERENCE_BASE,
        "adapter": INFERENCE_LORA,
        "delta": INFERENCE_ARC_V2,
    }.get(str(content), UNSPECIFIED)


def is_resumable(checkpoint_type: str) -> bool:
    """A state checkpoint: ``load_weights`` restores it, ``list_checkpoints`` lists it."""
    return checkpoint_type in _RESUMABLE


def is_promotable(checkpoint_type: str) -> bool:
    """Whole inference weights or an adapter: ``:promote`` accepts it."""
    return checkpoint_type in _PROMOTABLE
