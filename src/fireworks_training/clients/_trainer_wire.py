"""Tinker types as the trainer's JSON and back (docs/protocol.md §2.2); no I/O here.

Users hand us public ``tinker.types`` objects (dataclasses in tinker 0.38, pydantic models in
older releases); we read them through public attributes only and write the JSON wire of
tinker 0.23, which the Fireworks trainer speaks for every op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tinker

from ..errors import InvalidArgumentError, RequestFailedError

__all__ = [
    "adam_params_json",
    "datum_json",
    "forward_backward_output",
    "load_weights_response",
    "optim_step_response",
    "state_path",
    "tensor_json",
    "check_lora_rank",
    "check_ttl",
]

_ADAM_FIELDS = ("learning_rate", "beta1", "beta2", "eps")
# Sent only when set: the 0.23 wire has no such fields, and dropping them silently would
# change the user's training without a word.
_ADAM_OPTIONAL = ("weight_decay", "grad_clip_norm")
_KEY_DTYPES = {"target_tokens": "int64"}


def check_ttl(ttl_seconds: object) -> int | None:
    """``None``, or a positive integer number of seconds."""
    if ttl_seconds is None:
        return None
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise InvalidArgumentError(f"ttl_seconds must be a positive integer, got {ttl_seconds!r}")
    return ttl_seconds


def check_lora_rank(lora_rank: object) -> int:
    """A LoRA rank: 0 for full-parameter training, else positive."""
    if isinstance(lora_rank, bool) or not isinstance(lora_rank, int) or lora_rank < 0:
        raise InvalidArgumentError(f"lora_rank must be an integer >= 0, got {lora_rank!r}")
    return lora_rank


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
        return {"type": "encoded_text", "tokens": [int(t) for t in tokens]}
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
        "model_input": _model_input_json(model_input),
        "loss_fn_inputs": {str(k): tensor_json(v, str(k)) for k, v in dict(inputs).items()},
    }


def adam_params_json(params: Any) -> dict[str, Any]:
    """``adam_params`` from a ``tinker.types.AdamParams`` (or a mapping)."""

    def get(name: str) -> Any:
        if isinstance(params, Mapping):
            return params.get(name)
        return getattr(params, name, None)

    body: dict[str, Any] = {}
    for name in _ADAM_FIELDS:
        value = get(name)
        if value is None:
            raise InvalidArgumentError(f"adam_params.{name} is required")
        body[name] = float(value)
    for name in _ADAM_OPTIONAL:
        value = get(name)
        if value:
            body[name] = float(value)
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


def state_path(body: Mapping[str, Any], request_id: str = "") -> str:
    """The required ``path`` of a ``save_weights`` result."""
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise RequestFailedError(
            "save_weights result has no path", category="server", request_id=request_id
        )
    return path
