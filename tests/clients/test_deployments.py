"""DeploymentManager and its async twin: the config, the exact wire, create-or-get, waits."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.clients.deployments import (
    AsyncDeploymentManager,
    DeploymentConfig,
    DeploymentInfo,
    DeploymentManager,
)
from fireworks_training.errors import (
    DeploymentError,
    DeploymentTimeoutError,
    InternalServerError,
    InvalidArgumentError,
)

from .conftest import ACCOUNT, BASE, BASE_MODEL, KEY, FakeClock, call

pytestmark = pytest.mark.anyio

AnyManager = DeploymentManager | AsyncDeploymentManager
DEPLOYMENTS = f"/v1/accounts/{ACCOUNT}/deployments"
DEPLOYMENT = f"{DEPLOYMENTS}/dep-1"
JOB = f"accounts/{ACCOUNT}/rlorTrainerJobs/job-1"


@pytest.fixture(params=["sync", "async"])
async def manager(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[AnyManager]:
    cls = DeploymentManager if request.param == "sync" else AsyncDeploymentManager
    made = cls(KEY, BASE, account_id=ACCOUNT)
    yield made
    await call(made.close())


def resource(state: str = "READY", **extra: Any) -> dict[str, Any]:
    return {
        "name": f"accounts/{ACCOUNT}/deployments/dep-1",
        "state": state,
        "baseModel": BASE_MODEL,
        "enableHotLoad": True,
        "hotLoadTrainerJob": JOB,
        "hotLoadTransitionType": "ASYNC",
        "hotLoadBucketUrl": "gs://bucket/job-1",
        "replicaCount": 1,
        "replicaStats": {"readyReplicaCount": 1},
        **extra,
    }


def ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


def error(code: int) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": code, "message": "no"}})


CONFIG = DeploymentConfig(
    "dep-1", BASE_MODEL, min_replica_count=1, max_replica_count=1, hot_load_trainer_job="job-1"
)


# Config -----------------------------------------------------------------------------------


def test_config_keeps_the_official_fields_defaults_and_order() -> None:
    names = list(DeploymentConfig.__dataclass_fields__)
    assert names[:3] == ["deployment_id", "base_model", "description"]
    assert names[-2:] == ["for_training", "preemptible"]
    config = DeploymentConfig("d", BASE_MODEL, hot_load_transition_type=" sync ")
    assert (config.min_replica_count, config.max_replica_count) == (0, 1)
    assert (config.accelerator_type, config.hot_load_bucket_type) == (
        "NVIDIA_H200_141GB",
        "FW_HOSTED",
    )
    assert config.hot_load_transition_type == "SYNC"
    with pytest.raises(InvalidArgumentError, match="hot_load_transition_type"):
        DeploymentConfig("d", BASE_MODEL, hot_load_transition_type="FAST")


def test_the_create_body_and_query_are_exact() -> None:
    config = DeploymentConfig(
        "dep-1",
        BASE_MODEL,
        region="US_OHIO_1",
        hot_load_trainer_job="job-1",
        hot_load_transition_type="async",
        extra_args=["--a 1", "--b"],
        extra_values={"k": "v"},
        annotations={"x": "y"},
        preemptible=True,
        skip_shape_validation=True,
        disable_speculative_decoding=True,
    )
    assert config.create_params() == {
        "deploymentId": "dep-1",
        "skipShapeValidation": "true",
        "disableSpeculativeDecoding": "true",
    }
    assert config.create_body(ACCOUNT) == {
        "baseModel": BASE_MODEL,
        "description": "Fireworks training deployment",
        "minReplicaCount": 0,
        "maxReplicaCount": 1,
        "enableHotLoad": True,
        "forTraining": False,
        "placement": {"region": "US_OHIO_1"},
        "hotLoadBucketType": "FW_HOSTED",
        "hotLoadTrainerJob": JOB,
        "hotLoadTransitionType": "ASYNC",
        "acceleratorType": "NVIDIA_H200_141GB",
        "extraArgs": ["--a", "1", "--b"],
        "extraValues": {"k": "v"},
        "annotations": {"x": "y"},
        "preemptible": True,
    }
    shaped = DeploymentConfig("d", BASE_MODEL, deployment_shape="s/1", accelerator_type=None)
    assert "acceleratorType" not in shaped.create_body(ACCOUNT)
    assert shaped.create_body(ACCOUNT)["deploymentShape"] == "s/1"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"deployment_id": "bad id"}, "deployment_id"),
        ({"base_model": ""}, "base_model"),
        ({"min_replica_count": -1}, "min_replica_count"),
        ({"min_replica_count": 3, "max_replica_count": 2}, "exceeds"),
        ({"deployment_shape": "s", "accept_shapeless_risk": True}, "accept_shapeless_risk"),
        ({"accelerator_type": None}, "accelerator_type"),
        ({"deployment_shape": "s", "expected_deployment_shape": "t"}, "expected shape"),
        ({"hot_load_trainer_job": "accounts/x"}, "hot_load_trainer_job"),
    ],
)
async def test_a_bad_config_is_refused_before_any_request(
    manager: AnyManager, router: respx.MockRouter, kwargs: dict[str, Any], problem: str
) -> None:
    fields: dict[str, Any] = {"deployment_id": "dep-1", "base_model": BASE_MODEL, **kwargs}
    with pytest.raises(InvalidArgumentError, match=problem):
        await call(manager.create_or_get(DeploymentConfig(**fields)))
    assert not router.calls


def test_from_training_profile_pins_the_shape() -> None:
    class Profile:
        deployment_shape = "accounts/fireworks/deploymentShapes/rft/versions/3"

    config = DeploymentConfig.from_training_profile(
        deployment_id="d", base_model=BASE_MODEL, profile=Profile()
    )
    assert config.deployment_shape == config.expected_deployment_shape == Profile.deployment_shape


# Create or get ----------------------------------------------------------------------------


async def test_create_sends_the_body_and_reads_the_resource(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(return_value=error(404))
    created = router.post(DEPLOYMENTS).mock(return_value=ok(resource("CREATING")))
    info = await call(manager.create_or_get(CONFIG))
    request = created.calls.last.request
    assert request.url.params["deploymentId"] == "dep-1"
    assert json.loads(request.content) == CONFIG.create_body(ACCOUNT)
    assert request.headers["x-api-key"] == KEY
    assert info == DeploymentInfo(
        deployment_id="dep-1",
        name=f"accounts/{ACCOUNT}/deployments/dep-1",
        state="CREATING",
        hot_load_bucket_url="gs://bucket/job-1",
        hot_load_trainer_job=JOB,
        hot_load_transition_type="ASYNC",
        inference_model=f"accounts/{ACCOUNT}/deployments/dep-1",
        base_model=BASE_MODEL,
        enable_hot_load=True,
        replica_count=1,
        ready_replica_count=1,
        raw=resource("CREATING"),
    )


async def test_an_existing_matching_deployment_is_returned(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(return_value=ok(resource()))
    created = router.post(DEPLOYMENTS)
    assert (await call(manager.create_or_get(CONFIG))).state == "READY"
    assert not created.called


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ({"baseModel": "accounts/fireworks/models/other"}, "serves base model"),
        ({"enableHotLoad": False}, "hot load turned off"),
        ({"hotLoadTrainerJob": f"accounts/{ACCOUNT}/rlorTrainerJobs/job-2"}, "attached to"),
        ({"hotLoadTrainerJob": None}, "attached to no trainer job"),
    ],
)
async def test_an_existing_deployment_that_does_not_match_is_an_error(
    manager: AnyManager, router: respx.MockRouter, existing: dict[str, Any], message: str
) -> None:
    router.get(DEPLOYMENT).mock(return_value=ok(resource(**existing)))
    with pytest.raises(DeploymentError, match=message) as caught:
        await call(manager.create_or_get(CONFIG))
    assert caught.value.deployment_id == "dep-1"
    assert len(router.calls) == 1


async def test_a_deleting_deployment_is_waited_out_and_created_again(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(
        side_effect=[ok(resource("DELETING")), ok(resource("DELETING")), error(404)]
    )
    deleted = router.delete(DEPLOYMENT)
    created = router.post(DEPLOYMENTS).mock(return_value=ok(resource("CREATING")))
    assert (await call(manager.create_or_get(CONFIG))).state == "CREATING"
    assert not deleted.called  # already being deleted
    assert created.called


async def test_a_failed_deployment_is_deleted_then_created(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(side_effect=[ok(resource("FAILED")), error(404)])
    deleted = router.delete(DEPLOYMENT).mock(return_value=ok({}))
    router.post(DEPLOYMENTS).mock(return_value=ok(resource("CREATING")))
    await call(manager.create_or_get(CONFIG))
    assert dict(deleted.calls.last.request.url.params) == {"ignoreChecks": "true", "hard": "true"}


async def test_a_deletion_that_never_ends_is_a_timeout(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(DEPLOYMENT).mock(return_value=ok(resource("DELETING")))
    created = router.post(DEPLOYMENTS)
    with pytest.raises(DeploymentTimeoutError, match="not deleted after 60 s"):
        await call(manager.create_or_get(CONFIG, force_recreate=True))
    assert not created.called


async def test_a_409_returns_the_existing_deployment_only_when_it_serves(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(side_effect=[error(404), ok(resource("DELETING"))])
    router.post(DEPLOYMENTS).mock(return_value=error(409))
    with pytest.raises(DeploymentError, match="DELETING"):
        await call(manager.create_or_get(CONFIG))


# Get, update, scale, delete ---------------------------------------------------------------


async def test_get_is_none_for_a_missing_deployment(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(return_value=error(404))
    assert await call(manager.get("dep-1")) is None
    full_name = f"accounts/{ACCOUNT}/deployments/dep-1"
    assert await call(manager.get(full_name)) is None


async def test_update_needs_a_mask(manager: AnyManager, router: respx.MockRouter) -> None:
    for mask in ["", [], " , "]:
        with pytest.raises(InvalidArgumentError, match="update_mask"):
            await call(manager.update("dep-1", {"minReplicaCount": 1}, mask))
    patched = router.patch(DEPLOYMENT).mock(return_value=ok(resource()))
    await call(manager.update("dep-1", {"minReplicaCount": 2}, ["min_replica_count"]))
    request = patched.calls.last.request
    assert request.url.params["updateMask"] == "min_replica_count"
    assert json.loads(request.content) == {"minReplicaCount": 2}


async def test_scale_to_zero_changes_only_the_replica_bounds(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    patched = router.patch(DEPLOYMENT).mock(return_value=ok(resource(replicaCount=0)))
    await call(manager.scale_to_zero("dep-1"))
    request = patched.calls.last.request
    assert request.url.params["updateMask"] == "min_replica_count,max_replica_count"
    assert json.loads(request.content) == {"minReplicaCount": 0, "maxReplicaCount": 0}


async def test_scale_to_zero_and_delete_raise_what_they_cannot_do(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.patch(DEPLOYMENT).mock(return_value=error(500))
    router.delete(DEPLOYMENT).mock(return_value=error(500))
    with pytest.raises(InternalServerError):
        await call(manager.scale_to_zero("dep-1"))
    with pytest.raises(InternalServerError):
        await call(manager.delete("dep-1"))


async def test_deleting_a_missing_deployment_is_fine(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.delete(DEPLOYMENT).mock(return_value=error(404))
    await call(manager.delete("dep-1"))


# Waiting ------------------------------------------------------------------------------------


async def test_wait_for_ready_polls_soon_then_backs_off(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    states = ["CREATING", "UPDATING", "CREATING", "READY"]
    router.get(DEPLOYMENT).mock(side_effect=[ok(resource(s)) for s in states])
    router.post("/inference/v1/completions").mock(return_value=error(503))
    info = await call(manager.wait_for_ready("dep-1", timeout_s=60, poll_interval_s=15))
    assert info.state == "READY"
    assert clock.sleeps == [0.5, 0.75, 1.125]
    assert manager.boot_time_s == pytest.approx(2.375)


async def test_a_creating_deployment_that_answers_is_ready(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(return_value=ok(resource("CREATING")))
    probe = router.post("/inference/v1/completions").mock(return_value=ok({"choices": []}))
    info = await call(manager.wait_for_ready("dep-1"))
    assert info.state == "READY"
    request = probe.calls.last.request
    assert json.loads(request.content) == {
        "model": f"accounts/{ACCOUNT}/deployments/dep-1",
        "prompt": [1, 2],
        "max_tokens": 4,
        "temperature": 0.0,
    }
    assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("reply", "message"), [(error(404), "not found"), (ok(resource("FAILED")), "FAILED")]
)
async def test_wait_for_ready_stops_on_a_missing_or_failed_deployment(
    manager: AnyManager, router: respx.MockRouter, reply: httpx.Response, message: str
) -> None:
    router.get(DEPLOYMENT).mock(return_value=reply)
    with pytest.raises(DeploymentError, match=message):
        await call(manager.wait_for_ready("dep-1"))


async def test_wait_for_ready_times_out_with_the_last_state(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(DEPLOYMENT).mock(side_effect=[error(503), *[ok(resource("UPDATING"))] * 100])
    with pytest.raises(DeploymentTimeoutError, match=r"not ready after 30 s \(state UPDATING\)"):
        await call(manager.wait_for_ready("dep-1", timeout_s=30, poll_interval_s=5))
    assert sum(clock.sleeps) == pytest.approx(30)


async def test_reattach_patches_only_what_changes_then_waits(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    other = f"accounts/{ACCOUNT}/rlorTrainerJobs/job-2"
    router.get(DEPLOYMENT).mock(
        side_effect=[
            ok(resource()),
            ok(resource("UPDATING", hotLoadTrainerJob=other)),
            ok(resource(hotLoadTrainerJob=other)),
        ]
    )
    patched = router.patch(DEPLOYMENT).mock(return_value=ok(resource("UPDATING")))
    info = await call(
        manager.reattach_trainer(
            "dep-1", base_model=BASE_MODEL, trainer_job_name="job-2", timeout_s=60
        )
    )
    assert info.hot_load_trainer_job == other
    request = patched.calls.last.request
    assert request.url.params["updateMask"] == "hot_load_trainer_job"
    assert json.loads(request.content) == {"hotLoadTrainerJob": other}


async def test_reattach_to_the_same_job_sends_nothing(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(DEPLOYMENT).mock(return_value=ok(resource()))
    patched = router.patch(DEPLOYMENT)
    await call(
        manager.reattach_trainer("dep-1", base_model=BASE_MODEL, trainer_job_name=JOB, timeout_s=5)
    )
    assert not patched.called


async def test_warmup_is_a_bool_after_its_retries(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    probe = router.post("/inference/v1/completions").mock(side_effect=[error(503), ok({})])
    model = f"accounts/{ACCOUNT}/deployments/dep-1"
    assert await call(manager.warmup(model, max_retries=3, retry_interval_s=2)) is True
    assert probe.call_count == 2
    assert clock.sleeps == [2]
    probe.mock(return_value=error(503))
    assert await call(manager.warmup(model, max_retries=2)) is False


def test_the_sync_manager_resolves_its_account_on_first_read(router: respx.MockRouter) -> None:
    accounts = router.get("/v1/accounts").mock(
        return_value=ok({"accounts": [{"name": f"accounts/{ACCOUNT}"}]})
    )
    with DeploymentManager(KEY, BASE) as manager:
        assert manager.account_id == ACCOUNT
        assert manager.account_id == ACCOUNT
    assert accounts.call_count == 1
    with DeploymentManager(KEY, BASE) as manager:
        manager._account_id = "other"  # an official private the cookbook sets
        assert manager.account_id == "other"


def test_urls_default_to_the_control_plane_and_lose_their_trailing_slash() -> None:
    with DeploymentManager(KEY, BASE, hotload_api_url="https://hot.test/", inference_url=None) as m:
        assert (m.inference_url, m.hotload_api_url) == (BASE, "https://hot.test")
    with pytest.raises(InvalidArgumentError, match="verify_ssl"):
        DeploymentManager(KEY, BASE, verify_ssl="no")  # type: ignore[arg-type]


def test_verify_ssl_false_warns_and_is_refused_with_a_callers_client() -> None:
    # The manager's TLS switch is the base client's: never silent, never silently ignored.
    with pytest.warns(UserWarning, match="TLS certificates are not verified") as caught:
        unverified = DeploymentManager(KEY, BASE, verify_ssl=False)
    assert caught[0].filename == __file__  # the warning names the caller's line
    with unverified:
        assert unverified._owns_http
        pool = unverified._http._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context.verify_mode == ssl.CERT_NONE
    with (
        httpx.Client() as http,
        pytest.raises(InvalidArgumentError, match=r"httpx.Client\(verify=False\)"),
    ):
        DeploymentManager(KEY, BASE, verify_ssl=False, http_client=http)


def test_the_sync_and_async_managers_have_the_same_surface() -> None:
    import inspect

    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}

    assert public(AsyncDeploymentManager) - {"aclose"} == public(DeploymentManager)
    for name in ["create_or_get", "wait_for_ready", "hotload", "hotload_and_wait", "warmup"]:
        sync = inspect.signature(getattr(DeploymentManager, name))
        asynchronous = inspect.signature(getattr(AsyncDeploymentManager, name))
        assert list(sync.parameters) == list(asynchronous.parameters)
        assert inspect.iscoroutinefunction(getattr(AsyncDeploymentManager, name))
