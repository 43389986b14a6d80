"""FireworksClient on the official surface: constructor, verify_ssl, account_id, _get, rows as
dicts, training shapes, model details, and the checkpoints of sessions and SFT/DPO jobs."""

from __future__ import annotations

import gc
import json
import ssl
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.checkpoints.types import Checkpoint, CheckpointRow, Model
from fireworks_training.clients._profiles import ModelDetailsUnavailableError, TrainingShapeProfile
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.errors import (
    APIConnectionError,
    InvalidArgumentError,
    InvalidModelIdError,
    ProtocolError,
)

from .conftest import ACCOUNT, BASE, BASE_MODEL, JOB, KEY, AnyClient, call, model, row

pytestmark = pytest.mark.anyio

LIST_PATH = f"/v1/accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints"
SHAPE = "accounts/fireworks/trainingShapes/ts-qwen3-8b"
SESSION = f"accounts/{ACCOUNT}/trainingSessions/sess-1"
SFT = f"accounts/{ACCOUNT}/supervisedFineTuningJobs/sft-1"


def accounts_reply() -> httpx.Response:
    return httpx.Response(200, json={"accounts": [{"name": f"accounts/{ACCOUNT}"}]})


# Constructor ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
async def test_official_positional_order(cls: type[AnyClient], router: respx.MockRouter) -> None:
    made = cls(KEY, BASE, {"X-Extra": "1"}, None, account_id=ACCOUNT)
    route = router.get(f"/v1/accounts/{ACCOUNT}/models/m").respond(json=model("m"))
    await call(made.get_model("m"))
    assert route.calls.last.request.headers["X-Extra"] == "1"
    assert route.calls.last.request.headers["X-Api-Key"] == KEY
    await call(made.close())


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
@pytest.mark.parametrize("verify_ssl", [None, True])
async def test_verify_ssl_none_or_true_verifies(cls: type[AnyClient], verify_ssl: Any) -> None:
    # Different by design: the official client does not verify http:// or IP-literal hosts
    # when verify_ssl is None; here every https URL is verified unless told otherwise.
    made = cls(KEY, "https://10.0.0.1", verify_ssl=verify_ssl)
    pool = made._http._transport._pool  # type: ignore[union-attr]
    assert pool._ssl_context.verify_mode == ssl.CERT_REQUIRED
    await call(made.close())


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
async def test_verify_ssl_false_is_never_silent(cls: type[AnyClient]) -> None:
    with pytest.warns(UserWarning, match="TLS certificates are not verified") as caught:
        made = cls(KEY, BASE, verify_ssl=False)
    assert caught[0].filename == __file__  # the warning names the caller's line
    pool = made._http._transport._pool  # type: ignore[union-attr]
    assert pool._ssl_context.verify_mode == ssl.CERT_NONE
    await call(made.close())


def test_verify_ssl_false_with_a_callers_client_is_refused() -> None:
    with (
        httpx.Client() as http,
        pytest.raises(InvalidArgumentError, match=r"httpx.Client\(verify=False\)"),
    ):
        FireworksClient(KEY, BASE, verify_ssl=False, http_client=http)
    with pytest.raises(InvalidArgumentError, match="verify_ssl must be True, False or None"):
        FireworksClient(KEY, BASE, verify_ssl="no")  # type: ignore[arg-type]


# account_id -------------------------------------------------------------------------------


def test_sync_account_id_resolves_on_first_access_once(router: respx.MockRouter) -> None:
    accounts = router.get("/v1/accounts").mock(return_value=accounts_reply())
    with FireworksClient(api_key=KEY, base_url=BASE) as client:
        assert accounts.call_count == 0  # no request at construction
        assert f"accounts/{client.account_id}/models/x" == f"accounts/{ACCOUNT}/models/x"
        assert client.account_id == ACCOUNT
    assert accounts.call_count == 1


def test_assigning_the_private_account_overrides_resolution(router: respx.MockRouter) -> None:
    accounts = router.get("/v1/accounts").mock(return_value=accounts_reply())
    route = router.get("/v1/accounts/shapes-acct/rlorTrainerJobs/j/checkpoints").respond(
        json={"checkpoints": []}
    )
    with FireworksClient(api_key=KEY, base_url=BASE) as client:
        client._account_id = "shapes-acct"  # what cookbook code writes
        assert client.account_id == "shapes-acct"
        assert client.list_checkpoints("j") == []
    assert (accounts.call_count, route.call_count) == (0, 1)


async def test_async_account_id_is_known_or_none(router: respx.MockRouter) -> None:
    router.get("/v1/accounts").mock(return_value=accounts_reply())
    async with AsyncFireworksClient(api_key=KEY, base_url=BASE) as client:
        assert client.account_id is None
        assert await client.get_account_id() == ACCOUNT
        assert client.account_id == ACCOUNT


