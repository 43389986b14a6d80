"""Training shapes and model details without I/O: names, requests and what the replies mean.

A training shape (``accounts/{account}/trainingShapes/{shape}``) is a validated trainer
configuration; its versions pin the trainer image, accelerators, context length and the
deployment shape to serve it with. ``resolve_training_profile`` reads the latest validated
version (or the version named) as a :class:`TrainingShapeProfile`. Wire: docs/protocol.md §1.7.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import (
    APIStatusError,
    InvalidArgumentError,
    ModelDetailsUnavailableError,
    ProtocolError,
)
from ._base_client import Request

__all__ = [
    "SHAPE_NAME_FORM",
    "ModelDetailsUnavailableError",
    "TrainingShapeProfile",
    "check_training_shape_name",
    "model_details_unavailable",
    "parse_moe",
    "parse_training_profile",
    "training_shape_request",
]

SHAPE_NAME_FORM = "accounts/<account>/trainingShapes/<shape>[/versions/<version>]"
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_SHAPE_RE = re.compile(rf"^accounts/{_SEGMENT}/trainingShapes/{_SEGMENT}(/versions/{_SEGMENT})?\Z")


@dataclass
class TrainingShapeProfile:
    """One validated version of a training shape: what a trainer of that shape runs with.

    Attributes as the official ``TrainingShapeProfile`` (same names, order and meaning).
    """

    training_shape_version: str
    trainer_image_tag: str
    max_supported_context_length: int
    node_count: int
    deployment_shape_version: str
    deployment_image_tag: str
    accelerator_type: str
    accelerator_count: int
    base_model_weight_precision: str
    pipeline_parallelism: int
    trainer_mode: str = ""

    @property
    def training_shape(self) -> str | None:
        """The shape's name without ``/versions/...`` (what ``training_shape_ref`` takes)."""
        if not self.training_shape_version:
            return None
        return self.training_shape_version.split("/versions/", 1)[0]

    @property
    def deployment_shape(self) -> str | None:
        """The pinned deployment shape version (a versioned name), or None."""
        return self.deployment_shape_version or None

    @property
    def supports_lora(self) -> bool:
        """True when the shape's trainer runs LoRA (``trainerMode == "LORA_TRAINER"``)."""
        return self.trainer_mode == "LORA_TRAINER"


def check_training_shape_name(value: object) -> str:
    """A full training shape name, optionally versioned; else a one-line error."""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"training_shape_id must be a string, got {type(value).__name__}"
        )
    name = value.strip()
    if _SHAPE_RE.match(name):
        return name
    hint = ""
    if name and "/" not in name:
        hint = f"; for a shape Fireworks publishes: 'accounts/fireworks/trainingShapes/{name}'"
    raise InvalidArgumentError(
        f"training_shape_id must be a full name {SHAPE_NAME_FORM!r}, got {value!r}{hint}"
    )


def training_shape_request(name: str) -> Request:
    """The version itself when named; else the latest validated version of the shape."""
    if "/versions/" in name:
        return Request("GET", f"/v1/{name}")
    params: dict[str, str | int] = {"filter": "latest_validated=true", "pageSize": 1}
    return Request("GET", f"/v1/{name}/versions", params=params)


def parse_training_profile(body: Mapping[str, Any], name: str) -> TrainingShapeProfile:
    """The profile of a version reply, or of the first version of a list reply."""
    version: Any = body
    if "/versions/" not in name:
        versions = body.get("trainingShapeVersions") or []
        if not isinstance(versions, list) or not versions:
            raise ProtocolError(f"training shape {name} has no validated version")
        version = versions[0]
    if not isinstance(version, Mapping):
        raise ProtocolError(f"training shape {name}: a version must be an object")
    snapshot = version.get("snapshot") or {}
    sharding = snapshot.get("trainerShardingScheme") or {}
    return TrainingShapeProfile(
        training_shape_version=_text(version, "name"),
        trainer_image_tag=_text(snapshot, "trainerImageTag"),
        max_supported_context_length=_number(snapshot, "maxSupportedContextLength", 0),
        node_count=_number(snapshot, "nodeCount", 1),
        deployment_shape_version=_text(snapshot, "deploymentShapeVersion"),
        deployment_image_tag=_text(snapshot, "deploymentImageTag"),
        accelerator_type=_text(snapshot, "acceleratorType"),
        accelerator_count=_number(snapshot, "acceleratorCount", 0),
        base_model_weight_precision=_text(snapshot, "baseModelWeightPrecision"),
        pipeline_parallelism=_number(sharding, "pipelineParallelism", 1) or 1,
        trainer_mode=_text(snapshot, "trainerMode"),
    )


def _text(source: Mapping[str, Any], key: str) -> str:
    value = source.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise ProtocolError(f"training shape version: {key} must be a string, got {value!r:.80}")


def _number(source: Mapping[str, Any], key: str, default: int) -> int:
    value = source.get(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():  # int64 travels as a decimal string
        return int(value)
    raise ProtocolError(f"training shape version: {key} must be an integer, got {value!r:.80}")


def model_details_unavailable(exc: APIStatusError) -> ModelDetailsUnavailableError:
    """The status error of a model read, as :class:`ModelDetailsUnavailableError`."""
    return ModelDetailsUnavailableError(
        exc.message,
        status_code=exc.status_code,
        method=exc.method,
        path=exc.path,
        request_id=exc.request_id,
        reason=exc.reason,
        body=exc.body,
        server_message=exc.server_message,
    )


def parse_moe(body: Mapping[str, Any], model: str) -> bool:
    """``baseModelDetails.moe`` of a model reply; a model without it is an error."""
    details = body.get("baseModelDetails") or body.get("base_model_details") or {}
    moe = details.get("moe") if isinstance(details, Mapping) else None
    if not isinstance(moe, bool):
        raise InvalidArgumentError(
            f"model {model} has no baseModelDetails.moe: cannot tell whether it is a "
            "mixture of experts (pass a base model)"
        )
    return moe
