"""The official and tinker call forms of the training client, each with its exact wire.

tinker's class identity (every public method overridden), the ``*_async`` twins, the
``optim_step`` forms, ``forward``, ``load_adapter``/``unload_model``, what is refused in one
line before any request, idempotency keys, and a trainer job that has ended.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pytest
import tinker

from fireworks_training import client as dropin
from fireworks_training.clients.trainer import (
    FiretitanServiceClient,
    FiretitanTrainingClient,
    GradAccNormalization,
)
from fireworks_training.errors import (
    FireworksError,
    InternalServerError,
    InvalidArgumentError,
    WeightSyncError,
)
from fireworks_training.futures import TrainerFuture
from fireworks_training.retries import RetryPolicy

from .trainer_fakes import (
    KEY,
    MODEL,
    TRAINER,
    FakeTrainer,
    fake,
    lora_trainer,
    policy,
    reply,
    slept,
    trainer,
)

__all__ = ["fake", "lora_trainer", "policy", "slept", "trainer"]  # fixtures

ADAM = tinker.types.AdamParams(learning_rate=1e-3)


def datum(tokens: list[int], **extra: Any) -> tinker.types.Datum:
    inputs: dict[str, Any] = {"target_tokens": [t + 1 for t in tokens], **extra}
    return tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints(tokens), loss_fn_inputs=inputs
    )


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (FiretitanTrainingClient, tinker.TrainingClient),
        (FiretitanServiceClient, tinker.ServiceClient),
    ],
)
def test_a_tinker_subclass_that_overrides_every_public_method(ours: type, theirs: type) -> None:
    assert issubclass(ours, theirs)
    inherited = [
        name
        for name in _public(theirs)
        if inspect.getattr_static(ours, name) is inspect.getattr_static(theirs, name)
    ]
    assert inherited == []  # nothing of tinker's (which needs its private holder) runs here
    assert _public(theirs), "tinker's public surface was not found"


def test_isinstance_holds_for_the_instances(trainer: FiretitanTrainingClient) -> None:
    assert isinstance(trainer, tinker.TrainingClient)
    assert isinstance(trainer.save_state("s"), tinker.APIFuture)
    assert trainer.get_telemetry() is None
    assert trainer.run_id is None


ASYNC_CALLS = [
    ("forward_async", lambda: ([datum([1, 2])], "cross_entropy"), "forward"),
    ("forward_backward_async", lambda: ([datum([1, 2])],), "forward_backward"),
    ("optim_step_async", lambda: (ADAM,), "optim_step"),
    ("save_state_async", lambda: ("s",), "save_weights"),
    ("load_state_async", lambda: ("s",), "load_weights"),
    ("load_state_with_optimizer_async", lambda: ("s",), "load_weights"),
    ("save_weights_for_sampler_async", lambda: ("s",), "save_weights_for_sampler"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "args", "op"), ASYNC_CALLS)
async def test_async_twins_give_a_future(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, method: str, args: Any, op: str
) -> None:
    future = await getattr(trainer, method)(*args())
    assert isinstance(future, TrainerFuture)
    assert future.op == op
    result = await future.result_async(timeout=30)
    assert result is not None
    assert [o for o, _ in fake.submits] == [op]


@pytest.mark.anyio
async def test_get_info_async_and_save_state_async_keywords(
    lora_trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    info = await lora_trainer.get_info_async()
    assert (info.model_id, info.is_lora, info.lora_rank) == ("model-1", True, 16)
    future = await lora_trainer.save_state_async("s", ttl_seconds=7200)
    assert (await future).path.endswith("/s")
    assert fake.ops()[0]["ttl_seconds"] == 7200


def test_forward_request(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    out = trainer.forward([datum([1, 2])], "cross_entropy", {"clip": 0.2}).result()
    assert fake.ops() == [
        {
            "model_id": "model-1",
            "seq_id": 1,
            "forward_input": {
                "data": [
                    {
                        "model_input": {"chunks": [{"type": "encoded_text", "tokens": [1, 2]}]},
                        "loss_fn_inputs": {
                            "target_tokens": {"data": [2, 3], "dtype": "int64", "shape": [2]}
                        },
                    }
                ],
                "loss_fn": "cross_entropy",
                "loss_fn_config": {"clip": 0.2},
            },
        }
    ]
    assert out.loss_fn_outputs[0]["logprobs"].tolist() == [-0.5, -0.5]


def test_forward_backward_sends_loss_fn_config(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    trainer.forward_backward([datum([1])], "ppo", loss_fn_config={"clip_low_threshold": 0.8})
    trainer.forward_backward([datum([1])]).result()
    first, second = fake.ops()
    assert first["forward_backward_input"]["loss_fn_config"] == {"clip_low_threshold": 0.8}
    assert "loss_fn_config" not in second["forward_backward_input"]


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.optim_step(ADAM),
        lambda t: t.optim_step(adam_params=ADAM),
        lambda t: t.optim_step(optim_params=ADAM),
    ],
    ids=["positional", "adam_params", "optim_params"],
)
def test_optim_step_forms(trainer: FiretitanTrainingClient, fake: FakeTrainer, call: Any) -> None:
    call(trainer).result()
    assert fake.ops()[0]["adam_params"]["learning_rate"] == 1e-3
    assert "grad_accumulation_normalization" not in fake.ops()[0]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (GradAccNormalization.NUM_LOSS_TOKENS, "num_loss_tokens"),
        ("NUM_SEQUENCES", "num_sequences"),
        (GradAccNormalization("none"), "none"),
    ],
)
def test_grad_accumulation_normalization(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, given: Any, sent: str
) -> None:
    trainer.optim_step(ADAM, given, emit_grad_norm_metrics=True).result()
    body = fake.ops()[0]
    assert body["grad_accumulation_normalization"] == sent
    assert body["adam_params"]["emit_grad_norm_metrics"] is True


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda t: t.optim_step(), InvalidArgumentError, "needs adam_params"),
        (lambda t: t.optim_step(ADAM, optim_params=ADAM), InvalidArgumentError, "not both"),
        (lambda t: t.optim_step(ADAM, "per_token"), InvalidArgumentError, "num_loss_tokens"),
        (lambda t: t.optim_step(0.001), TypeError, "AdamParams"),
        (lambda t: t.forward([datum([1])], ""), InvalidArgumentError, "loss_fn"),
        (lambda t: t.forward([], "cross_entropy"), InvalidArgumentError, "at least one datum"),
        (
            lambda t: t.save_state("s", user_metadata={"a": "b"}),
            NotImplementedError,
            "user_metadata",
        ),
        (lambda t: t.load_state("s", "token"), NotImplementedError, "weights_access_token"),
        (
            lambda t: t.save_weights_for_sampler("s", export_precision="bf16"),
            InvalidArgumentError,
            "merged_base",
        ),
        (
            lambda t: t.save_weights_for_sampler("s", None, {"a": "b"}),
            NotImplementedError,
            "user_metadata",
        ),
        (lambda t: t.load_adapter(""), InvalidArgumentError, "adapter_path"),
        (lambda t: t.get_tokenizer(), NotImplementedError, "get_tokenizer"),
        (lambda t: t.get_console_url(), NotImplementedError, "get_console_url"),
        (lambda t: t.create_sampling_client("p"), WeightSyncError, "attach_deployment"),
        (lambda t: t.save_weights_and_get_sampling_client(), WeightSyncError, "attach_deployment"),
        (lambda t: t.save_weights_external("s"), NotImplementedError, "save_weights_external"),
        (lambda t: t.forward_backward_contrastive([]), NotImplementedError, "contrastive"),
    ],
)
def test_refused_in_one_line_before_any_request(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, call: Any, error: type, match: str
) -> None:
    with pytest.raises(error, match=match) as caught:
        call(trainer)
    assert "\n" not in str(caught.value)
    if error is NotImplementedError:  # says what to write instead
        assert "is not supported by fireworks-training: " in str(caught.value)
    assert fake.submits == []


def test_merged_base_sends_its_export_precision(
    lora_trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    lora_trainer.save_weights_for_sampler_ext("m", checkpoint_type="merged_base")
    lora_trainer.save_weights_for_sampler_ext("n", "merged_base", None, "bf16", {"k": 1})
    first, second = fake.ops()
    assert (first["checkpoint_type"], first["export_precision"]) == ("merged_base", "source")
    assert (second["export_precision"], second["metadata"]) == ("bf16", {"k": 1})


def test_save_sampler_result_is_a_dataclass(trainer: FiretitanTrainingClient) -> None:
    saved = trainer.save_weights_for_sampler_ext("step-1")
    assert dataclasses.asdict(saved) == {"path": saved.path, "snapshot_name": saved.snapshot_name}
    assert saved.snapshot_name == f"step-1-{trainer.session_id}"


def test_load_adapter_request(lora_trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    loaded = lora_trainer.load_adapter("gs://bucket/adapter").result(timeout=30)
    assert fake.ops() == [
        {"adapter_path": "gs://bucket/adapter", "model_id": "model-1", "seq_id": 1}
    ]
    assert (loaded.model_id, loaded.adapter_path) == ("model-1", "gs://bucket/adapter")


def test_unload_model_waits_for_the_ops_in_flight(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    saving = trainer.save_state("s")
    unloaded = trainer.unload_model().result(timeout=30)
    assert saving.done()
    assert unloaded.model_id == "model-1"
    assert fake.ops("unload_model") == [{"model_id": "model-1", "type": "unload_model"}]
    with pytest.raises(FireworksError, match="unloaded"):
        trainer.save_state("t")


def test_get_info_without_a_request(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    info = trainer.get_info()
    assert isinstance(info, tinker.types.GetInfoResponse)
    assert (info.model_id, info.is_lora, info.lora_rank) == ("model-1", False, None)
    assert fake.submits == []


# Idempotency keys and ended jobs ----------------------------------------------------------


def test_a_resent_submit_keeps_its_idempotency_key(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.submit_script.extend([reply(503), reply(503)])
    trainer.save_state("a").result()
    trainer.save_state("b").result()
    keys = [headers["x-idempotency-key"] for headers in fake.headers]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert re.fullmatch(r"fireworks-training-[0-9a-f-]{36}", keys[3])


@pytest.mark.parametrize("state", ["JOB_STATE_DELETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"])
def test_an_ended_job_is_not_asked_again(
    fake: FakeTrainer, policy: RetryPolicy, slept: list[float], state: str
) -> None:
    ended = {"error": {"code": 503, "message": f"trainer job 'job-abc' is {state}"}}
    fake.submit_script.append(reply(503, ended))
    with (
        FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY, retry_policy=policy) as client,
        pytest.raises(InternalServerError, match=state),
    ):
        client.save_state("a").result(timeout=30)
    assert len(fake.submits) == 1  # not resent
    fake.retrieve_script.append(reply(503, ended))
    with (
        FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY, retry_policy=policy) as client,
        pytest.raises(InternalServerError, match=state),
    ):
        client.save_state("b").result(timeout=30)
    assert len(fake.retrieves) == 1  # not polled again
    assert slept == []


def test_a_pending_job_is_asked_again(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    starting = {"error": {"code": 503, "message": "trainer job 'job-abc' is JOB_STATE_PENDING"}}
    fake.submit_script.append(reply(503, starting))
    assert trainer.save_state("a").result(timeout=30).path.endswith("/a")
    assert len(fake.submits) == 2


# The drop-in module ---------------------------------------------------------------------


def test_the_official_client_module_names() -> None:
    assert dropin.FiretitanTrainingClient is dropin.TrainingClient is FiretitanTrainingClient
    assert dropin.FiretitanServiceClient is dropin.ServiceClient is FiretitanServiceClient
    assert dropin.GradAccNormalization("num_loss_tokens") is GradAccNormalization.NUM_LOSS_TOKENS
    assert {m.value for m in dropin.GradAccNormalization} == {
        "num_loss_tokens",
        "num_sequences",
        "none",
    }
    assert dropin.GradNormMetricsMode.DETAILED == "detailed"
    assert dropin.DEFAULT_LORA_ALPHA == 32
    assert dropin.PROTOCOL_CLIENT_VERSION == "0.23.0"
    ref = dropin.make_cross_job_checkpoint_ref(source_job_id="job-a", checkpoint_name="step-4")
    assert ref == f"{dropin.CROSS_JOB_CHECKPOINT_REF_PREFIX}job-a/step-4"
    session = dropin.generate_session_id()
    assert re.fullmatch(r"[0-9a-f]{8}", session)
    assert dropin.qualify_snapshot_name(session, "step-1") == f"step-1-{session}"
    assert dataclasses.is_dataclass(dropin.SaveSamplerResult)
