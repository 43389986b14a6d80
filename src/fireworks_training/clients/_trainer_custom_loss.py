"""``forward_backward_custom``: a loss computed here, in torch, from the trainer's logprobs.

The trainer only knows its built-in losses. A custom loss ``C(logprobs)`` is linearised at
the current weights: a forward pass gives the logprobs, torch gives ``C`` and ``dC/dlogp``
here, and one ``cross_entropy`` forward/backward with per-token weights ``-dC/dlogp`` makes
the trainer accumulate exactly the gradient of ``C`` (its loss is ``-sum(w * logp)``; the
chain rule does the rest). No other request or server route is needed. torch is imported
only when a custom loss runs (the ``torch`` extra).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import tinker

from ..errors import InvalidArgumentError
from ._trainer_wire import tensor_json

__all__ = ["CustomLoss", "backward_data", "forward_data", "import_torch", "run_loss"]

CustomLoss = Callable[[list[Any], list[Any]], Any]

_MISSING_TORCH = "forward_backward_custom needs PyTorch: pip install 'fireworks-training[torch]'"


def import_torch() -> ModuleType:
    """torch, or a one-line ImportError naming the extra that installs it."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ImportError(_MISSING_TORCH) from None


def _inputs(datum: Any) -> tuple[Any, Mapping[str, Any]]:
    if isinstance(datum, Mapping):
        return datum.get("model_input"), datum.get("loss_fn_inputs") or {}
    return getattr(datum, "model_input", None), getattr(datum, "loss_fn_inputs", None) or {}


def _targets(datum: Any, index: int) -> tuple[Any, Any, dict[str, Any]]:
    model_input, inputs = _inputs(datum)
    if "target_tokens" not in inputs:
        raise InvalidArgumentError(f"datum {index} has no target_tokens: a custom loss needs them")
    targets = inputs["target_tokens"]
    return model_input, targets, tensor_json(targets, "target_tokens")


def forward_data(data: Sequence[Any]) -> list[dict[str, Any]]:
    """The forward pass's data: each datum's tokens and targets, weights zero where absent.

    Other inputs are left out: the forward pass runs ``cross_entropy``, which reads no more.
    """
    out = []
    for index, datum in enumerate(data):
        model_input, targets, sent = _targets(datum, index)
        _, inputs = _inputs(datum)
        weights = inputs.get("weights")
        if weights is None:
            weights = {
                "data": [0.0] * len(sent["data"]),
                "dtype": "float32",
                "shape": sent["shape"],
            }
        out.append(
            {
                "model_input": model_input,
                "loss_fn_inputs": {"target_tokens": targets, "weights": weights},
            }
        )
    return out


def run_loss(
    torch: ModuleType,
    loss_fn: CustomLoss,
    data: Sequence[Any],
    forward: tinker.types.ForwardBackwardOutput,
) -> tuple[list[Any], dict[str, float]]:
    """Run ``loss_fn(data, logprobs)`` and its backward pass; the logprob leaves and metrics."""
    outputs = list(forward.loss_fn_outputs)
    if len(outputs) != len(data):
        raise InvalidArgumentError(
            f"the forward pass answered {len(outputs)} outputs for {len(data)} datums"
        )
    leaves = []
    for index, out in enumerate(outputs):
        if "logprobs" not in out:
            raise InvalidArgumentError(f"forward output {index} has no logprobs")
        sent = tensor_json(out["logprobs"], "logprobs")
        leaf = torch.tensor(sent["data"], dtype=torch.float32).reshape(sent["shape"])
        leaves.append(leaf.requires_grad_(True))
    answer = loss_fn(list(data), leaves)
    loss, metrics = answer if isinstance(answer, tuple) else (answer, {})
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError("a custom loss must return (scalar torch tensor, metrics dict)")
    loss.backward()
    for index, leaf in enumerate(leaves):
        if leaf.grad is None:
            raise ValueError(f"the loss has no gradient for the logprobs of datum {index}")
    return leaves, {str(k): float(v) for k, v in dict(metrics or {}).items()}


def backward_data(data: Sequence[Any], leaves: Sequence[Any]) -> list[dict[str, Any]]:
    """The backward pass's data: per-token weights ``-dC/dlogp`` on each datum's targets."""
    out = []
    for index, (datum, leaf) in enumerate(zip(data, leaves, strict=True)):
        model_input, targets, _ = _targets(datum, index)
        grad = leaf.grad.detach().to(dtype=leaf.dtype)
        weights = {
            "data": (-grad).reshape(-1).tolist(),
            "dtype": "float32",
            "shape": list(grad.shape),
        }
        out.append(
            {
                "model_input": model_input,
                "loss_fn_inputs": {"target_tokens": targets, "weights": weights},
            }
        )
    return out
