"""The hot-load API on the exact wire: headers, resent signals, every replica, one deadline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.clients.deployments import AsyncDeploymentManager, DeploymentManager
from fireworks_training.errors import (
    HotLoadError,
    HotLoadTimeoutError,
    InvalidArgumentError,
)

from ..clocks import FakeClock
from .conftest import ACCOUNT, BASE, BASE_MODEL, KEY, call

pytestmark = pytest.mark.anyio

AnyManager = DeploymentManager | AsyncDeploymentManager
HOT = "https://hot.test"
PATH = "/hot_load/v1/models/hot_load"
MODEL = f"accounts/{ACCOUNT}/deployments/dep-1"


@pytest.fixture(params=["sync", "async"])
async def manager(
    request: pytest.FixtureRequest,
    clock: FakeClock,
) -> AsyncIterator[AnyManager]:
    cls = DeploymentManager if request.param == "sync" else AsyncDeploymentManager
    made = cls(KEY, BASE, hotload_api_url=HOT + "/", account_id=ACCOUNT)
    yield made
    await call(made.close())


@pytest.fixture
def hot() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(base_url=HOT, assert_all_called=False) as mock:
        yield mock


def status(*replicas: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"replicas": list(replicas)})


def replica(current: str | None, stage: str = "done", **loading: Any) -> dict[str, Any]:
    return {
        "current_snapshot_identity": current,
        "readiness": True,
        "loading_state": {"stage": stage, **loading},
        "loaded_adapters": [],
    }


def error(code: int, message: str = "no", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message}}
    return httpx.Response(code, json=body, headers=headers)


async def test_a_signal_routes_by_headers_to_the_stripped_hot_load_url(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    signal = hot.post(PATH).mock(return_value=httpx.Response(200, json={}))
    metadata = {"previous_snapshot_identity": "b0", "compression_format": "arc_v2"}
    reply = await call(
        manager.hotload("dep-1", BASE_MODEL, "d1", metadata, path="gs://b/d1/", cmek_resource="k")
    )
    assert reply == {}
    request = signal.calls.last.request
    assert str(request.url) == f"{HOT}{PATH}"  # no double slash
    assert request.headers["fireworks-deployment"] == MODEL
    assert request.headers["fireworks-model"] == BASE_MODEL
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["x-fireworks-hot-load-source-url"] == "gs://b/d1/"
    assert request.headers["x-fireworks-hot-load-cmek-resource"] == "k"
    assert json.loads(request.content) == {
        "identity": "d1",
        "reset_prompt_cache": True,
        "incremental_snapshot_metadata": metadata,
    }


async def test_a_signal_is_resent_on_transient_failures_with_the_same_body(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    signal = hot.post(PATH).mock(
        side_effect=[
            error(503, **{"Retry-After": "1"}),
            httpx.ReadError("reset"),
            httpx.Response(200, json={}),
        ]
    )
    await call(manager.hotload("dep-1", BASE_MODEL, "b0"))
    bodies = {c.request.content for c in signal.calls}
    assert signal.call_count == 3
    assert len(bodies) == 1


async def test_an_old_gateway_gets_the_signal_again_without_the_cache_flag_and_never_again(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    refused = error(400, "Extra inputs are not permitted, field: 'reset_prompt_cache'")
    answered = httpx.Response(200, json={})
    signal = hot.post(PATH).mock(side_effect=[refused, answered, answered])
    await call(manager.hotload("dep-1", BASE_MODEL, "b0"))
    await call(manager.hotload("dep-1", BASE_MODEL, "b1"))
    sent = [json.loads(c.request.content) for c in signal.calls]
    assert sent == [
        {"identity": "b0", "reset_prompt_cache": True},
        {"identity": "b0"},
        {"identity": "b1"},
    ]


async def test_a_refused_signal_is_a_hot_load_error_with_the_servers_message(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    hot.post(PATH).mock(return_value=error(400, "fireworks-model does not match"))
    with pytest.raises(HotLoadError) as caught:
        await call(manager.hotload("dep-1", BASE_MODEL, "b0"))
    error_ = caught.value
    assert (error_.category, error_.status_code, error_.identity, error_.deployment_id) == (
        "signal",
        400,
        "b0",
        "dep-1",
    )
    assert error_.server_message == "fireworks-model does not match"
    assert KEY not in str(error_)


async def test_bad_input_is_refused_before_any_request(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    with pytest.raises(InvalidArgumentError, match="base_model"):
        await call(manager.hotload("dep-1", "", "b0"))
    with pytest.raises(InvalidArgumentError, match="identity"):
        await call(manager.hotload("dep-1", BASE_MODEL, " "))
    with pytest.raises(InvalidArgumentError, match="timeout_seconds"):
        await call(manager.wait_for_hotload("dep-1", BASE_MODEL, "b0", timeout_seconds=0))
    assert not hot.calls


async def test_status_is_the_answer_and_needs_the_same_routing(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    read = hot.get(PATH).mock(return_value=status(replica(None, "idle")))
    answer = await call(manager.hotload_check_status("dep-1", BASE_MODEL))
    assert answer == {"replicas": [replica(None, "idle")]}
    assert read.calls.last.request.headers["fireworks-deployment"] == MODEL


async def test_a_wait_succeeds_only_when_every_replica_serves_the_snapshot(
    manager: AnyManager,
    hot: respx.MockRouter,
    clock: FakeClock,
) -> None:
    hot.get(PATH).mock(
        side_effect=[
            status(),
            error(503),
            status(replica("b0", "downloading", target_snapshot_identity="b1"), replica("b0")),
            status(replica("b1"), replica("b0", "downloading")),
            status(replica("b1"), replica("b1")),
        ]
    )
    assert await call(manager.wait_for_hotload("dep-1", BASE_MODEL, "b1")) is True
    assert manager.last_hotload_error_message is None
    assert clock.sleeps[0] == 0.05  # the first poll comes soon


async def test_a_lagging_replica_is_a_timeout_naming_it(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    lagging = replica("b0", "downloading", target_snapshot_identity="b1")
    hot.get(PATH).mock(return_value=status(replica("b1"), lagging))
    with pytest.raises(HotLoadTimeoutError) as caught:
        await call(manager.wait_for_hotload("dep-1", BASE_MODEL, "b1", timeout_seconds=30))
    assert caught.value.category == "timeout"
    assert "replica 1 serves b0 (stage downloading, loading b1)" in str(caught.value)
    assert manager.last_hotload_error_message == str(caught.value)


async def test_an_error_for_the_snapshot_fails_the_wait_at_once(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    stale = replica("b0", "error", target_snapshot_identity="old", error_message="old news")
    failed = replica("b0", "error", target_snapshot_identity="b1", error_message="bad delta")
    hot.get(PATH).mock(side_effect=[status(stale), status(failed)])
    with pytest.raises(HotLoadError) as caught:
        await call(manager.wait_for_hotload("dep-1", BASE_MODEL, "b1"))
    assert (caught.value.category, caught.value.server_message) == ("load", "bad delta")


async def test_a_deployment_gone_during_a_wait_ends_it(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    hot.get(PATH).mock(return_value=error(404, "deployment not found"))
    with pytest.raises(HotLoadError) as caught:
        await call(manager.wait_for_hotload("dep-1", BASE_MODEL, "b1"))
    assert (caught.value.category, caught.value.status_code) == ("status", 404)


async def test_hotload_and_wait_share_one_deadline(
    manager: AnyManager,
    hot: respx.MockRouter,
    clock: FakeClock,
) -> None:
    hot.post(PATH).mock(return_value=httpx.Response(200, json={}))
    hot.get(PATH).mock(return_value=status(replica("b0")))
    with pytest.raises(HotLoadTimeoutError, match="within 20 s"):
        await call(manager.hotload_and_wait("dep-1", BASE_MODEL, "b1", timeout_seconds=20))
    assert sum(clock.sleeps) == pytest.approx(20)


async def test_the_readiness_wait_needs_a_replica(
    manager: AnyManager, hot: respx.MockRouter
) -> None:
    hot.get(PATH).mock(side_effect=[status(), status(), status(replica(None, "idle"))])
    await call(manager.wait_for_hotload_ready("dep-1", BASE_MODEL))
    hot.get(PATH).mock(return_value=status())
    with pytest.raises(HotLoadTimeoutError) as caught:
        await call(manager.wait_for_hotload_ready("dep-1", BASE_MODEL, timeout_s=10))
    assert caught.value.category == "not_ready"


async def test_the_key_is_in_no_error_or_repr(manager: AnyManager, hot: respx.MockRouter) -> None:
    echoed = {"error": {"code": 401, "message": f"bad key {KEY}"}}
    hot.post(PATH).mock(return_value=httpx.Response(401, json=echoed))
    hot.get(PATH).mock(return_value=httpx.Response(403, text=f"forbidden for {KEY}"))
    with pytest.raises(HotLoadError) as signal:
        await call(manager.hotload("dep-1", BASE_MODEL, "b0"))
    with pytest.raises(HotLoadError) as status:
        await call(manager.wait_for_hotload("dep-1", BASE_MODEL, "b0"))
    for error in (signal.value, status.value):
        assert KEY not in str(error)
        assert KEY not in error.server_message
        assert "***" in error.server_message
    assert KEY not in repr(manager)