# _get -------------------------------------------------------------------------------------


def test_get_answers_the_response_whatever_the_status(router: respx.MockRouter) -> None:
    route = router.get("/v1/accounts/fireworks/models/m").mock(
        side_effect=[httpx.Response(503), httpx.Response(404, json={"error": {"message": "no"}})]
    )
    with FireworksClient(KEY, BASE, account_id=ACCOUNT) as client:
        response = client._get("/v1/accounts/fireworks/models/m", timeout=30)
    assert isinstance(response, httpx.Response)
    assert (response.status_code, response.is_success) == (404, False)
    assert route.call_count == 2  # the 503 was retried, the 404 is the answer
    assert route.calls.last.request.headers["X-Api-Key"] == KEY
    with pytest.raises(httpx.HTTPStatusError):
        response.raise_for_status()


def test_get_keeps_a_query_in_the_path(router: respx.MockRouter) -> None:
    route = router.get(f"/v1/{SHAPE}/versions").respond(json={"trainingShapeVersions": []})
    with FireworksClient(KEY, BASE, account_id=ACCOUNT) as client:
        response = client._get(f"/v1/{SHAPE}/versions?filter=latest_validated%3Dtrue&pageSize=1")
    assert response.json() == {"trainingShapeVersions": []}
    assert dict(route.calls.last.request.url.params) == {
        "filter": "latest_validated=true",
        "pageSize": "1",
    }


def test_get_gives_the_last_response_when_retries_run_out(router: respx.MockRouter) -> None:
    route = router.get("/v1/x").mock(return_value=httpx.Response(502))
    with FireworksClient(KEY, BASE, account_id=ACCOUNT, max_retries=2) as client:
        assert client._get("/v1/x").status_code == 502
        with pytest.raises(InvalidArgumentError, match="path must start with '/'"):
            client._get("v1/x")
    assert route.call_count == 3


def test_get_without_an_answer_is_a_connection_error(router: respx.MockRouter) -> None:
    router.get("/v1/x").mock(side_effect=httpx.ConnectError("refused"))
    with (
        FireworksClient(KEY, BASE, account_id=ACCOUNT, max_retries=1) as client,
        pytest.raises(APIConnectionError),
    ):
        client._get("/v1/x")


# Rows and models are dicts ----------------------------------------------------------------


async def test_listed_rows_are_the_wire_dicts(client: AnyClient, router: respx.MockRouter) -> None:
    wires = [row("step-1-a1b2c3d4"), row("step-2", checkpointType="CHECKPOINT_TYPE_TRAINING")]
    router.get(LIST_PATH).respond(json={"checkpoints": wires})
    rows = await call(client.list_checkpoints(job_id=JOB))
    assert rows == wires
    assert all(isinstance(r, dict) and isinstance(r, Checkpoint) for r in rows)
    assert json.loads(json.dumps(rows)) == wires
    assert [r.step for r in rows] == [1, 2]


@pytest.mark.parametrize(
    "page",
    [
        {"checkpoints": [{"createTime": "2026-01-01T00:00:00Z"}]},
        {"checkpoints": ["accounts/acme/rlorTrainerJobs/job-abc/checkpoints/x"]},
        {"checkpoints": {"name": "x"}},
    ],
)
async def test_a_row_that_is_not_an_object_with_a_name_is_a_protocol_error(
    client: AnyClient, router: respx.MockRouter, page: dict[str, Any]
) -> None:
    router.get(LIST_PATH).respond(json=page)
    with pytest.raises(ProtocolError):
        await call(client.list_checkpoints(JOB))


