"""The trainer's model: a byte-level bigram language model, full-parameter or LoRA.

``logits(prev) = W[prev]`` with ``W`` of shape (256, 256), float32. Full-parameter training
updates ``W``; LoRA of rank r trains ``A`` (256, r) and ``B`` (r, 256) with ``W = W0 + A @ B``
and ``B`` starting at zero. The initial weights come from a seed derived from the base model
name, so every trainer of the same base model starts from the same point.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .catalog import DEFAULT_BASE_MODEL

__all__ = [
    "DEFAULT_BASE_MODEL",
    "VOCAB",
    "AdamParams",
    "BigramModel",
    "Example",
    "UserError",
    "base_weights",
    "log_softmax",
]

VOCAB = 256
_INIT_SCALE = 0.02
_LORA_INIT_SCALE = 0.01

Array = NDArray[np.float32]


class UserError(ValueError):
    """A request the model cannot run because of its input (category "user")."""


@dataclass(frozen=True)
class Example:
    """One datum: input tokens, the target for each position, and per-position weights."""

    tokens: NDArray[np.int64]
    targets: NDArray[np.int64]
    weights: Array


@dataclass(frozen=True)
class AdamParams:
    """The per-step optimizer settings of ``optim_step``."""

    learning_rate: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-12
    weight_decay: float = 0.0
    grad_clip_norm: float = 0.0


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def base_weights(base_model: str) -> Array:
    """The deterministic initial weights ``W0`` of a base model."""
    rng = np.random.default_rng(_seed(base_model))
    return (rng.standard_normal((VOCAB, VOCAB)) * _INIT_SCALE).astype(np.float32)


def log_softmax(logits: Array) -> Array:
    """Log-probabilities along the last axis, in the logits' precision.

    The one implementation: the trainer's forward pass and a deployment's completions both
    call it, so a served logprob and a trained one differ only by the weights' rounding.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    result: Array = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return result


@dataclass
class BigramModel:
    """Weights, accumulated gradients and Adam state of one training model."""

    base_model: str
    lora_rank: int
    params: dict[str, Array] = field(default_factory=dict)
    grads: dict[str, Array] = field(default_factory=dict)
    m: dict[str, Array] = field(default_factory=dict)
    v: dict[str, Array] = field(default_factory=dict)
    step: int = 0
    _w0: Array | None = None

    @classmethod
    def create(cls, base_model: str, lora_rank: int) -> BigramModel:
        """A fresh model initialised from the base model's weights."""
        model = cls(base_model=base_model, lora_rank=lora_rank)
        w0 = base_weights(base_model)
        if lora_rank > 0:
            rng = np.random.default_rng(_seed(f"{base_model}#lora{lora_rank}"))
            a = (rng.standard_normal((VOCAB, lora_rank)) * _LORA_INIT_SCALE).astype(np.float32)
            model._w0 = w0
            model.params = {"A": a, "B": np.zeros((lora_rank, VOCAB), np.float32)}
        else:
            model.params = {"W": w0}
        model.reset_optimizer()
        return model

    @property
    def base(self) -> Array:
        """``W0``, the frozen base weights (LoRA)."""
        if self._w0 is None:
            self._w0 = base_weights(self.base_model)
        return self._w0

    def effective_weights(self) -> Array:
        """The weight matrix the model computes with."""
        if self.lora_rank > 0:
            return (self.base + self.params["A"] @ self.params["B"]).astype(np.float32)
        return self.params["W"]

    def reset_optimizer(self) -> None:
        """Zero Adam moments, step count and gradients."""
        self.m = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.v = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.step = 0
        self.zero_grads()

    def zero_grads(self) -> None:
        """Drop accumulated gradients."""
        self.grads = {k: np.zeros_like(p) for k, p in self.params.items()}

    def forward(self, examples: list[Example]) -> tuple[list[Array], float, Array]:
        """Log-probabilities of each target, the summed weighted loss, and dL/dW."""
        weights = self.effective_weights()
        grad_w = np.zeros((VOCAB, VOCAB), np.float32)
        outputs: list[Array] = []
        total = 0.0
        for ex in examples:
            logprobs = log_softmax(weights[ex.tokens])
            picked = logprobs[np.arange(len(ex.targets)), ex.targets].astype(np.float32)
            outputs.append(picked)
            total += float(-(ex.weights * picked).sum())
            d_logits = np.exp(logprobs) * ex.weights[:, None]
            d_logits[np.arange(len(ex.targets)), ex.targets] -= ex.weights
            np.add.at(grad_w, ex.tokens, d_logits.astype(np.float32))
        return outputs, total, grad_w

    def forward_backward(self, examples: list[Example]) -> tuple[list[Array], float]:
        """Run the cross-entropy loss and accumulate its gradients."""
        outputs, total, grad_w = self.forward(examples)
        if self.lora_rank > 0:
            a, b = self.params["A"], self.params["B"]
            self.grads["A"] += (grad_w @ b.T).astype(np.float32)
            self.grads["B"] += (a.T @ grad_w).astype(np.float32)
        else:
            self.grads["W"] += grad_w
        return outputs, total

    def optim_step(self, adam: AdamParams) -> dict[str, float]:
        """One Adam step with bias correction over the accumulated gradients, then clear them."""
        grads = self.grads
        norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values())))
        scale = 1.0
        if adam.grad_clip_norm > 0 and norm > adam.grad_clip_norm:
            scale = adam.grad_clip_norm / norm
        self.step += 1
        correction1 = 1.0 - adam.beta1**self.step
        correction2 = 1.0 - adam.beta2**self.step
        for key, param in self.params.items():
            g = grads[key] * np.float32(scale)
            self.m[key] = (adam.beta1 * self.m[key] + (1 - adam.beta1) * g).astype(np.float32)
            self.v[key] = (adam.beta2 * self.v[key] + (1 - adam.beta2) * g * g).astype(np.float32)
            update = (self.m[key] / correction1) / (np.sqrt(self.v[key] / correction2) + adam.eps)
            decay = adam.learning_rate * adam.weight_decay * param
            self.params[key] = (param - adam.learning_rate * update - decay).astype(np.float32)
        self.zero_grads()
        return {"step": float(self.step), "grad_norm": norm, "learning_rate": adam.learning_rate}

    def digest(self) -> str:
        """sha256 of the trainable parameters, in a fixed order."""
        h = hashlib.sha256()
        for key in sorted(self.params):
            h.update(key.encode())
            h.update(np.ascontiguousarray(self.params[key]).tobytes())
        return h.hexdigest()
