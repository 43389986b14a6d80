"""Deployment resources on the control plane: create, get, update, scale, delete; faults."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, Deployment, deployment_body

ROOT = "/v1/accounts/emulator/deployments"


def create(http: httpx.Client, deployment_id: str, body: dict[str, object]) -> httpx.Response:
    return http.post(ROOT, params={"deploymentId": deployment_id}, json=body)


def test_create_answers_the_resource(emu: Emulator, http: httpx.Client, job: str) -> None:
    response = create(http, "d1", deployment_body("emulator", job))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "accounts/emulator/deployments/d1"
    assert body["state"] == "READY"  # deployment_start_seconds is 0
    assert body["baseModel"] == BASE_MODEL
    assert body["hotLoadTrainerJob"] == f"accounts/emulator/rlorTrainerJobs/{job}"
    assert body["hotLoadTransitionType"] == "ASYNC"  # the server's pick when unset
    assert body["hotLoadBucketUrl"].endswith(f"/checkpoints/{job}")
    assert (body["replicaCount"], body["desiredReplicaCount"]) == (1, 1)
    assert body["replicaStats"] == {"readyReplicaCount": 1}
    assert {"createTime", "updateTime"} <= set(body)
    assert http.get(f"{ROOT}/d1").json() == body
    again = create(http, "d1", deployment_body("emulator", job))
    assert again.status_code == 409
    assert again.json()["error"]["status"] == "ALREADY_EXISTS"


@pytest.mark.parametrize(
    ("deployment_id", "change", "why"),
    [
        ("d1", {"baseModel": None}, "baseModel is required"),
        ("d1", {"deploymentShape": "shape-1"}, "not both"),
        ("d1", {"hotLoadTrainerJob": "accounts/emulator/rlorTrainerJobs/none"}, "does not exist"),
        ("d1", {"hotLoadTrainerJob": "accounts/other/rlorTrainerJobs/x"}, "must be"),
        ("d1", {"hotLoadTransitionType": "FAST"}, "hotLoadTransitionType"),
        ("d1", {"gpuCount": 2}, 'Unknown name "gpuCount"'),
        ("bad id", {}, "deploymentId"),
    ],
)
def test_create_checks_its_input(
    http: httpx.Client, job: str, deployment_id: str, change: dict[str, object], why: str
) -> None:
    body = {**deployment_body("emulator", job), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = create(http, deployment_id, body)
    assert response.status_code == 400
    assert why in response.json()["error"]["message"]


def test_the_attached_job_must_train_the_same_base_model(emu: Emulator, http: httpx.Client) -> None:
    other = emu.create_trainer_job(base_model="accounts/fireworks/models/other", job_id="o")
    response = create(http, "d1", deployment_body("emulator", other))
    assert response.status_code == 400
    assert "trains 'accounts/fireworks/models/other'" in response.json()["error"]["message"]


@pytest.mark.fireworks_emulator(deployment_start_seconds=60, deployment_delete_seconds=30)
def test_states_follow_the_clock(emu: Emulator, http: httpx.Client, job: str) -> None:
    deployment = Deployment.create(http, emu.account_id, "slow", job)
    assert deployment.get()["state"] == "CREATING"
    assert deployment.replicas() == []
    emu.advance_time(60)
    assert deployment.get()["state"] == "READY"
    assert deployment.current() == [None]
    assert (
        http.delete(deployment.path, params={"ignoreChecks": "true", "hard": "true"}).json() == {}
    )
    assert deployment.get()["state"] == "DELETING"
    assert deployment.replicas() == []
    emu.advance_time(30)
    assert http.get(deployment.path).status_code == 404
    assert create(http, "slow", deployment_body("emulator", job)).status_code == 200


def test_unknown_deployments_are_404(http: httpx.Client) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = http.request(method, f"{ROOT}/nope", json={} if method == "PATCH" else None)
        assert response.status_code == 404
    assert http.post(f"{ROOT}/nope:scale", json={"replicaCount": 1}).status_code == 404
    assert http.get("/v1/accounts/other/deployments/x").status_code == 403


def test_patch_with_a_mask_changes_only_those_fields(
    http: httpx.Client, job: str, emu: Emulator
) -> None:
    deployment = Deployment.create(http, emu.account_id, "d1", job)
    before = deployment.get()
    response = http.patch(
        deployment.path,
        params={"updateMask": "description,max_replica_count"},
        json={"description": "new", "maxReplicaCount": 3, "minReplicaCount": 0},
    )
    after = response.json()
    assert (after["description"], after["maxReplicaCount"]) == ("new", 3)
    assert after["minReplicaCount"] == before["minReplicaCount"] == 1  # not in the mask
    assert after["hotLoadTrainerJob"] == before["hotLoadTrainerJob"]


def test_patch_without_a_mask_replaces_every_mutable_field(
    http: httpx.Client, job: str, emu: Emulator
) -> None:
    deployment = Deployment.create(http, emu.account_id, "d1", job)
    # What the official scale_to_zero sends: the fields it leaves out are reset too.
    after = http.patch(deployment.path, json={"maxReplicaCount": 0, "minReplicaCount": 0}).json()
    assert (after["minReplicaCount"], after["maxReplicaCount"]) == (0, 0)
    assert after["replicaCount"] == 0
    assert "hotLoadTrainerJob" not in after
    assert after["enableHotLoad"] is False
    assert after["baseModel"] == BASE_MODEL  # immutable fields stay
    assert deployment.signal("x").status_code == 400  # hot load was switched off with the rest


@pytest.mark.parametrize(
    ("mask", "body", "why"),
    [
        ("base_model", {"baseModel": "accounts/fireworks/models/other"}, "cannot be changed"),
        ("no_such_field", {}, "unknown field 'no_such_field'"),
        ("description", {"color": "red"}, 'Unknown name "color"'),
    ],
)
def test_patch_checks_its_input(
    http: httpx.Client, job: str, emu: Emulator, mask: str, body: dict[str, object], why: str
) -> None:
    deployment = Deployment.create(http, emu.account_id, "d1", job)
    response = http.patch(deployment.path, params={"updateMask": mask}, json=body)
    assert response.status_code == 400
    assert why in response.json()["error"]["message"]


def test_scale_sets_the_replica_count(http: httpx.Client, job: str, emu: Emulator) -> None:
    deployment = Deployment.create(http, emu.account_id, "d1", job)
    scaled = http.post(f"{deployment.path}:scale", json={"replicaCount": 3}).json()
    assert (scaled["replicaCount"], scaled["desiredReplicaCount"]) == (3, 3)
    assert deployment.current() == [None, None, None]
    emu.set_replica_count("d1", 1)
    assert len(deployment.replicas()) == 1
    assert http.post(f"{deployment.path}:scale", json={"replicaCount": -1}).status_code == 400


def test_switching_the_transition_type_rolls_the_pods(
    http: httpx.Client, job: str, emu: Emulator
) -> None:
    deployment = Deployment.create(http, emu.account_id, "d1", job)
    emu.set_transition_type("d1", "SYNC")
    assert deployment.get()["hotLoadTransitionType"] == "SYNC"


@pytest.mark.parametrize(
    ("route", "request_args"),
    [
        ("deployments", ("GET", f"{ROOT}/d1")),
        ("deployments", ("POST", ROOT)),
        ("scale", ("POST", f"{ROOT}/d1:scale")),
        ("hot_load", ("GET", "/hot_load/v1/models/hot_load")),
        ("completions", ("POST", "/inference/v1/completions")),
    ],
)
def test_fault_rules_apply_to_the_new_routes(
    emu: Emulator, http: httpx.Client, route: str, request_args: tuple[str, str]
) -> None:
    rule = emu.faults.add(route, statuses=[503], retry_after=2)
    method, path = request_args
    response = http.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert rule.injected == 1
    assert emu.request_log[-1].route == path


def test_a_restarted_emulator_keeps_the_resource_not_the_snapshot(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Emulator(state) as first:
        job = first.create_trainer_job(job_id="kept")
        deployment_id = first.create_deployment("kept-deploy", hot_load_trainer_job=job)
        resource = {k: v for k, v in first.deployment(deployment_id).items() if k != "ledger"}
    with Emulator(state) as second:
        again = second.deployment(deployment_id)
        assert again["hotLoadTrainerJob"] == resource["hotLoadTrainerJob"]
        assert again["createTime"] == resource["createTime"]
        assert [r["current_snapshot_identity"] for r in again["replicas"]] == [None]
