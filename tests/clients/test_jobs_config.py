"""TrainerJobConfig: the official fields, order and defaults, its checks, and its create request.

The expected requests are what the official client sends for the same config (docs/protocol.md
§1.5); ``tests/compat/test_jobs_wire.py`` records both clients on the emulator to hold us to it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from datetime import timedelta
from typing import Any

import pytest

from fireworks_training.clients._job_config import (
    MANAGED_JOB_FIELDS,
    DocumentedDefault,
    create_job_request,
)
from fireworks_training.clients.jobs import TrainerJobConfig
from fireworks_training.errors import InvalidArgumentError

BASE_MODEL = "accounts/fireworks/models/qwen3-8b"
SHAPE = "accounts/fireworks/trainingShapes/ts-qwen3-8b"
OFFICIAL_FIELDS = [
    "base_model",
    "lora_rank",
    "projection_head_dim",
    "max_context_length",
    "learning_rate",
    "gradient_accumulation_steps",
    "node_count",
    "trainer_replica_count",
    "display_name",
    "hot_load_deployment_id",
    "region",
    "custom_image_tag",
    "extra_args",
    "extra_values",
    "accelerator_type",
    "accelerator_count",
    "training_shape_ref",
    "forward_only",
    "auto_select_training_shape",
    "inactivity_timeout",
    "disable_inactivity_cleanup",
    "skip_validations",
    "purpose",
    "preemptible",
    "managed_by",
    "requested_job_id",
    "use_reservation",
    "reservation_target",
]


def wire(config: TrainerJobConfig, account: str = "acme") -> tuple[list[tuple[str, str]], Any]:
    request = create_job_request(account, "job-1", config)
    assert request.method == "POST"
    assert request.path == f"/v1/accounts/{account}/rlorTrainerJobs"
    params = [(k, str(v)) for k, v in (request.params or {}).items()]
    return params, json.loads(json.dumps(request.json))


def test_fields_in_the_official_order_with_the_documented_defaults() -> None:
    assert [f.name for f in dataclasses.fields(TrainerJobConfig)] == OFFICIAL_FIELDS
    config = TrainerJobConfig(BASE_MODEL)
    assert (config.lora_rank, config.learning_rate) == (0, 1e-5)
    assert (config.max_context_length, config.node_count) == (4096, 1)
    assert config.gradient_accumulation_steps == 1
    assert (config.use_reservation, config.forward_only, config.skip_validations) == (
        True,
        False,
        False,
    )
    assert "max_context_length=4096" in repr(config)


def test_positional_construction_and_mutation() -> None:
    config = TrainerJobConfig(BASE_MODEL, 16, None, 8192, 2e-5)
    assert (config.lora_rank, config.max_context_length, config.learning_rate) == (16, 8192, 2e-5)
    config.training_shape_ref = SHAPE  # cookbook code sets fields after construction
    config.node_count = None
    config.purpose = "PURPOSE_PILOT"
    config.validate()
    assert dataclasses.asdict(config)["training_shape_ref"] == SHAPE
    assert copy.deepcopy(config) == config
    assert pickle.loads(pickle.dumps(config)) == config


def test_manual_path_sends_what_the_official_client_sends() -> None:
    params, body = wire(TrainerJobConfig(BASE_MODEL))
    assert params == [("skipValidations", "true"), ("rlorTrainerJobId", "job-1")]
    assert body == {
        "serviceMode": True,
        "keepAlive": False,
        "dataset": "",
        "trainingConfig": {"baseModel": BASE_MODEL, "loraRank": 0, "learningRate": 1e-5},
        "useReservation": True,
        "nodeCount": 1,
    }


def test_documented_defaults_are_not_sent_but_values_you_set_are() -> None:
    _, body = wire(TrainerJobConfig(BASE_MODEL, max_context_length=4096, node_count=1))
    assert body["trainingConfig"]["maxContextLength"] == 4096
    assert body["nodeCount"] == 1
    assert isinstance(TrainerJobConfig(BASE_MODEL).max_context_length, DocumentedDefault)
    assert not isinstance(
        TrainerJobConfig(BASE_MODEL, max_context_length=4096).max_context_length, DocumentedDefault
    )


def test_every_manual_field() -> None:
    with pytest.warns(DeprecationWarning, match="hot_load_deployment_id"):
        config = TrainerJobConfig(
            BASE_MODEL,
            lora_rank=8,
            projection_head_dim=64,
            max_context_length=8192,
            learning_rate=3e-5,
            node_count=2,
            trainer_replica_count=2,
            display_name="run 1",
            hot_load_deployment_id="dep-1",
            region="US_VIRGINIA_1",
            custom_image_tag="v1.2",
            extra_args=["--a 1", "--b"],
            extra_values={"k": "v"},
            accelerator_type="NVIDIA_H200_141GB",
            accelerator_count=8,
            forward_only=True,
            inactivity_timeout=timedelta(minutes=30),
            purpose="PURPOSE_X",
            preemptible=True,
            managed_by="me",
            reservation_target="accounts/acme/reservations/r",
        )
    params, body = wire(config)
    assert params == [
        ("deploymentId", "dep-1"),
        ("skipValidations", "true"),
        ("rlorTrainerJobId", "job-1"),
    ]
    assert body == {
        "serviceMode": True,
        "keepAlive": False,
        "dataset": "",
        "trainingConfig": {
            "baseModel": BASE_MODEL,
            "loraRank": 8,
            "learningRate": 3e-5,
            "projectionHeadDim": 64,
            "maxContextLength": 8192,
            "customImageTag": "v1.2",
            "acceleratorType": "NVIDIA_H200_141GB",
            "acceleratorCount": 8,
            "region": "US_VIRGINIA_1",
            "extraArgs": ["--a", "1", "--b"],
        },
        "trainerReplicaCount": 2,
        "useReservation": False,
        "reservationTarget": "accounts/acme/reservations/r",
        "nodeCount": 2,
        "displayName": "run 1",
        "hotLoadDeploymentId": "dep-1",
        "extraValues": {"k": "v"},
        "forwardOnly": True,
        "purpose": "PURPOSE_X",
        "preemptible": True,
        "managedBy": "me",
        "inactivityTimeout": "1800s",
    }


def test_shape_path_leaves_infrastructure_to_the_shape() -> None:
    config = TrainerJobConfig(BASE_MODEL, training_shape_ref=SHAPE, max_context_length=8192)
    params, body = wire(config)
    assert params == [("trainingShape", SHAPE), ("rlorTrainerJobId", "job-1")]
    assert "nodeCount" not in body
    assert "maxContextLength" not in body["trainingConfig"]
    config.skip_validations = True
    params, _ = wire(config)
    assert params == [
        ("trainingShape", SHAPE),
        ("skipValidations", "true"),
        ("rlorTrainerJobId", "job-1"),
    ]


def test_auto_shape_path_sends_selector_fields_only() -> None:
    config = TrainerJobConfig(
        BASE_MODEL, auto_select_training_shape=True, max_context_length=16384, region="EU_1"
    )
    params, body = wire(config)
    assert params == [("rlorTrainerJobId", "job-1")]
    assert "nodeCount" not in body
    assert body["trainingConfig"]["maxContextLength"] == 16384
    assert body["trainingConfig"]["region"] == "EU_1"


@pytest.mark.parametrize("field", ["accelerator_type", "accelerator_count", "node_count"])
@pytest.mark.parametrize(
    "path", [{"training_shape_ref": SHAPE}, {"auto_select_training_shape": True}]
)
def test_shape_owned_fields_are_refused_on_a_shape_path(field: str, path: dict[str, Any]) -> None:
    value = "NVIDIA_H100_80GB" if field == "accelerator_type" else 2
    config = TrainerJobConfig(BASE_MODEL, **path, **{field: value})  # checked at create time
    with pytest.raises(InvalidArgumentError, match=f"{field} is the training shape's"):
        config.validate()
    setattr(config, field, None)
    config.validate()


def test_inactivity_timeout_forms() -> None:
    assert (
        wire(TrainerJobConfig(BASE_MODEL, inactivity_timeout="900s"))[1]["inactivityTimeout"]
        == "900s"
    )
    assert (
        wire(TrainerJobConfig(BASE_MODEL, inactivity_timeout=timedelta(seconds=1.5)))[1][
            "inactivityTimeout"
        ]
        == "1.5s"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_model": ""}, "base_model: must be a non-empty string"),
        ({"base_model": " padded"}, "base_model: must be printable"),
        ({"base_model": "two words"}, "base_model: must not contain whitespace"),
        ({"lora_rank": -1}, "lora_rank: must be an integer >= 0"),
        ({"lora_rank": True}, "lora_rank: must be an integer >= 0"),
        ({"learning_rate": 0}, "learning_rate: must be finite and > 0"),
        ({"learning_rate": float("inf")}, "learning_rate: must be finite and > 0"),
        ({"learning_rate": "1e-5"}, "learning_rate: must be a number"),
        ({"max_context_length": 0}, "max_context_length: must be an integer >= 1"),
        ({"node_count": -2}, "node_count: must be an integer >= 1"),
        ({"display_name": "tab\there"}, "display_name: must be printable"),
        ({"display_name": "x" * 64}, "display_name: must be at most 63 characters"),
        ({"gradient_accumulation_steps": 4}, "gradient_accumulation_steps: only 1"),
        ({"training_shape_ref": "ts-qwen3-8b"}, "training_shape_ref: must be a full name"),
        ({"inactivity_timeout": "30m"}, "inactivity_timeout: must be a timedelta or a string"),
        ({"inactivity_timeout": timedelta(hours=4)}, "inactivity_timeout: must be at most 3 h"),
        ({"inactivity_timeout": timedelta(seconds=-1)}, "inactivity_timeout: must not be neg"),
        ({"extra_args": "--flag"}, "extra_args: must be a list of strings"),
        ({"extra_values": {"k": 1}}, "extra_values: must map strings to strings"),
        ({"requested_job_id": "a/b"}, "requested_job_id: invalid trainer job id"),
        ({"forward_only": "yes"}, "forward_only: must be True or False"),
        (
            {"training_shape_ref": SHAPE, "auto_select_training_shape": True},
            "exclude each other",
        ),
    ],
)
def test_bad_values_are_one_line_errors(kwargs: dict[str, Any], message: str) -> None:
    arguments = {"base_model": BASE_MODEL, **kwargs}
    with pytest.raises(InvalidArgumentError, match="invalid TrainerJobConfig") as info:
        TrainerJobConfig(**arguments).validate()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_every_problem_in_one_error() -> None:
    config = TrainerJobConfig(BASE_MODEL)
    config.lora_rank = -1
    config.learning_rate = -1.0
    with pytest.raises(InvalidArgumentError) as info:
        config.validate()
    assert "lora_rank" in str(info.value)
    assert "learning_rate" in str(info.value)


def test_managed_job_fields_are_ignored_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="TrainerJobConfig ignores batch_size, epochs"):
        config = TrainerJobConfig(BASE_MODEL, epochs=3, batch_size=64)  # type: ignore[call-arg]
    assert not hasattr(config, "epochs")
    _, body = wire(config)
    assert "epochs" not in json.dumps(body)
    assert {"epochs", "batch_size"} <= MANAGED_JOB_FIELDS


def test_an_unknown_field_is_still_a_type_error() -> None:
    with pytest.raises(TypeError, match="lora_rnk"):
        TrainerJobConfig(BASE_MODEL, lora_rnk=8)  # type: ignore[call-arg]


def test_gradient_accumulation_of_one_is_ignored_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="gradient_accumulation_steps=1"):
        config = TrainerJobConfig(BASE_MODEL, gradient_accumulation_steps=1)
    _, body = wire(config)
    assert "gradientAccumulationSteps" not in json.dumps(body)
