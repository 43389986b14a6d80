"""What the emulator publishes besides trainer jobs: base models and training shapes.

Plain, checked values with no dependencies (``Settings`` holds them and the pytest plugin
imports ``Settings`` without the ``emulator`` extra). The control plane serves them from
``catalog_service``: a base model at ``GET /v1/{name}``, a training shape at
``GET /v1/{name}`` and its versions at ``GET /v1/{name}/versions[/{version}]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .names import parse_name, resource_id_problem

__all__ = [
    "DEFAULT_BASE_MODEL",
    "DEFAULT_BASE_MODELS",
    "DEFAULT_TRAINING_SHAPES",
    "TRAINER_MODES",
    "BaseModelSpec",
    "TrainingShapeSpec",
    "check_unique",
]

DEFAULT_BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
TRAINER_MODES = ("POLICY_TRAINER", "LORA_TRAINER", "FORWARD_ONLY")
_BIGRAM_PARAMETERS = 256 * 256  # the trainer's model: one (vocabulary x vocabulary) matrix


def _check_name(value: object, collection: str, what: str) -> list[str]:
    ids = parse_name(value, collection)
    if ids is None:
        raise ValueError(f"{what} must be 'accounts/<account>/{collection}/<id>', got {value!r}")
    for part, kind in zip(ids, ("account id", f"{what} id"), strict=True):
        problem = resource_id_problem(part, kind)
        if problem:
            raise ValueError(problem)
    return ids


def _check_positive(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class BaseModelSpec:
    """A base model the control plane describes (``model_is_moe`` reads ``moe``).

    Every base model trains as the same byte-level bigram; the fields are what the model
    resource says about it, not a different architecture.
    """

    name: str
    moe: bool = False
    context_length: int = 4096
    model_type: str = "bigram"
    parameter_count: int = _BIGRAM_PARAMETERS
    supports_lora: bool = True
    display_name: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "models", "base model")
        if not isinstance(self.moe, bool):
            raise ValueError(f"moe must be a bool, got {self.moe!r}")
        _check_positive(self, "context_length", "parameter_count")

    @property
    def account(self) -> str:
        """The account that publishes it."""
        return self.name.split("/")[1]


@dataclass(frozen=True)
class TrainingShapeSpec:
    """One version of a training shape: the trainer configuration it pins.

    A shape is every spec of one ``name``; its versions keep the order they were added in,
    and the last ``validated`` one is the shape's latest validated version.
    """

    name: str
    version: str = "1"
    validated: bool = True
    base_model: str = DEFAULT_BASE_MODEL
    trainer_mode: str = "POLICY_TRAINER"
    max_supported_context_length: int = 4096
    node_count: int = 1
    accelerator_type: str = "NVIDIA_H100_80GB"
    accelerator_count: int = 1
    deployment_shape_version: str = ""
    trainer_image_tag: str = "emulator"
    deployment_image_tag: str = "emulator"
    base_model_weight_precision: str = "BF16"
    pipeline_parallelism: int = 1

    def __post_init__(self) -> None:
        _check_name(self.name, "trainingShapes", "training shape")
        problem = resource_id_problem(self.version, "training shape version")
        if problem:
            raise ValueError(problem)
        _check_name(self.base_model, "models", "base model")
        if self.trainer_mode not in TRAINER_MODES:
            raise ValueError(
                f"trainer_mode must be one of {TRAINER_MODES}, got {self.trainer_mode!r}"
            )
        _check_positive(
            self,
            "max_supported_context_length",
            "node_count",
            "accelerator_count",
            "pipeline_parallelism",
        )

    @property
    def account(self) -> str:
        """The account that publishes it."""
        return self.name.split("/")[1]

    @property
    def version_name(self) -> str:
        """``accounts/{a}/trainingShapes/{s}/versions/{v}``."""
        return f"{self.name}/versions/{self.version}"

    def snapshot(self) -> dict[str, Any]:
        """The pinned configuration, camelCase as the control plane answers it."""
        body: dict[str, Any] = {
            "baseModel": self.base_model,
            "trainerMode": self.trainer_mode,
            "trainerImageTag": self.trainer_image_tag,
            "maxSupportedContextLength": self.max_supported_context_length,
            "nodeCount": self.node_count,
            "acceleratorType": self.accelerator_type,
            "acceleratorCount": self.accelerator_count,
            "deploymentImageTag": self.deployment_image_tag,
            "baseModelWeightPrecision": self.base_model_weight_precision,
            "trainerShardingScheme": {"pipelineParallelism": self.pipeline_parallelism},
        }
        if self.deployment_shape_version:
            body["deploymentShapeVersion"] = self.deployment_shape_version
        return body


def check_unique(
    base_models: tuple[BaseModelSpec, ...], shapes: tuple[TrainingShapeSpec, ...]
) -> None:
    """A ``ValueError`` when a base model or a shape version appears twice."""
    for what, names in (
        ("base model", [m.name for m in base_models]),
        ("training shape version", [s.version_name for s in shapes]),
    ):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"{what} {name!r} is configured twice")
            seen.add(name)


_SHAPES = "accounts/fireworks/trainingShapes"
_DEPLOYMENT_SHAPE = "accounts/fireworks/deploymentShapes/ds-tiny-bigram/versions/1"

DEFAULT_BASE_MODELS: tuple[BaseModelSpec, ...] = (
    BaseModelSpec(DEFAULT_BASE_MODEL, display_name="Tiny bigram"),
)
DEFAULT_TRAINING_SHAPES: tuple[TrainingShapeSpec, ...] = (
    # Version 2 was not validated: the shape resolves to version 1.
    TrainingShapeSpec(
        f"{_SHAPES}/ts-tiny-bigram-policy", deployment_shape_version=_DEPLOYMENT_SHAPE
    ),
    TrainingShapeSpec(
        f"{_SHAPES}/ts-tiny-bigram-policy",
        version="2",
        validated=False,
        max_supported_context_length=8192,
        deployment_shape_version=_DEPLOYMENT_SHAPE,
    ),
    TrainingShapeSpec(
        f"{_SHAPES}/ts-tiny-bigram-lora",
        trainer_mode="LORA_TRAINER",
        deployment_shape_version=_DEPLOYMENT_SHAPE,
    ),
    TrainingShapeSpec(f"{_SHAPES}/ts-tiny-bigram-forward", trainer_mode="FORWARD_ONLY"),
)
