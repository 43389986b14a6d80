"""forward_backward_custom: the forward pass, the loss here, the linearised backward pass.

The wire of both requests against the scripted trainer; then, against the emulator, a run
whose loss is a torch function of the logprobs reaches the weights the equivalent built-in
loss reaches. Skipped only when torch is not installed.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tinker

from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.errors import InvalidArgumentError
from fireworks_training.futures import TrainerFuture

from .trainer_fakes import FakeTrainer, fake, policy, slept, trainer

torch = pytest.importorskip("torch")

__all__ = ["fake", "policy", "slept", "trainer"]  # fixtures


def datum(tokens: list[int], **extra: Any) -> tinker.types.Datum:
    inputs: dict[str, Any] = {"target_tokens": [t + 1 for t in tokens], **extra}
    return tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints(tokens), loss_fn_inputs=inputs
    )


def squared_logprobs(data: list[Any], logprobs: list[Any]) -> tuple[Any, dict[str, float]]:
    """A loss that is not cross-entropy: sum of squared logprobs (d/dlogp = 2 logp)."""
    loss = sum((lp**2).sum() for lp in logprobs)
    return loss, {"squares": float(loss.detach()), "datums": float(len(data))}


def test_forward_then_weights_of_minus_the_gradient(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    data = [datum([1, 2, 3], advantages=[0.5, 0.5, 0.5]), datum([4], weights=[2.0])]
    future = trainer.forward_backward_custom(data, squared_logprobs)
    assert isinstance(future, TrainerFuture)
    result = future.result(timeout=30)
    forward, backward = fake.ops()
    # The forward pass: targets, and zero weights where none were given; nothing else.
    sent = [d["loss_fn_inputs"] for d in forward["forward_input"]["data"]]
    assert sent == [
        {
            "target_tokens": {"data": [2, 3, 4], "dtype": "int64", "shape": [3]},
            "weights": {"data": [0.0, 0.0, 0.0], "dtype": "float32", "shape": [3]},
        },
        {
            "target_tokens": {"data": [5], "dtype": "int64", "shape": [1]},
            "weights": {"data": [2.0], "dtype": "float32", "shape": [1]},
        },
    ]
    assert forward["forward_input"]["loss_fn"] == "cross_entropy"
    # The backward pass: weights -dL/dlogp = -2 * logp = 1.0 (the fake answers logp -0.5).
    assert backward["forward_backward_input"]["loss_fn"] == "cross_entropy"
    weights = [d["loss_fn_inputs"]["weights"] for d in backward["forward_backward_input"]["data"]]
    assert weights == [
        {"data": [1.0, 1.0, 1.0], "dtype": "float32", "shape": [3]},
        {"data": [1.0], "dtype": "float32", "shape": [1]},
    ]
    assert [b["seq_id"] for b in fake.ops()] == [1, 2]
    # The trainer's metrics with the loss's own merged over them.
    assert result.metrics["squares"] == pytest.approx(4 * 0.25)
    assert result.metrics["datums"] == 2.0
    assert result.metrics["loss:sum"] == 1.5


def test_keyword_loss_fn_and_a_precomputed_forward(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    data = [datum([1, 2])]
    forward = trainer.forward(data, "cross_entropy").result()
    trainer.forward_backward_custom(
        data, loss_fn=squared_logprobs, precomputed_forward=forward
    ).result(timeout=30)
    assert [op for op, _ in fake.submits] == ["forward", "forward_backward"]


@pytest.mark.anyio
async def test_async_twin(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    future = await trainer.forward_backward_custom_async([datum([1, 2])], squared_logprobs)
    result = await future
    assert result.metrics["squares"] == pytest.approx(0.5)
    assert [op for op, _ in fake.submits] == ["forward", "forward_backward"]


def test_a_loss_ignoring_a_datum_sends_no_backward(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    def first_only(data: list[Any], logprobs: list[Any]) -> tuple[Any, dict[str, float]]:
        return logprobs[0].sum(), {}

    with pytest.raises(ValueError, match="no gradient for the logprobs of datum 1"):
        trainer.forward_backward_custom([datum([1]), datum([2])], first_only)
    assert [op for op, _ in fake.submits] == ["forward"]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda t: t.forward_backward_custom(
                [tinker.types.Datum(model_input=tinker.types.ModelInput.from_ints([1]))],
                squared_logprobs,
            ),
            InvalidArgumentError,
            "target_tokens",
        ),
        (
            lambda t: t.forward_backward_custom([datum([1])], squared_logprobs, output="embedding"),
            NotImplementedError,
            "embedding",
        ),
        (lambda t: t.forward_backward_custom([], squared_logprobs), InvalidArgumentError, "datum"),
        (
            lambda t: t.forward_backward_custom([datum([1])], lambda d, lp: (1.0, {})),
            TypeError,
            "scalar torch tensor",
        ),
    ],
)
def test_refused_before_the_backward(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, call: Any, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        call(trainer)
    assert "forward_backward" not in [op for op, _ in fake.submits]


def test_without_torch_the_error_names_the_extra(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "torch")
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match=r"pip install 'fireworks-training\[torch\]'") as caught:
        trainer.forward_backward_custom([datum([1])], squared_logprobs)
    assert "\n" not in str(caught.value)
    assert fake.submits == []


# The custom loop reaches the built-in loss's weights ----------------------------------------

STEPS = 4


def _batch(step: int) -> list[tinker.types.Datum]:
    text = list(f"step {step}: the quick brown fox".encode())
    weights = np.linspace(0.5, 1.5, len(text) - 1, dtype=np.float32)
    return [
        tinker.types.Datum(
            model_input=tinker.types.ModelInput.from_ints(text[:-1]),
            loss_fn_inputs={"target_tokens": text[1:], "weights": weights},
        )
    ]


def weighted_nll(data: list[Any], logprobs: list[Any]) -> tuple[Any, dict[str, float]]:
    """cross_entropy written in torch: -sum(weights * logprobs)."""
    total = sum(
        -(torch.tensor(d.loss_fn_inputs["weights"].to_numpy()) * lp).sum()
        for d, lp in zip(data, logprobs, strict=True)
    )
    return total, {"nll": float(total.detach())}


def _train(emu: Any, job: str, *, custom: bool) -> list[float]:
    adam = tinker.types.AdamParams(learning_rate=0.05)
    losses = []
    with FiretitanServiceClient(emu.trainer_url(job), emu.api_key) as service:
        client = service.create_training_client("accounts/fireworks/models/tiny-bigram")
        for step in range(STEPS):
            if custom:
                out = client.forward_backward_custom(_batch(step), weighted_nll).result()
                losses.append(out.metrics["nll"])
            else:
                out = client.forward_backward(_batch(step), "cross_entropy").result()
                losses.append(out.metrics["loss:sum"])
            client.optim_step(adam).result()
    return losses


def test_a_torch_loss_reaches_the_builtin_losss_weights(tmp_path: Path) -> None:
    from fireworks_training.emulator import Emulator
    from fireworks_training.emulator.model import base_weights

    with Emulator(tmp_path / "emulator", long_poll_seconds=1.0) as emu:
        builtin = emu.create_trainer_job(job_id="builtin")
        custom = emu.create_trainer_job(job_id="custom")
        expected = _train(emu, builtin, custom=False)
        got = _train(emu, custom, custom=True)
        np.testing.assert_allclose(got, expected, rtol=1e-5)
        np.testing.assert_allclose(emu.weights(custom), emu.weights(builtin), rtol=1e-5, atol=1e-7)
        trained = np.abs(
            emu.weights(custom) - base_weights("accounts/fireworks/models/tiny-bigram")
        )
        assert trained.max() > 1e-3  # the steps moved the weights
