"""Accounts, auth, trainer jobs and their states, health."""

from __future__ import annotations

import httpx
import pytest

from fireworks_training.emulator import Emulator

JOBS = "/v1/accounts/emulator/rlorTrainerJobs"


def test_accounts_lists_exactly_one(http: httpx.Client) -> None:
    response = http.get("/v1/accounts", params={"pageSize": 2})
    assert response.status_code == 200
    assert [a["name"] for a in response.json()["accounts"]] == ["accounts/emulator"]


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}, {"Authorization": "emulator-key"}])
def test_wrong_or_missing_key_is_401(emu: Emulator, headers: dict[str, str]) -> None:
    response = httpx.get(f"{emu.base_url}/v1/accounts", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"code", "message", "status", "details"}  # the Google-style body
    assert error["code"] == 401
    assert error["status"] == "UNAUTHENTICATED"
    assert error["details"] == []
    assert emu.api_key not in response.text


@pytest.mark.parametrize("name", ["X-Api-Key", "X-API-Key", "x-api-key"])
def test_key_header_name_is_case_insensitive(emu: Emulator, name: str) -> None:
    response = httpx.get(f"{emu.base_url}/v1/accounts", headers={name: emu.api_key})
    assert response.status_code == 200


def test_trainer_api_needs_the_key_too(emu: Emulator, job: str) -> None:
    response = httpx.get(f"{emu.trainer_url(job)}/api/v1/healthz")
    assert response.status_code == 401


def test_other_account_is_403(http: httpx.Client, job: str) -> None:
    response = http.get(f"/v1/accounts/someone-else/rlorTrainerJobs/{job}")
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


def _create(http: httpx.Client, job_id: str, **config: object) -> httpx.Response:
    body = {
        "serviceMode": True,
        "trainingConfig": {"baseModel": "accounts/fireworks/models/tiny-bigram", **config},
        "displayName": "my job",
    }
    return http.post(JOBS, params={"rlorTrainerJobId": job_id}, json=body)


def test_create_get_and_409(http: httpx.Client) -> None:
    created = _create(http, "job-a", loraRank=8, learningRate=1e-4, maxContextLength=128)
    assert created.status_code == 200
    job = created.json()
    assert job["name"] == "accounts/emulator/rlorTrainerJobs/job-a"
    assert job["state"] == "JOB_STATE_PENDING"
    assert job["trainingConfig"] == {
        "baseModel": "accounts/fireworks/models/tiny-bigram",
        "loraRank": 8,
        "learningRate": 1e-4,
        "maxContextLength": 128,
    }
    assert job["displayName"] == "my job"
    assert "createTime" in job
    fetched = http.get(f"{JOBS}/job-a").json()
    assert fetched["state"] == "JOB_STATE_RUNNING"
    again = _create(http, "job-a")
    assert again.status_code == 409
    assert again.json()["error"]["status"] == "ALREADY_EXISTS"


def test_create_validates(http: httpx.Client) -> None:
    assert http.post(JOBS, json={"trainingConfig": {}}).status_code == 400
    assert _create(http, "bad/id").status_code in (400, 404)
    assert _create(http, "ok-id", loraRank=-1).status_code == 400


def test_job_stays_pending_for_the_configured_start_delay(tmp_path: object) -> None:
    with Emulator(job_start_seconds=60.0) as emu:
        job_id = emu.create_trainer_job()
        assert emu.job_state(job_id) == "JOB_STATE_PENDING"
        emu.advance_time(61)
        assert emu.job_state(job_id) == "JOB_STATE_RUNNING"


def test_unknown_job_is_404(http: httpx.Client) -> None:
    assert http.get(f"{JOBS}/nope").status_code == 404
    assert http.get(f"{JOBS}/nope/checkpoints").status_code == 404
    assert http.post(f"{JOBS}/nope:resume").status_code == 404


def test_healthz_follows_the_job_state(emu: Emulator, http: httpx.Client, job: str) -> None:
    health = f"{emu.trainer_url(job)}/api/v1/healthz"
    assert http.get(health).status_code == 200
    emu.preempt(job)
    assert http.get(f"{JOBS}/{job}").json()["state"] == "JOB_STATE_FAILED"
    assert http.get(health).status_code == 503
    resumed = http.post(f"{JOBS}/{job}:resume")
    assert resumed.status_code == 200
    assert resumed.json()["state"] in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")
    assert http.get(f"{JOBS}/{job}").json()["state"] == "JOB_STATE_RUNNING"
    assert http.get(health).status_code == 200


def test_resume_of_a_running_job_is_400(http: httpx.Client, job: str) -> None:
    response = http.post(f"{JOBS}/{job}:resume", json={})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["reason"] == "FAILED_PRECONDITION"


def test_delete_keeps_the_record(emu: Emulator, http: httpx.Client, job: str) -> None:
    emu.add_checkpoint_rows(job, 3)
    assert http.delete(f"{JOBS}/{job}").status_code == 200
    assert http.get(f"{JOBS}/{job}").json()["state"] == "JOB_STATE_DELETED"
    assert len(http.get(f"{JOBS}/{job}/checkpoints").json()["checkpoints"]) == 3
    assert http.get(f"{emu.trainer_url(job)}/api/v1/healthz").status_code == 503


@pytest.mark.parametrize(
    ("shape", "status", "reason"),
    [
        ("accounts/fireworks/trainingShapes/ts-nope", 404, "NOT_FOUND"),
        ("accounts/fireworks/trainingShapes/ts-tiny-bigram-policy/versions/9", 404, "NOT_FOUND"),
        ("accounts/someone-else/trainingShapes/ts", 403, "PERMISSION_DENIED"),
        ("trainingShapes/ts-tiny-bigram-policy", 400, "INVALID_ARGUMENT"),
        ("accounts/-/trainingShapes/-", 400, "INVALID_ARGUMENT"),
    ],
)
def test_a_job_on_an_unpublished_training_shape_is_refused(
    emu: Emulator, http: httpx.Client, shape: str, status: int, reason: str
) -> None:
    reply = http.post(
        f"/v1/accounts/{emu.account_id}/rlorTrainerJobs",
        params={"rlorTrainerJobId": "shaped", "trainingShape": shape},
        json={"trainingConfig": {"baseModel": "accounts/fireworks/models/tiny-bigram"}},
    )
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["details"][0]["reason"] == reason
    assert http.get(f"/v1/accounts/{emu.account_id}/rlorTrainerJobs/shaped").status_code == 404


@pytest.mark.parametrize("version", ["", "/versions/1"])
def test_a_job_on_a_published_training_shape_is_created(
    emu: Emulator, http: httpx.Client, version: str
) -> None:
    shape = f"accounts/fireworks/trainingShapes/ts-tiny-bigram-policy{version}"
    reply = http.post(
        f"/v1/accounts/{emu.account_id}/rlorTrainerJobs",
        params={"rlorTrainerJobId": "shaped", "trainingShape": shape},
        json={"trainingConfig": {"baseModel": "accounts/fireworks/models/tiny-bigram"}},
    )
    assert reply.status_code == 200, reply.text
