"""Our client end to end on the emulator: base, full load, train, delta, incremental load.

The deployment then serves the trainer's bf16 weights bit for bit (LoRA: the adapter merged
into the base), its prompt logprobs are the reference log_softmax of those weights exactly
and the trainer's own forward pass within 1e-3; greedy sampling is deterministic and seeded
sampling repeatable.
"""

from __future__ import annotations

import numpy as np
import pytest
import tinker

from fireworks_training.demo import make_batch
from fireworks_training.emulator import Emulator
from fireworks_training.emulator.model import log_softmax

from .conftest import PROMPT, attached, greedy, model_input


def reference_logprobs(weights: np.ndarray, prompt: list[int]) -> list[float]:
    table = log_softmax(weights[np.asarray(prompt[:-1])])
    return [float(table[i, t]) for i, t in enumerate(prompt[1:])]


def greedy_tokens(weights: np.ndarray, last: int, count: int) -> list[int]:
    tokens = []
    for _ in range(count):
        last = int(np.argmax(log_softmax(weights[last])))
        tokens.append(last)
    return tokens


@pytest.mark.parametrize("lora_rank", [0, 4], ids=["full", "lora"])
def test_base_then_delta_reaches_the_deployment_bit_for_bit(emu: Emulator, lora_rank: int) -> None:
    with attached(emu, lora_rank=lora_rank) as rig:
        assert rig.current() == [None]
        base = rig.trainer.save_weights_for_sampler("step-0").result()
        first = rig.service.create_sampling_client(model_path=base.path)
        assert first.snapshot_identity == base.path
        assert rig.current() == [base.path]
        assert (rig.served_bits() == rig.expected_bits(base.path)).all()

        rig.train(3)
        saved = rig.trainer.save_weights_for_sampler("step-3").result()
        sampler = rig.trainer.create_sampling_client(saved.path)
        assert rig.current() == [saved.path]
        assert (rig.served_bits() == rig.expected_bits(saved.path)).all()  # bit for bit
        (first_signal, second_signal) = rig.signals()
        assert first_signal == {"identity": base.path, "reset_prompt_cache": True}
        if lora_rank == 0:  # a verified chain: the delta went incremental on the base
            assert second_signal["incremental_snapshot_metadata"] == {
                "previous_snapshot_identity": base.path,
                "compression_format": "arc_v2",
                "checksum_format": "alder32",
            }
            assert [kind for _, kind, _ in rig.ledger()] == ["full", "delta"]
        else:  # an adapter is always whole
            assert "incremental_snapshot_metadata" not in second_signal
            assert [kind for _, kind, _ in rig.ledger()] == ["full", "full"]

        served = rig.emu.deployment_weights(rig.deployment_id)
        scored = sampler.compute_logprobs(model_input()).result()
        assert scored[0] is None
        assert scored[1:] == reference_logprobs(served, PROMPT)  # exactly
        datum = make_batch(0)[0]
        datum = tinker.types.Datum(
            model_input=tinker.types.ModelInput.from_ints(PROMPT[:-1]),
            loss_fn_inputs={
                "target_tokens": tinker.types.TensorData(
                    data=PROMPT[1:], dtype="int64", shape=[len(PROMPT) - 1]
                )
            },
        )
        output = rig.trainer.forward_backward([datum], "cross_entropy").result()
        trained = output.loss_fn_outputs[0]["logprobs"].tolist()
        assert np.max(np.abs(np.subtract(scored[1:], trained))) < 1e-3

        once = sampler.sample(model_input(), 2, greedy()).result()
        again = sampler.sample(model_input(), 1, greedy()).result()
        expected = greedy_tokens(served, PROMPT[-1], 8)
        assert [list(s.tokens) for s in once.sequences] == [expected, expected]
        assert list(again.sequences[0].tokens) == expected
        assert list(once.sequences[0].logprobs) == [0.0] * 8  # greedy: a certain choice

        seeded = tinker.types.SamplingParams(max_tokens=12, temperature=1.0, seed=11)
        runs = [sampler.sample(model_input(), 3, seeded).result() for _ in range(2)]
        tokens = [[list(s.tokens) for s in run.sequences] for run in runs]
        assert tokens[0] == tokens[1]  # repeatable
        assert len({tuple(t) for t in tokens[0]}) > 1  # three samples, not one three times
        first.close()
        sampler.close()


def test_prompt_logprobs_ride_along_with_a_sample(emu: Emulator) -> None:
    with attached(emu) as rig:
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        sampler = rig.service.create_sampling_client(model_path=saved.path)
        response = sampler.sample(
            model_input(), 1, greedy(4), include_prompt_logprobs=True
        ).result()
        scored = sampler.compute_logprobs(model_input()).result()
        assert response.prompt_logprobs == scored
        assert len(response.sequences[0].tokens) == 4
        sampler.close()


def test_a_string_stop_is_one_stop_sequence(emu: Emulator) -> None:
    with attached(emu) as rig:
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        with rig.service.create_sampling_client(model_path=saved.path) as sampler:
            weights = rig.emu.deployment_weights(rig.deployment_id)
            path = greedy_tokens(weights, PROMPT[-1], 8)
            at = next(
                i for i, token in enumerate(path) if 32 <= token < 127 and "~" not in chr(token)
            )
            char = chr(path[at])

            def run(stop: str) -> tinker.types.SampledSequence:
                params = tinker.types.SamplingParams(max_tokens=8, temperature=0.0, stop=stop)
                (sequence,) = sampler.sample(model_input(), 1, params).result().sequences
                return sequence

            alone = run(char)
            assert (list(alone.tokens), alone.stop_reason) == (path[: at + 1], "stop")
            # Split into characters, char + "~" would stop at the same place; it never matches.
            pair = run(char + "~")
            assert (list(pair.tokens), pair.stop_reason) == (path, "length")
