"""Tinker types as the trainer's JSON and back (docs/protocol.md §2.2); no I/O here.

Users hand us public ``tinker.types`` objects (dataclasses in tinker 0.38, pydantic models in
older releases); we read them through public attributes only and write the JSON wire of
tinker 0.23, which the Fireworks trainer speaks for every op. The request bodies are the
ones the official client sends for the same call, key for key.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import tinker
from pydantic import BaseModel, ConfigDict

from ..errors import InvalidArgumentError, RequestFailedError

__all__ = [
    "DEFAULT_LORA_ALPHA",
    "DEFAULT_LORA_INIT_METHOD",
    "EXPORT_PRECISIONS",
    "PROTOCOL_VERSION",
    "GradAccNormalization",
    "GradNormMetricsMode",
    "LoadAdapterResponse",
    "adam_params_json",
    "check_lora_rank",
    "check_ttl",
    "check_user_metadata",
    "create_model_body",
    "create_session_body",
    "datum_json",
    "export_precision",
    "forward_backward_output",
    "grad_accumulation_value",
    "grad_norm_metrics_value",
    "load_adapter_response",
    "load_weights_response",
    "lora_config_json",
    "optim_step_response",
    "save_weights_response",
    "tensor_json",
]

# The tinker protocol the Fireworks trainer speaks; sent as ``sdk_version`` (not our version).
PROTOCOL_VERSION = "0.23.0"
DEFAULT_LORA_ALPHA = 32
DEFAULT_LORA_INIT_METHOD = "kaiming"
EXPORT_PRECISIONS = ("source", "bf16", "nvfp4", "mxfp8", "fp8_block128")
# tinker's AdamParams defaults, for a mapping that leaves a field out.
_ADAM_DEFAULTS = {
    "learning_rate": 1e-4,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-12,
    "weight_decay": 0.0,
    "grad_clip_norm": 0.0,
}
_KEY_DTYPES = {"target_tokens": "int64"}


class GradAccNormalization(enum.StrEnum):
    """How ``optim_step`` normalizes the accumulated gradients on the trainer."""

    NUM_LOSS_TOKENS = "num_loss_tokens"
    """Divide by the number of tokens with a non-zero gradient (a per-token mean)."""
    NUM_SEQUENCES = "num_sequences"
    """Divide by the number of sequences with a non-zero gradient (a per-sequence mean)."""
    NONE = "none"
    """Use the gradients as accumulated."""


class GradNormMetricsMode(enum.StrEnum):
    """Which gradient-norm metrics ``optim_step`` asks the trainer for."""

    OFF = "off"
    BASIC = "basic"
    DETAILED = "detailed"


class LoadAdapterResponse(BaseModel):
    """The result of ``load_adapter``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    model_id: str | None = None
    adapter_path: str | None = None
    type: str = "load_adapter"


def _enum_value(value: object, kind: type[enum.Enum], what: str) -> str:
    if isinstance(value, kind):
        return str(value.value)
    try:
        return str(kind(str(value).lower()).value)
    except ValueError:
        valid = ", ".join(str(mode.value) for mode in kind)
        raise InvalidArgumentError(f"{what} must be one of {valid}, got {value!r}") from None


def grad_accumulation_value(value: object) -> str | None:
    """``grad_accumulation_normalization`` as sent (case-insensitive names accepted)."""
    if value is None:
        return None
    return _enum_value(value, GradAccNormalization, "grad_accumulation_normalization")


def grad_norm_metrics_value(value: object) -> bool | str | None:
    """``emit_grad_norm_metrics`` as sent: a bool or a mode name."""
    if value is None or isinstance(value, bool):
        return value
    return _enum_value(value, GradNormMetricsMode, "emit_grad_norm_metrics")


def export_precision(checkpoint_type: str, precision: object) -> str | None:
    """The ``export_precision`` of a sampler save: ``merged_base`` only, ``source`` by default."""
    if precision is not None and precision not in EXPORT_PRECISIONS:
        raise InvalidArgumentError(
            f"export_precision must be one of {', '.join(EXPORT_PRECISIONS)}, got {precision!r}"
        )
    if checkpoint_type == "merged_base":
        return str(precision or "source")
    if precision is not None:
        raise InvalidArgumentError("export_precision needs checkpoint_type='merged_base'")
    return None


def check_ttl(ttl_seconds: object) -> int | None:
    """``None``, or a positive integer number of seconds."""
    if ttl_seconds is None:
        return None
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise InvalidArgumentError(f"ttl_seconds must be a positive integer, got {ttl_seconds!r}")
    return ttl_seconds


def check_lora_rank(lora_rank: object, what: str = "lora_rank") -> int:
    """A LoRA rank: 0 for full-parameter training, else positive."""
    if isinstance(lora_rank, bool) or not isinstance(lora_rank, int) or lora_rank < 0:
        raise InvalidArgumentError(f"{what} must be an integer >= 0, got {lora_rank!r}")
    return lora_rank


