"""Each trainer op's exact request JSON, its result type, and validation before any request."""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pytest
import tinker

from fireworks_training.checkpoints.types import SaveSamplerResult
from fireworks_training.clients.trainer import FiretitanTrainingClient
from fireworks_training.errors import (
    InvalidArgumentError,
    InvalidNameError,
    InvalidReferenceError,
    ProtocolError,
    RequestFailedError,
)
from fireworks_training.futures import TrainerFuture

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


def datum(tokens: list[int]) -> tinker.types.Datum:
    return tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints(tokens),
        loss_fn_inputs={
            "target_tokens": [t + 1 for t in tokens],
            "weights": np.ones(len(tokens), dtype=np.float32),
        },
    )


def test_properties(trainer: FiretitanTrainingClient) -> None:
    assert trainer.model_id == MODEL
    assert trainer.lora_rank == 0
    assert re.fullmatch(r"[0-9a-f]{8}", trainer.session_id)
    assert trainer.base_url == TRAINER


def test_session_id_is_new_per_client(fake: FakeTrainer) -> None:
    with (
        FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY) as a,
        FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY) as b,
    ):
        assert a.session_id != b.session_id


def test_save_state_request_and_result(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    future = trainer.save_state("train_state_step_100")
    assert isinstance(future, tinker.APIFuture)
    saved = future.result()
    assert isinstance(saved, tinker.types.SaveWeightsResponse)
    assert saved.path == "cross_job://job-abc/train_state_step_100"
    assert fake.ops() == [
        {
            "model_id": MODEL,
            "path": "train_state_step_100",
            "seq_id": 1,
            "overwrite": False,
            "type": "save_weights",
        }
    ]


def test_save_state_positional_ttl_and_overwrite(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    trainer.save_state("step-5", 3600, True).result()
    trainer.save_state("step-6", overwrite=False).result()
    first, second = fake.ops()
    assert (first["ttl_seconds"], first["overwrite"]) == (3600, True)
    assert ("ttl_seconds" not in second, second["overwrite"]) == (True, False)


@pytest.mark.parametrize("overwrite", [None, 1, "yes"])
def test_bad_overwrite_sends_nothing(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, overwrite: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match="overwrite"):
        trainer.save_state("s", overwrite=overwrite)
    assert fake.submits == []


def test_save_state_sends_ttl(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    trainer.save_state("step-5", ttl_seconds=3600).result()
    assert fake.ops()[0]["ttl_seconds"] == 3600


@pytest.mark.parametrize("ttl", [0, -1, 1.5, True, "60"])
def test_bad_ttl_sends_nothing(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, ttl: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match="ttl_seconds"):
        trainer.save_state("step-5", ttl_seconds=ttl)
    with pytest.raises(InvalidArgumentError, match="ttl_seconds"):
        trainer.save_weights_for_sampler("step-5", ttl_seconds=ttl)
    assert fake.submits == []


@pytest.mark.parametrize(
    "name", ["", " ", "../x", "/abs", "a/b", "gs://b/x", "a\\b", "-x", "x" * 129]
)
def test_bad_state_name_sends_nothing(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, name: str
) -> None:
    with pytest.raises(InvalidNameError):
        trainer.save_state(name)
    with pytest.raises(InvalidNameError):
        trainer.save_weights_for_sampler(name)
    assert fake.submits == []


@pytest.mark.parametrize(
    ("method", "optimizer"),
    [("load_state", False), ("load_state_with_optimizer", True)],
)
@pytest.mark.parametrize(
    "path",
    ["step-4", " train_state_step_100 ", "cross_job://job-x/step-4", f"acme/run-{'a' * 32}/s"],
)
def test_load_requests(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, method: str, optimizer: bool, path: str
) -> None:
    result = getattr(trainer, method)(path).result()
    assert isinstance(result, tinker.types.LoadWeightsResponse)
    assert result.path == path.strip()
    assert fake.ops() == [
        {
            "model_id": MODEL,
            "path": path.strip(),
            "optimizer": optimizer,
            "seq_id": 1,
            "type": "load_weights",
        }
    ]


@pytest.mark.parametrize(
    "path", ["", "/tmp/x", "gs://bucket/x", "s3://b/x", "a/../b", "a\\b", "x\x00", "cross_job://j"]
)
def test_bad_load_reference_sends_nothing(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, path: str
) -> None:
    with pytest.raises(InvalidReferenceError):
        trainer.load_state(path)
    with pytest.raises(InvalidReferenceError):
        trainer.load_state_with_optimizer(path)
    assert fake.submits == []


def test_sampler_full_param_base_then_delta(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    sid = trainer.session_id
    first = trainer.save_weights_for_sampler_ext("step-1")
    second = trainer.save_weights_for_sampler("step-2", ttl_seconds=60).result()
    third = trainer.save_weights_for_sampler("step-3", checkpoint_type="base").result()
    assert first == SaveSamplerResult(
        path=f"accounts/acme/rlorTrainerJobs/job-abc/checkpoints/step-1-{sid}",
        snapshot_name=f"step-1-{sid}",
    )
    assert isinstance(second, tinker.types.SaveWeightsForSamplerResponse)
    assert second.path.endswith(f"/step-2-{sid}")
    assert third.path.endswith(f"/step-3-{sid}")
    assert fake.ops() == [
        {
            "model_id": MODEL,
            "path": f"step-1-{sid}",
            "checkpoint_type": "base",
            "seq_id": 1,
            "type": "save_weights_for_sampler",
        },
        {
            "model_id": MODEL,
            "path": f"step-2-{sid}",
            "checkpoint_type": "delta",
            "ttl_seconds": 60,
            "seq_id": 2,
            "type": "save_weights_for_sampler",
        },
        {
            "model_id": MODEL,
            "path": f"step-3-{sid}",
            "checkpoint_type": "base",
            "seq_id": 3,
            "type": "save_weights_for_sampler",
        },
    ]


def test_sampler_delta_only_after_a_successful_save(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.retrieve_script.append(reply(body={"error": "disk full", "category": "server"}))
    with pytest.raises(RequestFailedError, match="disk full"):
        trainer.save_weights_for_sampler("a").result()
    trainer.save_weights_for_sampler("b").result()
    trainer.save_weights_for_sampler("c").result()
    assert [b["checkpoint_type"] for b in fake.ops()] == ["base", "base", "delta"]


def test_sampler_lora_always_base(lora_trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    for step in range(3):
        lora_trainer.save_weights_for_sampler_ext(f"step-{step}")
    lora_trainer.save_weights_for_sampler("merged", checkpoint_type="merged_base").result()
    assert [b["checkpoint_type"] for b in fake.ops()] == ["base", "base", "base", "merged_base"]


def test_explicit_delta_wins(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    trainer.save_weights_for_sampler("d", checkpoint_type="delta").result()
    assert fake.ops()[0]["checkpoint_type"] == "delta"


def test_bad_checkpoint_type_sends_nothing(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    with pytest.raises(ValueError, match="checkpoint_type"):
        trainer.save_weights_for_sampler("x", checkpoint_type="full")
    assert fake.submits == []


def test_reused_sampler_name_warns(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    trainer.save_weights_for_sampler("final").result()
    with pytest.warns(UserWarning, match="overwrites") as caught:
        trainer.save_weights_for_sampler("final").result()
    assert caught[0].filename == __file__
    assert len(fake.ops()) == 2


def test_forward_backward_request_and_result(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    out = trainer.forward_backward([datum([1, 2, 3]), datum([4])]).result()
    assert fake.ops() == [
        {
            "model_id": MODEL,
            "seq_id": 1,
            "forward_backward_input": {
                "loss_fn": "cross_entropy",
                "data": [
                    {
                        "model_input": {"chunks": [{"type": "encoded_text", "tokens": [1, 2, 3]}]},
                        "loss_fn_inputs": {
                            "target_tokens": {"data": [2, 3, 4], "dtype": "int64", "shape": [3]},
                            "weights": {"data": [1.0, 1.0, 1.0], "dtype": "float32", "shape": [3]},
                        },
                    },
                    {
                        "model_input": {"chunks": [{"type": "encoded_text", "tokens": [4]}]},
                        "loss_fn_inputs": {
                            "target_tokens": {"data": [5], "dtype": "int64", "shape": [1]},
                            "weights": {"data": [1.0], "dtype": "float32", "shape": [1]},
                        },
                    },
                ],
            },
        }
    ]
    assert isinstance(out, tinker.types.ForwardBackwardOutput)
    assert out.loss_fn_output_type == "ArrayRecord"
    assert out.metrics["loss:sum"] == 1.5
    assert [o["logprobs"].tolist() for o in out.loss_fn_outputs] == [[-0.5] * 3, [-0.5]]


def test_forward_backward_accepts_tensor_data_and_custom_loss(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    d = tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints([7, 8]),
        loss_fn_inputs={
            "target_tokens": tinker.types.TensorData(data=[8, 9], dtype="int64"),
            "advantages": tinker.types.TensorData.from_numpy(np.array([0.5, -1.0])),
        },
    )
    trainer.forward_backward([d], loss_fn="importance_sampling").result()
    sent = fake.ops()[0]["forward_backward_input"]
    assert sent["loss_fn"] == "importance_sampling"
    assert sent["data"][0]["loss_fn_inputs"] == {
        "target_tokens": {"data": [8, 9], "dtype": "int64", "shape": [2]},
        "advantages": {"data": [0.5, -1.0], "dtype": "float32", "shape": [2]},
    }


def test_optim_step_request_and_result(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    out = trainer.optim_step(tinker.types.AdamParams(learning_rate=1e-3)).result()
    assert isinstance(out, tinker.types.OptimStepResponse)
    assert out.metrics == {"step": 1.0}
    assert fake.ops() == [
        {
            "model_id": MODEL,
            "seq_id": 1,
            "type": "optim_step",
            "adam_params": {
                "learning_rate": 1e-3,
                "beta1": 0.9,
                "beta2": 0.95,
                "eps": 1e-12,
                "weight_decay": 0.0,
                "grad_clip_norm": 0.0,
            },
        }
    ]


def test_optim_step_sends_every_adam_field(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    params = tinker.types.AdamParams(learning_rate=1e-3, weight_decay=0.01)
    trainer.optim_step(params).result()
    assert fake.ops()[0]["adam_params"]["weight_decay"] == 0.01
    assert fake.ops()[0]["adam_params"]["grad_clip_norm"] == 0.0


def test_seq_ids_count_ops_and_skip_rejected_calls(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    futures: list[TrainerFuture[Any]] = [
        trainer.optim_step(tinker.types.AdamParams()),
        trainer.save_state("a"),
    ]
    with pytest.raises(InvalidNameError):
        trainer.save_state("../bad")
    futures.append(trainer.load_state("a"))
    for future in reversed(futures):  # results in any order
        future.result()
    assert [b["seq_id"] for b in fake.ops()] == [1, 2, 3]
    assert [f.seq_id for f in futures] == [1, 2, 3]


def test_list_checkpoints(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    assert trainer.list_checkpoints() == ["step-2", "step-4"]


def test_list_checkpoints_failure_raises(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    from fireworks_training.errors import PermissionDeniedError

    fake.submit_script.append(reply(403, {"error": {"code": 403, "message": "no access"}}))
    with pytest.raises(PermissionDeniedError, match=r"403 GET .*/api/v1/list_checkpoints"):
        trainer.list_checkpoints()


@pytest.mark.parametrize(
    "answer",
    [{}, {"checkpoints": None}, {"checkpoints": "step-2"}, {"checkpoints": {"step-2": {}}}],
)
def test_malformed_list_checkpoints_answer_raises(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, answer: dict[str, Any]
) -> None:
    fake.checkpoints = answer
    with pytest.raises(RequestFailedError, match="no checkpoints list") as caught:
        trainer.list_checkpoints()
    assert caught.value.category == "server"


def test_list_checkpoints_answer_that_is_not_an_object_raises(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.checkpoints = ["step-2"]
    with pytest.raises(ProtocolError, match="not a JSON object"):
        trainer.list_checkpoints()


def test_list_checkpoints_accepts_name_objects(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    fake.checkpoints = {"checkpoints": ["a", {"name": "b"}, {"checkpoint_id": "c"}]}
    assert trainer.list_checkpoints() == ["a", "b", "c"]


@pytest.mark.parametrize("bad", [None, 7, "", {"name": ""}, {"path": "x"}, {"name": 3}, ["x"]])
def test_list_checkpoints_entry_that_is_not_a_name_raises(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, bad: Any
) -> None:
    fake.checkpoints = {"checkpoints": ["step-2", bad, "step-4"]}
    with pytest.raises(RequestFailedError, match="entry 1 is not a checkpoint name") as caught:
        trainer.list_checkpoints()
    assert caught.value.category == "server"


def test_list_checkpoints_retries_transient(
    trainer: FiretitanTrainingClient, fake: FakeTrainer, slept: list[float]
) -> None:
    fake.submit_script.extend([reply(503), reply(429, {}, **{"Retry-After": "2"})])
    assert trainer.list_checkpoints() == ["step-2", "step-4"]
    assert len(slept) == 2
    assert slept[1] == 2.0


def test_resolve_checkpoint_path(trainer: FiretitanTrainingClient, fake: FakeTrainer) -> None:
    assert trainer.resolve_checkpoint_path(" step-4 ") == "step-4"
    assert trainer.resolve_checkpoint_path("step-4", "prev-job") == "cross_job://prev-job/step-4"
    with pytest.raises(InvalidNameError):
        trainer.resolve_checkpoint_path("a/b")
    with pytest.raises(InvalidReferenceError):
        trainer.resolve_checkpoint_path("step-4", "bad/job")
    assert fake.submits == []


def test_auth_header_and_env_key(
    fake: FakeTrainer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    with FiretitanTrainingClient(TRAINER, MODEL) as client:
        client.save_state("s").result()
        text = repr(client)
    assert fake.headers[0]["x-api-key"] == KEY
    assert KEY not in text
    assert KEY not in caplog.text


def test_missing_key_is_an_error(fake: FakeTrainer) -> None:
    with pytest.raises(InvalidArgumentError, match="FIREWORKS_API_KEY"):
        FiretitanTrainingClient(TRAINER, MODEL)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "", "model_id": MODEL}, "base_url"),
        ({"base_url": "ftp://x", "model_id": MODEL}, "base_url"),
        ({"base_url": TRAINER, "model_id": ""}, "model_id"),
        ({"base_url": TRAINER, "model_id": MODEL, "lora_rank": -1}, "lora_rank"),
    ],
)
def test_bad_constructor_arguments(fake: FakeTrainer, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        FiretitanTrainingClient(api_key=KEY, **kwargs)


def test_empty_forward_backward_sends_nothing(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    with pytest.raises(InvalidArgumentError, match="at least one datum"):
        trainer.forward_backward([])
    assert fake.submits == []


def test_max_retries_sets_the_retry_policy(fake: FakeTrainer) -> None:
    with FiretitanTrainingClient(TRAINER, MODEL, api_key=KEY, max_retries=1) as client:
        assert client._conn.api._retry.max_retries == 1  # submits and reads alike


def test_unsendable_data_fails_alone_and_leaves_the_client_usable(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot be sent as JSON"):
        trainer.optim_step(tinker.types.AdamParams(learning_rate=float("nan")))
    assert fake.submits == []
    assert trainer.save_state("step-1").result(timeout=10)
    assert [body["seq_id"] for _, body in fake.submits] == [1]


def test_a_sampler_save_refused_before_sending_is_no_deltas_base(
    trainer: FiretitanTrainingClient, fake: FakeTrainer
) -> None:
    sid = trainer.session_id
    trainer.save_weights_for_sampler("a").result(timeout=10)  # a base, sent and saved
    with pytest.raises(InvalidArgumentError):
        trainer.save_weights_for_sampler("b", ttl_seconds=-1, checkpoint_type="base")
    trainer.save_weights_for_sampler("c").result(timeout=10)  # the trainer XORs it on a
    assert [b["path"] for b in fake.ops("save_weights_for_sampler")] == [f"a-{sid}", f"c-{sid}"]
    delta = trainer._sampler_snapshot_log().find(f"c-{sid}")
    assert delta is not None
    assert (delta.is_delta, delta.reference) == (True, f"a-{sid}")
