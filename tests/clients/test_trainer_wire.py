"""Datum and tensor conversion to the JSON wire (no I/O), including older tinker shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import tinker
from hypothesis import given
from hypothesis import strategies as st

from fireworks_training.clients import _trainer_wire as wire
from fireworks_training.errors import InvalidArgumentError


@dataclass
class OldTensorData:
    """The shape of a pydantic TensorData of older tinker releases (data/dtype/shape)."""

    data: list[Any]
    dtype: str
    shape: list[int] | None = None


@dataclass
class OldDatum:
    model_input: Any
    loss_fn_inputs: dict[str, Any]


@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=50))
def test_int_arrays_round_trip(values: list[int]) -> None:
    sent = wire.tensor_json(np.array(values, dtype=np.int64), "target_tokens")
    assert sent == {"data": values, "dtype": "int64", "shape": [len(values)]}
    back = wire.forward_backward_output({"loss_fn_outputs": [{"x": sent}]})
    assert back.loss_fn_outputs[0]["x"].tolist() == values


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([1, 2], {"data": [1, 2], "dtype": "int64", "shape": [2]}),
        ([0.5], {"data": [0.5], "dtype": "float32", "shape": [1]}),
        (OldTensorData([3, 4], "int64"), {"data": [3, 4], "dtype": "int64", "shape": [2]}),
        (
            tinker.types.TensorData(data=[1.0, 2.0, 3.0, 4.0], dtype="float32", shape=[2, 2]),
            {"data": [1.0, 2.0, 3.0, 4.0], "dtype": "float32", "shape": [2, 2]},
        ),
        ({"data": [1, 2], "dtype": "int32"}, {"data": [1, 2], "dtype": "int64", "shape": [2]}),
    ],
)
def test_tensor_json(value: Any, expected: dict[str, Any]) -> None:
    assert wire.tensor_json(value, "weights" if expected["dtype"] == "float32" else "") == expected


def test_target_tokens_default_to_int64() -> None:
    assert wire.tensor_json([], "target_tokens")["dtype"] == "int64"


def test_old_style_datum_and_chunks() -> None:
    model_input = tinker.types.ModelInput(
        chunks=[
            tinker.types.EncodedTextChunk(tokens=[1]),
            tinker.types.EncodedTextChunk(tokens=[2]),
        ]
    )
    sent = wire.datum_json(OldDatum(model_input, {"target_tokens": OldTensorData([2, 3], "int64")}))
    assert sent == {
        "model_input": {
            "chunks": [
                {"type": "encoded_text", "tokens": [1]},
                {"type": "encoded_text", "tokens": [2]},
            ]
        },
        "loss_fn_inputs": {"target_tokens": {"data": [2, 3], "dtype": "int64", "shape": [2]}},
    }


@pytest.mark.parametrize("bad", [object(), {"loss_fn_inputs": {}}])
def test_bad_datum(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        wire.datum_json(bad)


def test_non_numeric_tensor_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="numeric"):
        wire.tensor_json(["a", "b"], "weights")


def test_adam_params_from_mapping_fill_tinkers_defaults() -> None:
    params = {"learning_rate": 1, "beta1": 0.9, "beta2": 0.99, "grad_clip_norm": 1}
    assert wire.adam_params_json(params) == {
        "learning_rate": 1.0,
        "beta1": 0.9,
        "beta2": 0.99,
        "eps": 1e-12,
        "weight_decay": 0.0,
        "grad_clip_norm": 1.0,
    }
    with pytest.raises(InvalidArgumentError, match="eps"):
        wire.adam_params_json({"eps": "tiny"})
    with pytest.raises(TypeError, match="AdamParams"):
        wire.adam_params_json(0.1)


def test_grad_norm_metrics_go_inside_adam_params() -> None:
    sent = wire.adam_params_json(tinker.types.AdamParams(), "Detailed")
    assert sent["emit_grad_norm_metrics"] == "detailed"
    assert wire.adam_params_json({"emit_grad_norm_metrics": True})["emit_grad_norm_metrics"]
    with pytest.raises(InvalidArgumentError, match="emit_grad_norm_metrics"):
        wire.adam_params_json(tinker.types.AdamParams(), "loud")


def test_forward_backward_output_defaults() -> None:
    out = wire.forward_backward_output({})
    assert out.loss_fn_outputs == []
    assert out.metrics == {}
