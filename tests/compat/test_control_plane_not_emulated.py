"""Cookbook calls on services the emulator does not serve yet (checklist items 15, 17, 19).

Training sessions, model details and training shapes have no emulator routes; these tests
make the cookbook's calls against ``respx`` with the wire of docs/protocol.md §1.7 and check
the exact requests, so they test the client's side of the contract only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import respx

from fireworks_training import FireworksClient, TrainerJobManager

BASE = "https://cp.test"
KEY = "fw-compat-key"
ACCOUNT = "acme"
BASE_MODEL = "accounts/fireworks/models/qwen3-8b"
SHAPE = "accounts/fireworks/trainingShapes/ts-qwen3-8b-policy"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/v1/accounts").respond(json={"accounts": [{"name": f"accounts/{ACCOUNT}"}]})
        yield mock


def test_15_session_checkpoints_listed_and_promoted(router: respx.MockRouter) -> None:
    cp_client = FireworksClient(api_key=KEY, base_url=BASE)
    session_name = f"accounts/{cp_client.account_id}/trainingSessions/sess-42"
    rows = [
        {"name": f"{session_name}/checkpoints/step-1", "promotable": False},
        {"name": f"{session_name}/checkpoints/final-0a1b2c3d", "promotable": True},
    ]
    router.get(f"/v1/{session_name}/checkpoints").respond(json={"trainingSessionCheckpoints": rows})
    promote = router.post(f"/v1/{session_name}/checkpoints/final-0a1b2c3d:promote").respond(
        json={"model": {"name": f"accounts/{ACCOUNT}/models/dpo-out", "state": "READY"}}
    )
    checkpoints = cp_client.list_training_session_checkpoints(session_name)
    match = next(c for c in checkpoints if c.get("promotable"))
    model = cp_client.promote_session_checkpoint(
        name=match["name"], output_model_id="dpo-out", base_model=BASE_MODEL
    )
    shown = model.get("name") if isinstance(model, dict) else str(model)
    assert shown == f"accounts/{ACCOUNT}/models/dpo-out"
    assert json.loads(promote.calls.last.request.content) == {
        "output_model": f"accounts/{ACCOUNT}/models/dpo-out",
        "base_model": BASE_MODEL,
    }
    cp_client.close()


@pytest.mark.parametrize("moe", [True, False])
def test_17_model_is_moe_in_a_with_block(router: respx.MockRouter, moe: bool) -> None:
    route = router.get(f"/v1/{BASE_MODEL}").respond(
        json={"name": BASE_MODEL, "baseModelDetails": {"moe": moe}}
    )
    with FireworksClient(
        api_key=KEY, base_url=BASE, additional_headers={"X-Source": "compat"}
    ) as client:
        assert client.model_is_moe(BASE_MODEL) is moe
    assert route.calls.last.request.headers["X-Source"] == "compat"


VERSION: dict[str, Any] = {
    "name": f"{SHAPE}/versions/7",
    "snapshot": {
        "maxSupportedContextLength": 65536,
        "deploymentShapeVersion": "accounts/fireworks/deploymentShapes/ds-8b/versions/2",
        "acceleratorType": "NVIDIA_H200_141GB",
        "acceleratorCount": 8,
        "nodeCount": 1,
        "trainerMode": "POLICY_TRAINER",
    },
}


def test_19_resolve_training_profile_as_the_logprob_tool_does(
    router: respx.MockRouter,
) -> None:
    route = router.get(f"/v1/{SHAPE}/versions").respond(json={"trainingShapeVersions": [VERSION]})
    shape_mgr = TrainerJobManager(api_key=KEY, base_url=BASE)
    shape_mgr._account_id = "fireworks"
    profile = shape_mgr.resolve_training_profile(SHAPE)
    assert profile.training_shape_version == f"{SHAPE}/versions/7"
    assert profile.deployment_shape == "accounts/fireworks/deploymentShapes/ds-8b/versions/2"
    assert getattr(profile, "deployment_shape_version", "") == profile.deployment_shape
    assert profile.max_supported_context_length == 65536
    assert (profile.accelerator_type, profile.accelerator_count) == ("NVIDIA_H200_141GB", 8)
    assert profile.training_shape == SHAPE
    assert profile.supports_lora is False
    assert dict(route.calls.last.request.url.params) == {
        "filter": "latest_validated=true",
        "pageSize": "1",
    }
    shape_mgr.close()


def test_19_training_shape_lookups_through_the_private_get(router: respx.MockRouter) -> None:
    router.get(f"/v1/{BASE_MODEL}").respond(
        json={"name": BASE_MODEL, "defaultTrainingShape": SHAPE}
    )
    router.get(f"/v1/{SHAPE}/versions").respond(json={"trainingShapeVersions": [VERSION]})
    router.get("/v1/accounts/fireworks/models/unknown").mock(
        return_value=httpx.Response(404, json={"error": {"message": "model not found"}})
    )
    client = TrainerJobManager(api_key=KEY, base_url=BASE)
    resp = client._get(f"/v1/{BASE_MODEL}", timeout=30)
    assert resp.is_success
    parent = resp.json()["defaultTrainingShape"]
    params = {"filter": "latest_validated=true", "pageSize": 1}
    versions = client._get(f"/v1/{parent}/versions?{urlencode(params)}", timeout=30)
    assert versions.json()["trainingShapeVersions"][0]["name"] == f"{SHAPE}/versions/7"
    missing = client._get("/v1/accounts/fireworks/models/unknown", timeout=30)
    assert (missing.is_success, missing.status_code) == (False, 404)
    client.close()