async def test_next_page_token_in_snake_case(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.get(LIST_PATH).mock(
        side_effect=[
            httpx.Response(200, json={"checkpoints": [row("a")], "next_page_token": "t"}),
            httpx.Response(200, json={"checkpoints": [row("b")]}),
        ]
    )
    assert len(await call(client.list_checkpoints(JOB))) == 2
    assert route.calls.last.request.url.params["pageToken"] == "t"


async def test_promote_with_explicit_none_hot_load_does_not_warn(
    client: AnyClient, router: respx.MockRouter
) -> None:
    name = f"{LIST_PATH}/step-1-a1b2c3d4".removeprefix("/v1/")
    router.post(f"/v1/accounts/{ACCOUNT}/checkpoints/step-1-a1b2c3d4:promote").respond(
        json={"model": model("out")}
    )
    promoted = await call(
        client.promote_checkpoint(
            name=name, output_model_id="out", base_model=BASE_MODEL, hot_load_deployment_id=None
        )
    )
    assert isinstance(promoted, Model)
    assert isinstance(promoted, dict)
    assert promoted == model("out")
    assert {**promoted}["state"] == "READY"


# Training shapes --------------------------------------------------------------------------

VERSION = {
    "name": f"{SHAPE}/versions/v3",
    "snapshot": {
        "trainerImageTag": "img-1",
        "maxSupportedContextLength": "32768",
        "nodeCount": 2,
        "deploymentShapeVersion": "accounts/fireworks/deploymentShapes/ds-8b/versions/v1",
        "deploymentImageTag": "dimg",
        "acceleratorType": "NVIDIA_H200_141GB",
        "acceleratorCount": 8,
        "baseModelWeightPrecision": "bf16",
        "trainerShardingScheme": {"pipelineParallelism": 2},
        "trainerMode": "LORA_TRAINER",
    },
}
PROFILE = TrainingShapeProfile(
    training_shape_version=f"{SHAPE}/versions/v3",
    trainer_image_tag="img-1",
    max_supported_context_length=32768,
    node_count=2,
    deployment_shape_version="accounts/fireworks/deploymentShapes/ds-8b/versions/v1",
    deployment_image_tag="dimg",
    accelerator_type="NVIDIA_H200_141GB",
    accelerator_count=8,
    base_model_weight_precision="bf16",
    pipeline_parallelism=2,
    trainer_mode="LORA_TRAINER",
)


async def test_resolve_a_shape_to_its_latest_validated_version(
    client: AnyClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/v1/{SHAPE}/versions").respond(json={"trainingShapeVersions": [VERSION]})
    profile = await call(client.resolve_training_profile(SHAPE))
    assert profile == PROFILE
    assert (profile.training_shape, profile.deployment_shape, profile.supports_lora) == (
        SHAPE,
        "accounts/fireworks/deploymentShapes/ds-8b/versions/v1",
        True,
    )
    assert dict(route.calls.last.request.url.params) == {
        "filter": "latest_validated=true",
        "pageSize": "1",
    }


async def test_resolve_a_versioned_shape(client: AnyClient, router: respx.MockRouter) -> None:
    router.get(f"/v1/{SHAPE}/versions/v3").respond(json=VERSION)
    assert await call(client.resolve_training_profile(f"{SHAPE}/versions/v3")) == PROFILE


async def test_a_shape_without_a_validated_version(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.get(f"/v1/{SHAPE}/versions").respond(json={"trainingShapeVersions": []})
    with pytest.raises(ProtocolError, match="no validated version"):
        await call(client.resolve_training_profile(SHAPE))


async def test_a_short_shape_id_says_what_to_write(
    client: AnyClient, router: respx.MockRouter
) -> None:
    with pytest.raises(
        InvalidArgumentError, match="accounts/fireworks/trainingShapes/ts-qwen3-8b'"
    ):
        await call(client.resolve_training_profile("ts-qwen3-8b"))
    assert router.calls.call_count == 0


def test_a_bare_profile_has_the_official_defaults() -> None:
    router_free = TrainingShapeProfile("", "", 0, 1, "", "", "", 0, "", 1)
    assert router_free.trainer_mode == ""
    assert (router_free.training_shape, router_free.deployment_shape) == (None, None)
    assert not router_free.supports_lora


# Model details ----------------------------------------------------------------------------


@pytest.mark.parametrize("moe", [True, False])
async def test_model_is_moe(client: AnyClient, router: respx.MockRouter, moe: bool) -> None:
    router.get("/v1/accounts/fireworks/models/qwen3-8b").respond(
        json={"name": BASE_MODEL, "baseModelDetails": {"moe": moe}}
    )
    assert await call(client.model_is_moe(BASE_MODEL)) is moe


async def test_model_details_unavailable(client: AnyClient, router: respx.MockRouter) -> None:
    router.get("/v1/accounts/fireworks/models/qwen3-8b").respond(
        404, json={"error": {"message": "not found"}}
    )
    with pytest.raises(ModelDetailsUnavailableError) as info:
        await call(client.model_is_moe(BASE_MODEL))
    assert info.value.status_code == 404
    assert isinstance(info.value, RuntimeError)
    assert "\n" not in str(info.value)


async def test_model_without_moe_detail(client: AnyClient, router: respx.MockRouter) -> None:
    router.get("/v1/accounts/fireworks/models/qwen3-8b").respond(json={"name": BASE_MODEL})
    with pytest.raises(ValueError, match=r"no baseModelDetails\.moe"):
        await call(client.model_is_moe(BASE_MODEL))


# Sessions and managed jobs ----------------------------------------------------------------


def session_row(checkpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"{SESSION}/checkpoints/{checkpoint}",
        "createTime": "2026-01-01T00:00:00Z",
        "checkpointType": "CHECKPOINT_TYPE_INFERENCE_LORA",
        "promotable": True,
        **extra,
    }


async def test_list_session_checkpoints(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.get(f"/v1/{SESSION}/checkpoints").mock(
        side_effect=[
            httpx.Response(
                200,
                json={"trainingSessionCheckpoints": [session_row("a")], "nextPageToken": "t"},
            ),
            httpx.Response(200, json={"checkpoints": [session_row("step-2-0123abcd")]}),
        ]
    )
    rows = await call(client.list_training_session_checkpoints(SESSION, page_size=1))
    assert [type(r) for r in rows] == [CheckpointRow, CheckpointRow]
    assert [(r.checkpoint_id, r.parent, r.step) for r in rows] == [
        ("a", SESSION, None),
        ("step-2-0123abcd", SESSION, 2),
    ]
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"pageSize": "1"},
        {"pageSize": "1", "pageToken": "t"},
    ]


async def test_promote_a_session_checkpoint(client: AnyClient, router: respx.MockRouter) -> None:
    name = f"{SESSION}/checkpoints/final"
    route = router.post(f"/v1/{name}:promote").respond(json={"model": model("out")})
    promoted = await call(
        client.promote_session_checkpoint(name=name, output_model_id="out", base_model=BASE_MODEL)
    )
    assert promoted.get("name") == f"accounts/{ACCOUNT}/models/out"
    assert json.loads(route.calls.last.request.content) == {
        "output_model": f"accounts/{ACCOUNT}/models/out",
        "base_model": BASE_MODEL,
    }


async def test_a_session_model_still_uploading_is_read_until_ready(
    client: AnyClient, router: respx.MockRouter
) -> None:
    name = f"{SESSION}/checkpoints/final"
    router.post(f"/v1/{name}:promote").respond(json={"model": model("out", state="UPLOADING")})
    reads = router.get(f"/v1/accounts/{ACCOUNT}/models/out").mock(
        side_effect=[
            httpx.Response(200, json=model("out", state="UPLOADING")),
            httpx.Response(200, json=model("out")),
        ]
    )
    promoted = await call(client.promote_session_checkpoint(name, "out", BASE_MODEL))
    assert promoted.state == "READY"
    assert reads.call_count == 2


async def test_delete_a_session_is_idempotent(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.delete(f"/v1/{SESSION}").mock(
        side_effect=[httpx.Response(200, json={}), httpx.Response(404, json={})]
    )
    assert await call(client.delete_training_session(SESSION)) is None
    assert await call(client.delete_training_session(SESSION)) is None
    assert route.call_count == 2


async def test_promote_an_sft_checkpoint_through_its_operation(
    client: AnyClient, router: respx.MockRouter
) -> None:
    name = f"{SFT}/checkpoints/epoch-1"
    operation = f"accounts/{ACCOUNT}/operations/op-1"
    route = router.post(f"/v1/{name}:promote").respond(
        json={"operation": {"name": operation, "done": False}}
    )
    router.get(f"/v1/{operation}").respond(
        json={"name": operation, "done": True, "response": {"@type": "x", **model("sft-out")}}
    )
    promoted = await call(client.promote_training_job_checkpoint(name, "sft-out", BASE_MODEL))
    assert promoted == model("sft-out")
    assert json.loads(route.calls.last.request.content)["async_promotion"] is True
    router.get(f"/v1/{SFT}/checkpoints").respond(json={"checkpoints": [{"name": name}]})
    assert [r.checkpoint_id for r in await call(client.list_training_job_checkpoints(SFT))] == [
        "epoch-1"
    ]


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("list_training_session_checkpoints", ("sess-1",), InvalidArgumentError),
        ("promote_session_checkpoint", (SESSION, "out", BASE_MODEL), InvalidArgumentError),
        (
            "promote_session_checkpoint",
            (f"{SESSION}/checkpoints/c", "Out", BASE_MODEL),
            InvalidModelIdError,
        ),
        (
            "promote_session_checkpoint",
            (f"{SESSION}/checkpoints/c", "out", ""),
            InvalidArgumentError,
        ),
        (
            "list_training_job_checkpoints",
            (f"accounts/{ACCOUNT}/rlorTrainerJobs/j",),
            InvalidArgumentError,
        ),
        ("delete_training_session", (f"{SESSION}/checkpoints/c",), InvalidArgumentError),
    ],
)
async def test_bad_names_send_nothing(
    client: AnyClient,
    router: respx.MockRouter,
    method: str,
    args: tuple[Any, ...],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await call(getattr(client, method)(*args))
    assert router.calls.call_count == 0


def test_a_dropped_sync_client_closes_its_pool(router: respx.MockRouter) -> None:
    # Cookbook scripts make managers and never close them; no socket may be left open.
    router.get(f"/v1/accounts/{ACCOUNT}/models/m").respond(json=model("m"))
    client = FireworksClient(KEY, BASE, account_id=ACCOUNT)
    client.get_model("m")
    http = client._http
    del client
    gc.collect()
    assert http.is_closed
