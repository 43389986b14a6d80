"""Reading tinker JSON ``Datum`` objects and writing ``TensorData`` JSON (docs/protocol.md §2.2)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .model import VOCAB, Example, UserError

__all__ = ["parse_datum", "parse_data", "tensor_json"]

_INT_DTYPES = {"int64", "int32"}
_FLOAT_DTYPES = {"float32", "float64", "bfloat16", "float16"}


def tensor_json(values: NDArray[Any]) -> dict[str, Any]:
    """A one-dimensional array as TensorData JSON."""
    dtype = "int64" if np.issubdtype(values.dtype, np.integer) else "float32"
    return {"data": values.tolist(), "dtype": dtype, "shape": list(values.shape)}


def _tensor(value: Any, what: str, *, integer: bool) -> NDArray[Any]:
    if isinstance(value, dict):
        data, dtype, shape = value.get("data"), value.get("dtype"), value.get("shape")
        allowed = _INT_DTYPES if integer else _FLOAT_DTYPES | _INT_DTYPES
        if dtype is not None and dtype not in allowed:
            raise UserError(f"{what} has dtype {dtype!r}; expected one of {sorted(allowed)}")
    else:
        data, shape = value, None
    if not isinstance(data, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in data
    ):
        raise UserError(f"{what} must hold a flat list of numbers")
    if shape is not None and shape != [len(data)]:
        raise UserError(f"{what} has shape {shape}; expected [{len(data)}]")
    if integer:
        if not all(float(x).is_integer() for x in data):
            raise UserError(f"{what} must hold integers")
        return np.asarray(data, dtype=np.int64)
    return np.asarray(data, dtype=np.float32)


def _input_tokens(model_input: Any) -> NDArray[np.int64]:
    chunks = model_input.get("chunks") if isinstance(model_input, dict) else None
    if not isinstance(chunks, list) or not chunks:
        raise UserError("model_input.chunks must be a non-empty list")
    tokens: list[Any] = []
    for chunk in chunks:
        if not isinstance(chunk, dict) or chunk.get("type", "encoded_text") != "encoded_text":
            raise UserError("only encoded_text chunks are supported by this model")
        part = chunk.get("tokens")
        if not isinstance(part, list):
            raise UserError("an encoded_text chunk needs a tokens list")
        tokens.extend(part)
    return _tensor(tokens, "model_input tokens", integer=True)


def _check_vocab(values: NDArray[np.int64], what: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= VOCAB):
        raise UserError(f"{what} must be in [0, {VOCAB}); got {int(values.max())}")


def parse_datum(datum: Any) -> Example:
    """One tinker JSON Datum as an :class:`Example`; malformed input is a :class:`UserError`."""
    if not isinstance(datum, dict):
        raise UserError("a datum must be an object")
    tokens = _input_tokens(datum.get("model_input"))
    inputs = datum.get("loss_fn_inputs")
    if not isinstance(inputs, dict) or "target_tokens" not in inputs:
        raise UserError("loss_fn_inputs.target_tokens is required for cross_entropy")
    targets = _tensor(inputs["target_tokens"], "target_tokens", integer=True)
    if "weights" in inputs:
        weights = _tensor(inputs["weights"], "weights", integer=False)
    else:
        weights = np.ones(len(targets), np.float32)
    if not len(tokens) == len(targets) == len(weights):
        raise UserError(
            f"lengths differ: {len(tokens)} input tokens, {len(targets)} target_tokens, "
            f"{len(weights)} weights"
        )
    _check_vocab(tokens, "input tokens")
    _check_vocab(targets, "target tokens")
    return Example(tokens=tokens, targets=targets, weights=weights)


def parse_data(body: Any) -> tuple[list[Example], str]:
    """The examples and loss function of a ``forward_backward_input``."""
    if not isinstance(body, dict):
        raise UserError("forward_backward_input must be an object")
    loss_fn = body.get("loss_fn", "cross_entropy")
    if loss_fn != "cross_entropy":
        raise UserError(f"loss_fn {loss_fn!r} is not supported; use 'cross_entropy'")
    data = body.get("data")
    if not isinstance(data, list) or not data:
        raise UserError("forward_backward_input.data must be a non-empty list of datums")
    return [parse_datum(d) for d in data], loss_fn
