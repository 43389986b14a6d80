"""FiretitanServiceClient in the official and tinker call forms, each with its exact wire.

Constructor forms, ``create_lora_training_client`` and the LoRA config, base-only reference
clients, clients made from a state checkpoint, and the control plane reached through it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tinker

from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.errors import FireworksError, InvalidArgumentError, WeightSyncError
from fireworks_training.retries import RetryPolicy

from .trainer_fakes import GATEWAY, KEY, MODEL, TRAINER, FakeTrainer, fake, policy, reply, slept

__all__ = ["fake", "policy", "slept"]  # fixtures

BASE = "accounts/fireworks/models/qwen3-8b"
JOB_URL = f"{GATEWAY}/v1/accounts/acme/rlorTrainerJobs/job-abc"


def make(policy: RetryPolicy, *args: Any, **kwargs: Any) -> FiretitanServiceClient:
    kwargs.setdefault("api_key", KEY)
    return FiretitanServiceClient(*args, retry_policy=policy, heartbeat_interval_s=None, **kwargs)


@pytest.fixture
def service(fake: FakeTrainer, policy: RetryPolicy) -> Iterator[FiretitanServiceClient]:
    with make(policy, base_url=TRAINER) as client:
        yield client


def test_keyword_form_and_default_headers(fake: FakeTrainer, policy: RetryPolicy) -> None:
    with make(policy, base_url=TRAINER, default_headers={"X-Team": "rl"}) as service:
        service.create_training_client(BASE)
    assert all(h["x-team"] == "rl" for h in fake.headers)
    assert fake.sessions[0]["user_metadata"] == {}


def test_a_dict_first_is_user_metadata(
    fake: FakeTrainer, policy: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_BASE_URL", TRAINER)
    monkeypatch.setenv("TINKER_TAGS", "rl,rl,exp")
    with make(policy, {"recipe": "sft"}) as service:
        client = service.create_training_client(BASE)
        service.create_training_client(BASE, user_metadata={"run": "2"})
    assert client.base_url == TRAINER
    assert fake.sessions == [
        {
            "tags": ["rl", "exp"],
            "user_metadata": {"recipe": "sft"},
            "sdk_version": "0.23.0",
            "type": "create_session",
        }
    ]
    metadata = [body["user_metadata"] for body in fake.ops("create_model")]
    assert metadata == [{"recipe": "sft"}, {"run": "2"}]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"project_id": "p"}, NotImplementedError, "project_id"),
        ({"display_name": "x"}, NotImplementedError, "display_name"),
        ({"managed_config": object()}, NotImplementedError, "managed provisioning"),
        ({"http_client": object()}, TypeError, "http_client"),
        ({"base_url": f"{GATEWAY}/training/v1/serverless"}, NotImplementedError, "serverless"),
        ({"base_url": None}, InvalidArgumentError, "TINKER_BASE_URL"),
        ({"base_url": {"a": "b"}, "user_metadata": {"c": "d"}}, InvalidArgumentError, "twice"),
        ({"user_metadata": {"a": object()}}, InvalidArgumentError, "user_metadata"),
    ],
)
def test_refused_constructor_forms(
    fake: FakeTrainer,
    policy: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    error: type,
    match: str,
) -> None:
    monkeypatch.delenv("TINKER_BASE_URL", raising=False)
    kwargs.setdefault("base_url", TRAINER)
    with pytest.raises(error, match=match) as caught:
        make(policy, **kwargs)
    assert "\n" not in str(caught.value)
    if error is NotImplementedError:  # says what to write instead
        assert "is not supported by fireworks-training: " in str(caught.value)
    assert fake.sessions == []


def test_from_firetitan_config_is_refused() -> None:
    with pytest.raises(NotImplementedError, match="from_firetitan_config"):
        FiretitanServiceClient.from_firetitan_config(api_key=KEY, base_model=BASE)


def test_lora_training_client_defaults(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    client = service.create_lora_training_client(BASE)
    service.create_lora_training_client(
        BASE, rank=8, seed=3, train_mlp=False, alpha=None, init_method="nora"
    )
    service.create_training_client(BASE, lora_rank=4, lora_alpha=16)
    service.create_training_client(BASE, 0, lora_alpha=64, lora_init_method="nora")
    assert client.lora_rank == 32
    configs = [body["lora_config"] for body in fake.ops("create_model")]
    flags = {"train_unembed": True, "train_mlp": True, "train_attn": True}
    assert configs == [
        {"alpha": 32, "rank": 32, **flags},
        {"init_method": "nora", "rank": 8, "seed": 3, **flags, "train_mlp": False},
        {"alpha": 16, "rank": 4, **flags},
        {"rank": 0, **flags},  # full-parameter: no alpha, no init method
    ]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.create_training_client(None), "base_model"),
        (lambda s: s.create_training_client(BASE, lora_rank=4, lora_alpha=0), "lora_alpha"),
        (lambda s: s.create_training_client(BASE, lora_rank=4, lora_alpha="32"), "lora_alpha"),
        (lambda s: s.create_training_client(BASE, train_mlp=1), "train_mlp"),
        (lambda s: s.create_training_client(BASE, projection_head_dim=-1), "projection_head"),
        (lambda s: s.create_reference_client(), "base_model= or policy_client="),
    ],
)
def test_bad_model_arguments_send_nothing(
    service: FiretitanServiceClient, fake: FakeTrainer, call: Any, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        call(service)
    assert fake.sessions == []


def test_optimizer_configs_are_refused(service: FiretitanServiceClient) -> None:
    with pytest.raises(NotImplementedError, match="optimizer"):
        service.create_lora_training_client(BASE, optimizer=object())


@pytest.mark.anyio
async def test_async_factory(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    client = await service.create_lora_training_client_async(BASE, rank=4, user_metadata={"a": "b"})
    assert (client.lora_rank, client.base_model) == (4, BASE)
    assert fake.ops("create_model")[0]["user_metadata"] == {"a": "b"}


def test_base_only_reference_client(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    policy_client = service.create_training_client(BASE, lora_rank=16)
    reference = service.create_reference_client(policy_client=policy_client)
    assert reference.base_model == BASE
    base_only = fake.ops("create_model")[1]
    assert base_only == {
        "session_id": "sess-1",
        "model_seq_id": 1,
        "base_model": BASE,
        "type": "create_model",
        "base_only": True,
    }


# From a state checkpoint ----------------------------------------------------------------


def _job_route(fake: FakeTrainer, rank: int = 16) -> Any:
    job = {
        "name": "accounts/acme/rlorTrainerJobs/job-abc",
        "state": "JOB_STATE_RUNNING",
        "trainingConfig": {"baseModel": BASE, "loraRank": rank},
    }
    return fake.router.get(JOB_URL).mock(return_value=reply(body=job))


@pytest.mark.parametrize("optimizer", [False, True])
def test_from_state_uses_the_jobs_base_model(
    service: FiretitanServiceClient, fake: FakeTrainer, optimizer: bool
) -> None:
    route = _job_route(fake)
    method = (
        service.create_training_client_from_state_with_optimizer
        if optimizer
        else service.create_training_client_from_state
    )
    client = method("cross_job://job-old/step-4", user_metadata={"resume": "yes"})
    assert route.call_count == 1
    assert route.calls[0].request.headers["x-api-key"] == KEY
    assert (client.base_model, client.lora_rank) == (BASE, 16)
    (created,) = fake.ops("create_model")
    assert created["base_model"] == BASE
    assert created["lora_config"]["rank"] == 16
    assert created["user_metadata"] == {"resume": "yes"}
    assert fake.ops("load_weights") == [
        {
            "model_id": MODEL,
            "path": "cross_job://job-old/step-4",
            "optimizer": optimizer,
            "seq_id": 1,
            "type": "load_weights",
        }
    ]


def test_from_state_with_the_model_given_reads_no_job(
    service: FiretitanServiceClient, fake: FakeTrainer
) -> None:
    route = _job_route(fake)
    client = service.create_training_client_from_state("step-4", base_model=BASE, lora_rank=0)
    assert route.call_count == 0
    assert client.lora_rank == 0


@pytest.mark.anyio
async def test_from_state_async(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    _job_route(fake, rank=0)
    client = await service.create_training_client_from_state_with_optimizer_async("step-4")
    assert client.lora_rank == 0
    assert fake.ops("load_weights")[0]["optimizer"] is True


def test_from_state_refusals(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    with pytest.raises(NotImplementedError, match="weights_access_token"):
        service.create_training_client_from_state("step-4", None, "token")
    with pytest.raises(InvalidArgumentError, match="base_model= as a keyword"):
        service.create_training_client_from_state("step-4", BASE)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="tinker://"):
        service.create_training_client_from_state("tinker://run/weights/step-4")
    assert fake.submits == []


def test_from_state_without_a_job_in_the_url(fake: FakeTrainer, policy: RetryPolicy) -> None:
    with (
        make(policy, "https://trainer.test") as service,
        pytest.raises(InvalidArgumentError, match="pass base_model="),
    ):
        service.create_training_client_from_state("step-4")


def test_a_failed_load_closes_the_new_client(
    service: FiretitanServiceClient, fake: FakeTrainer
) -> None:
    _job_route(fake)
    failed = {"error": "checkpoint 'step-9' not found", "category": "user"}
    fake.retrieve_script.extend([None, reply(body=failed)])
    with pytest.raises(Exception, match="step-9"):
        service.create_training_client_from_state("step-9")
    assert service._clients == []


# The control plane through the service client --------------------------------------------


def test_list_and_promote_go_to_the_gateways_control_plane(
    service: FiretitanServiceClient, fake: FakeTrainer
) -> None:
    row = {
        "name": "accounts/acme/rlorTrainerJobs/job-abc/checkpoints/step-5-0a1b2c3d",
        "createTime": "2025-01-01T00:00:00Z",
        "checkpointType": "CHECKPOINT_TYPE_INFERENCE_BASE",
        "promotable": True,
    }
    listed = fake.router.get(f"{JOB_URL}/checkpoints").mock(
        return_value=reply(body={"checkpoints": [row]})
    )
    model = {"name": "accounts/acme/models/m", "state": "READY", "kind": "HF_BASE_MODEL"}
    promoted = fake.router.post(
        f"{GATEWAY}/v1/accounts/acme/checkpoints/step-5-0a1b2c3d:promote"
    ).mock(return_value=reply(body={"model": model}))
    got = fake.router.get(f"{GATEWAY}/v1/accounts/acme/models/m").mock(
        return_value=reply(body=model)
    )
    assert service.trainer_job_id == "job-abc"
    assert service.control_plane_url == GATEWAY
    rows = service.list_checkpoints(service.trainer_job_id)
    assert [r["name"] for r in rows] == [row["name"]]
    assert listed.calls[0].request.url.params["pageSize"] == "200"
    result = service.promote_checkpoint(
        name=row["name"], output_model_id="m", base_model=BASE, hot_load_deployment_id=None
    )
    assert result["name"] == "accounts/acme/models/m"
    body = json.loads(promoted.calls[0].request.content)
    assert body["trainer_job_id"] == "accounts/acme/rlorTrainerJobs/job-abc"
    assert service.get_model("m")["state"] == "READY"
    assert got.call_count == 1
    # The account came from the trainer URL: no account lookup.
    assert not any(c.request.url.path == "/v1/accounts" for c in fake.router.calls)


def test_control_plane_url_can_be_given(fake: FakeTrainer, policy: RetryPolicy) -> None:
    with make(policy, TRAINER, control_plane_url="https://cp.test/") as service:
        assert service.control_plane_url == "https://cp.test"
    with make(policy, "https://trainer.test") as service:
        assert service.control_plane_url == "https://api.fireworks.ai"
        with pytest.raises(FireworksError, match="names no trainer job"):
            _ = service.trainer_job_id


def test_server_capabilities(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    fake.router.get(f"{TRAINER}/api/v1/get_server_capabilities").mock(
        return_value=reply(body={"supported_models": [{"model_name": BASE}]})
    )
    capabilities = service.get_server_capabilities()
    assert isinstance(capabilities, tinker.types.GetServerCapabilitiesResponse)
    assert capabilities.supported_models[0].model_name == BASE


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.create_rest_client(), "create_rest_client"),
        (lambda s: s.copy_weights("p"), "copy_weights"),
        (lambda s: s.create_custom_loss(None, {}), "create_custom_loss"),
        (lambda s: s.get_console_url(), "get_console_url"),
    ],
)
def test_service_refusals(service: FiretitanServiceClient, call: Any, match: str) -> None:
    with pytest.raises(NotImplementedError, match=match) as caught:
        call(service)
    message = str(caught.value)
    assert "\n" not in message
    assert "is not supported by fireworks-training: " in message  # and what to write instead


def test_sampling_needs_an_attached_deployment(service: FiretitanServiceClient) -> None:
    with pytest.raises(WeightSyncError, match="attach_deployment"):
        service.create_sampling_client(model_path="p")


def test_close_is_idempotent_and_takes_tinkers_status(
    service: FiretitanServiceClient, fake: FakeTrainer
) -> None:
    client = service.create_training_client(BASE)
    assert service.get_telemetry() is None
    assert getattr(service, "holder", None) is None
    service.close("success")
    service.close()
    with pytest.raises(FireworksError, match="closed"):
        client.save_state("s")
    with pytest.raises(FireworksError, match="closed"):
        service.list_checkpoints("job-abc")
    assert isinstance(service, tinker.ServiceClient)
    assert httpx.URL(service.base_url).host == "gw.test"
