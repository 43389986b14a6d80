"""The server's own name rules and type detection, read against the SDK's independent ones.

The emulator shares no code with the SDK; where both read the same rule of the protocol,
they must agree on every case below, so a client-against-server test means something.
"""

from __future__ import annotations

import pytest

from fireworks_training import CheckpointName, CheckpointType, validate_output_model_id
from fireworks_training.emulator import kinds, names

CHECKPOINT_NAMES = [
    "step-1",
    "train_state_step_100",
    "step-50-a1b2c3d4",
    "v1.2",
    "A" * 128,
    "A" * 129,
    "",
    ".hidden",
    "-x",
    "a/b",
    "a b",
    "a\nb",
    "step-1\n",
    "..",
    "é",
]


@pytest.mark.parametrize("name", CHECKPOINT_NAMES)
def test_checkpoint_names_agree_with_the_sdk(name: str) -> None:
    try:
        CheckpointName.parse(f"accounts/a/rlorTrainerJobs/j/checkpoints/{name}")
        sdk_ok = True
    except ValueError:
        sdk_ok = False
    assert (names.checkpoint_id_problem(name) is None) == sdk_ok


@pytest.mark.parametrize(
    "model_id", ["m", "my-model-2", "a" * 63, "a" * 64, "", "My-Model", "a_b", "a.b", "a b"]
)
def test_output_model_ids_agree_with_the_sdk(model_id: str) -> None:
    assert (names.model_id_problems(model_id) == []) == (validate_output_model_id(model_id) == [])


def test_every_problem_of_a_model_id_is_reported() -> None:
    problems = names.model_id_problems("B" * 64)
    assert len(problems) == 2
    assert "64 characters" in problems[0]
    assert "'B'" in problems[1]


@pytest.mark.parametrize(
    ("value", "collections", "ids"),
    [
        ("accounts/a/models/m", ("models",), ["a", "m"]),
        (
            "accounts/a/rlorTrainerJobs/j/checkpoints/c",
            ("rlorTrainerJobs", "checkpoints"),
            ["a", "j", "c"],
        ),
        ("accounts/a/rlorTrainerJobs/j/checkpoints/c", ("rlorTrainerJobs",), None),
        ("accounts/a/rlorTrainerJobs/j", ("rlorTrainerJobs",), ["a", "j"]),
        ("accounts/a/models/", ("models",), None),
        ("accounts/a/models/m/x", ("models",), None),
        ("models/m", ("models",), None),
        (None, ("models",), None),
    ],
)
def test_parse_name(value: object, collections: tuple[str, ...], ids: list[str] | None) -> None:
    assert names.parse_name(value, *collections) == ids


HEADERS = [
    ({"content": "state", "lora_rank": 0}, CheckpointType.TRAINING),
    ({"content": "state", "lora_rank": 4}, CheckpointType.TRAINING_LORA),
    ({"content": "weights", "lora_rank": 0}, CheckpointType.INFERENCE_BASE),
    ({"content": "weights", "lora_rank": 4}, CheckpointType.INFERENCE_BASE),  # merged_base
    ({"content": "adapter", "lora_rank": 4}, CheckpointType.INFERENCE_LORA),
    ({"content": "delta", "lora_rank": 0}, CheckpointType.INFERENCE_ARC_V2),
    ({"content": "something-new"}, CheckpointType.UNSPECIFIED),
]


@pytest.mark.parametrize(("header", "expected"), HEADERS)
def test_detected_types_and_what_they_allow_agree_with_the_sdk(
    header: dict[str, object], expected: CheckpointType
) -> None:
    detected = kinds.classify(header)
    assert detected == expected.value
    assert kinds.is_resumable(detected) == expected.resumable
    assert kinds.is_promotable(detected) == expected.expected_promotable