def check_user_metadata(value: object) -> dict[str, Any] | None:
    """``None``, or a JSON object with string keys."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidArgumentError(
            f"user_metadata must be a dict with string keys, got {type(value).__name__}"
        )
    try:
        json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"user_metadata cannot be sent as JSON: {exc}") from None
    return dict(value)


def _optional_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{what} must be an integer or None, got {value!r}")
    return value


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{what} must be True or False, got {value!r}")
    return value


def create_session_body(user_metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """``create_session``: tags from ``TINKER_TAGS``, the metadata, the protocol version."""
    tags = os.environ.get("TINKER_TAGS")
    tag_list = list(dict.fromkeys(tags.split(","))) if tags is not None else []
    return {
        "tags": tag_list,
        "user_metadata": dict(user_metadata or {}),
        "sdk_version": PROTOCOL_VERSION,
        "type": "create_session",
    }


def lora_config_json(
    rank: int,
    *,
    alpha: object = DEFAULT_LORA_ALPHA,
    seed: object = None,
    train_mlp: object = True,
    train_attn: object = True,
    train_unembed: object = True,
    init_method: object = None,
) -> dict[str, Any]:
    """``lora_config``, always sent: rank 0 is full-parameter (no alpha, no init method)."""
    config: dict[str, Any] = {}
    if rank > 0:
        alpha_value = _optional_int(alpha, "lora_alpha")
        if alpha_value is not None and alpha_value <= 0:
            raise InvalidArgumentError(f"lora_alpha must be positive, got {alpha_value}")
        if alpha_value is not None:
            config["alpha"] = alpha_value
        if init_method is not None:
            if not isinstance(init_method, str) or not init_method.strip():
                raise InvalidArgumentError(f"lora_init_method must be a name, got {init_method!r}")
            config["init_method"] = init_method.strip()
    config["rank"] = rank
    seed_value = _optional_int(seed, "seed")
    if seed_value is not None:
        config["seed"] = seed_value
    config["train_unembed"] = _flag(train_unembed, "train_unembed")
    config["train_mlp"] = _flag(train_mlp, "train_mlp")
    config["train_attn"] = _flag(train_attn, "train_attn")
    return config


def create_model_body(
    session_id: str,
    model_seq_id: int,
    base_model: str,
    *,
    lora_config: Mapping[str, Any] | None,
    user_metadata: Mapping[str, Any] | None = None,
    projection_head_dim: int | None = None,
) -> dict[str, Any]:
    """``create_model``; a base-only (frozen reference) model has no ``lora_config``."""
    body: dict[str, Any] = {}
    if projection_head_dim is not None:
        body["projection_head_dim"] = projection_head_dim
    body.update(session_id=session_id, model_seq_id=model_seq_id, base_model=base_model)
    if user_metadata is not None:
        body["user_metadata"] = dict(user_metadata)
    if lora_config is not None:
        body["lora_config"] = dict(lora_config)
    body["type"] = "create_model"
    if lora_config is None:
        body["base_only"] = True
    return body


def _wire_dtype(dtype: object, kind: str, key: str) -> str:
    """``int64`` or ``float32``, the two dtypes of the wire."""
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if isinstance(name, str) and name:
        return "int64" if name.startswith(("int", "uint")) else "float32"
    if key in _KEY_DTYPES:
        return _KEY_DTYPES[key]
    return "int64" if kind in "iu" else "float32"


def tensor_json(value: Any, key: str = "") -> dict[str, Any]:
    """TensorData JSON ``{"data", "dtype", "shape"}`` from a TensorData, array or list."""
    dtype: object = None
    if isinstance(value, Mapping):
        array = np.asarray(value.get("data"))
        dtype, shape = value.get("dtype"), value.get("shape")
    elif hasattr(value, "to_numpy"):  # tinker 0.38 TensorData; densifies sparse tensors
        array = np.asarray(value.to_numpy())
        dtype, shape = getattr(value, "dtype", None), list(array.shape)
    elif not isinstance(value, np.ndarray) and isinstance(getattr(value, "dtype", None), str):
        array = np.asarray(value.data)  # a pydantic TensorData of older tinker releases
        dtype, shape = value.dtype, getattr(value, "shape", None)
    else:
        array = np.asarray(value)  # numpy array, list, CPU torch tensor
        shape = list(array.shape)
    if array.dtype.kind not in "iuf" and array.size:
        raise InvalidArgumentError(
            f"loss_fn_inputs[{key!r}] is not a numeric tensor: {type(value).__name__}"
        )
    data = array.reshape(-1).tolist()
    return {
        "data": data,
        "dtype": _wire_dtype(dtype, array.dtype.kind, key),
        "shape": [int(n) for n in shape] if shape else [len(data)],
    }


def _chunk_json(chunk: Any) -> dict[str, Any]:
    if isinstance(chunk, Mapping):
        return dict(chunk)
    tokens = getattr(chunk, "tokens", None)
    chunk_type = getattr(chunk, "type", "encoded_text")
    if tokens is not None and chunk_type == "encoded_text":
        return {"tokens": [int(t) for t in tokens], "type": "encoded_text"}
    if hasattr(chunk, "model_dump"):
        dumped: dict[str, Any] = chunk.model_dump(mode="json", exclude_none=True)
        return dumped
    raise InvalidArgumentError(f"unsupported model_input chunk: {type(chunk).__name__}")


def _model_input_json(model_input: Any) -> dict[str, Any]:
    if isinstance(model_input, Mapping):
        return dict(model_input)
    chunks = getattr(model_input, "chunks", None)
    if chunks is None:
        raise InvalidArgumentError(f"datum.model_input has no chunks: {type(model_input).__name__}")
    return {"chunks": [_chunk_json(c) for c in chunks]}


def datum_json(datum: Any) -> dict[str, Any]:
    """A ``tinker.types.Datum`` (or its JSON) as the 0.23 JSON wire."""
    if isinstance(datum, Mapping):
        model_input, inputs = datum.get("model_input"), datum.get("loss_fn_inputs") or {}
    else:
        model_input = getattr(datum, "model_input", None)
        inputs = getattr(datum, "loss_fn_inputs", None) or {}
    if model_input is None:
        raise InvalidArgumentError(f"a datum needs model_input, got {type(datum).__name__}")
    return {
        "loss_fn_inputs": {str(k): tensor_json(v, str(k)) for k, v in dict(inputs).items()},
        "model_input": _model_input_json(model_input),
    }


def adam_params_json(params: Any, emit_grad_norm_metrics: object = None) -> dict[str, Any]:
    """``adam_params``, every field sent (``weight_decay`` and ``grad_clip_norm`` too)."""
    if params is None or isinstance(params, str | bytes | int | float):
        raise TypeError(f"adam_params must be a tinker.AdamParams, got {type(params).__name__}")

    def get(name: str) -> Any:
        if isinstance(params, Mapping):
            return params.get(name)
        return getattr(params, name, None)

    body: dict[str, Any] = {}
    emit = grad_norm_metrics_value(
        emit_grad_norm_metrics
        if emit_grad_norm_metrics is not None
        else get("emit_grad_norm_metrics")
    )
    if emit is not None:
        body["emit_grad_norm_metrics"] = emit
    for name, default in _ADAM_DEFAULTS.items():
        value = get(name)
        if value is None and not isinstance(params, Mapping):
            raise TypeError(f"adam_params has no {name}: {type(params).__name__} is not AdamParams")
        try:
            body[name] = float(default if value is None else value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"adam_params.{name} must be a number, got {value!r}"
            ) from None
    return body


def _tensor_from_json(value: Any) -> tinker.types.TensorData:
    if not isinstance(value, Mapping):
        return tinker.types.TensorData(data=list(value), dtype="float32")
    is_int = str(value.get("dtype", "float32")).startswith(("int", "uint"))
    return tinker.types.TensorData(
        data=list(value["data"]), dtype="int64" if is_int else "float32", shape=value.get("shape")
    )


def forward_backward_output(body: Mapping[str, Any]) -> tinker.types.ForwardBackwardOutput:
    """The result JSON as a public ``tinker.types.ForwardBackwardOutput``."""
    outputs = [
        {str(k): _tensor_from_json(v) for k, v in dict(item).items()}
        for item in body.get("loss_fn_outputs") or []
    ]
    metrics = {str(k): float(v) for k, v in dict(body.get("metrics") or {}).items()}
    return tinker.types.ForwardBackwardOutput(
        loss_fn_output_type=str(body.get("loss_fn_output_type") or "ArrayRecord"),
        loss_fn_outputs=outputs,
        metrics=metrics,
    )


def optim_step_response(body: Mapping[str, Any]) -> tinker.types.OptimStepResponse:
    """The result JSON as ``tinker.types.OptimStepResponse``."""
    metrics = body.get("metrics")
    if isinstance(metrics, Mapping):
        return tinker.types.OptimStepResponse(
            metrics={str(k): float(v) for k, v in metrics.items()}
        )
    return tinker.types.OptimStepResponse(metrics=None)


def load_weights_response(body: Mapping[str, Any]) -> tinker.types.LoadWeightsResponse:
    """The result JSON as ``tinker.types.LoadWeightsResponse``."""
    path = body.get("path")
    model_id = body.get("model_id")
    return tinker.types.LoadWeightsResponse(
        path=path if isinstance(path, str) else None,
        model_id=model_id if isinstance(model_id, str) else None,
    )


def load_adapter_response(body: Mapping[str, Any]) -> LoadAdapterResponse:
    """The result JSON of ``load_adapter``."""
    return LoadAdapterResponse.model_validate({k: v for k, v in body.items() if k != "type"})


def save_weights_response(
    body: Mapping[str, Any], request_id: str = ""
) -> tinker.types.SaveWeightsResponse:
    """A ``save_weights`` result: its ``path`` is required."""
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise RequestFailedError(
            "save_weights result has no path", category="server", request_id=request_id
        )
    return tinker.types.SaveWeightsResponse(path=path)
