"""Cookbook calls on base models and training shapes, against the emulator (items 17, 19, 24).

The emulator publishes ``tiny-bigram`` (dense) and its shapes (docs/protocol.md §1.7); the
tests add a mixture-of-experts model. Each test checks what the cookbook reads and the
request that reached the server.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from fireworks_training import FireworksClient, ModelDetailsUnavailableError, TrainerJobManager
from fireworks_training.emulator import Emulator
from fireworks_training.emulator.catalog import BaseModelSpec
from fireworks_training.errors import APIStatusError, InvalidArgumentError

from .conftest import BASE_MODEL, control_plane_requests

MOE_MODEL = "accounts/fireworks/models/tiny-moe"
SHAPE = "accounts/fireworks/trainingShapes/ts-tiny-bigram-policy"
DEPLOYMENT_SHAPE = "accounts/fireworks/deploymentShapes/ds-tiny-bigram/versions/1"
WITH_MOE = pytest.mark.fireworks_emulator(
    base_models=(BaseModelSpec(BASE_MODEL), BaseModelSpec(MOE_MODEL, moe=True))
)


@WITH_MOE
@pytest.mark.parametrize(("model", "moe"), [(MOE_MODEL, True), (BASE_MODEL, False)])
def test_17_model_is_moe_in_a_with_block(emu: Emulator, model: str, moe: bool) -> None:
    with FireworksClient(
        api_key=emu.api_key, base_url=emu.base_url, additional_headers={"X-Source": "compat"}
    ) as client:
        assert client.model_is_moe(model) is moe
    (request,) = [r for r in emu.request_log if r.path == f"/v1/{model}"]
    assert request.headers["x-source"] == "compat"


@pytest.mark.parametrize(
    ("model", "status"),
    [("accounts/fireworks/models/unknown", 404), ("accounts/someone-else/models/x", 403)],
)
def test_17_model_is_moe_on_a_model_it_cannot_read(emu: Emulator, model: str, status: int) -> None:
    with (
        FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client,
        pytest.raises(ModelDetailsUnavailableError) as caught,
    ):
        client.model_is_moe(model)
    assert caught.value.status_code == status


def test_19_resolve_training_profile_as_the_logprob_tool_does(emu: Emulator) -> None:
    shape_mgr = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    shape_mgr._account_id = "fireworks"  # the tool points the private cache at the publisher
    profile = shape_mgr.resolve_training_profile(SHAPE)
    shape_mgr.close()
    # Version 2 is newer but not validated: the profile is version 1's.
    assert profile.training_shape_version == f"{SHAPE}/versions/1"
    assert profile.deployment_shape == DEPLOYMENT_SHAPE
    assert getattr(profile, "deployment_shape_version", "") == profile.deployment_shape
    assert profile.max_supported_context_length == 4096
    assert (profile.accelerator_type, profile.accelerator_count) == ("NVIDIA_H100_80GB", 1)
    assert profile.training_shape == SHAPE
    assert profile.supports_lora is False
    query = urlencode({"filter": "latest_validated=true", "pageSize": 1})
    assert control_plane_requests(emu) == [("GET", f"/v1/{SHAPE}/versions?{query}")]


def test_19_resolve_a_named_version_and_a_lora_shape(emu: Emulator) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        pinned = client.resolve_training_profile(f"{SHAPE}/versions/2")
        lora = client.resolve_training_profile(
            "accounts/fireworks/trainingShapes/ts-tiny-bigram-lora"
        )
    assert (pinned.training_shape_version, pinned.max_supported_context_length) == (
        f"{SHAPE}/versions/2",
        8192,
    )
    assert lora.supports_lora is True
    assert lora.trainer_mode == "LORA_TRAINER"


def test_19_unknown_shape_is_a_404_and_a_short_id_never_leaves(emu: Emulator) -> None:
    with TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url) as mgr:
        with pytest.raises(APIStatusError) as caught:
            mgr.resolve_training_profile("accounts/fireworks/trainingShapes/ts-nope")
        assert caught.value.status_code == 404
        emu.request_log.clear()
        with pytest.raises(InvalidArgumentError, match="accounts/fireworks/trainingShapes/ts"):
            mgr.resolve_training_profile("ts-tiny-bigram-policy")
    assert control_plane_requests(emu) == []


def test_24_shape_selection_through_the_private_get(emu: Emulator) -> None:
    """The cookbook's shape selector: model details, then a filtered listing of every shape."""
    client = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    model = client._get(f"/v1/{BASE_MODEL}", timeout=30)
    assert model.is_success
    details = model.json()["baseModelDetails"]
    parameter_count = int(details["parameterCount"])
    assert (details["modelType"], details["supportsFireattention"]) == ("bigram", False)

    def listing(filter_expression: str) -> list[str]:
        params = {"filter": filter_expression, "orderBy": "create_time desc", "pageSize": 200}
        reply = client._get(f"/v1/accounts/-/trainingShapes/-/versions?{urlencode(params)}")
        assert reply.is_success, reply.text
        assert "nextPageToken" not in reply.json()
        return [v["name"] for v in reply.json()["trainingShapeVersions"]]

    exact = listing(
        f'snapshot.base_model="{BASE_MODEL}" AND latest_validated=true'
        ' AND snapshot.trainer_mode="LORA_TRAINER"'
    )
    assert exact == ["accounts/fireworks/trainingShapes/ts-tiny-bigram-lora/versions/1"]
    compatible = listing(
        f'snapshot.model_type="bigram" AND snapshot.parameter_count>={parameter_count}'
        f" AND snapshot.parameter_count<={parameter_count + 1} AND latest_validated=true"
        ' AND public=true AND snapshot.trainer_mode="POLICY_TRAINER"'
    )
    assert compatible == [f"{SHAPE}/versions/1"]
    missing = client._get("/v1/accounts/fireworks/models/unknown", timeout=30)
    assert (missing.is_success, missing.status_code) == (False, 404)
    client.close()
