"""The hot-load API: signal checks, load-time refusals, restarts, holds, lagging replicas.

Each refusal leaves the replica serving what it served before; the faults of the weight-sync
spec each have a test here, driven over HTTP, timed by the emulator's clock and holds.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from fireworks_training.emulator import Emulator, blobs

from .kit import BASE_MODEL, Deployment, Trainer

HOT_LOAD = "/hot_load/v1/models/hot_load"


@pytest.fixture
def trainer(emu: Emulator, http: httpx.Client, job: str) -> Trainer:
    return Trainer.start(http, emu.trainer_url(job), emu.account_id)


@pytest.fixture
def deployment(emu: Emulator, http: httpx.Client, job: str) -> Deployment:
    return Deployment.create(http, emu.account_id, "deploy", job)


@pytest.fixture
def base(trainer: Trainer, deployment: Deployment) -> str:
    """A base snapshot, loaded."""
    identity = str(trainer.save_sampler("base")["path"])
    deployment.load(identity)
    return identity


def bits(emu: Emulator, deployment: Deployment, replica: int = 0) -> np.ndarray:
    return blobs.bf16_bits(emu.deployment_weights(deployment.deployment_id, replica))


def assert_refused(deployment: Deployment, identity: str, served: str | None, why: str) -> None:
    (replica,) = deployment.replicas()
    assert replica["current_snapshot_identity"] == served
    loading = replica["loading_state"]
    assert loading["stage"] == "error"
    assert loading["target_snapshot_identity"] == identity
    assert why in loading["error_message"]


def test_a_delta_naming_another_previous_snapshot_is_refused(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    before = bits(emu, deployment)
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta, previous="step-0-deadbeef", delta=True)
    assert_refused(deployment, delta, base, "names previous snapshot 'step-0-deadbeef'")
    assert (bits(emu, deployment) == before).all()  # the old bits are still served
    deployment.load(delta, previous=base, delta=True)  # a corrected signal loads
    assert deployment.current() == [delta]


def test_a_delta_against_a_base_never_loaded_is_refused(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    trainer.train_step()
    trainer.save_sampler("b2")  # a new base, never hot-loaded: the trainer's XOR base now
    trainer.train_step()
    delta = trainer.save_sampler("step-2", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)  # the previous identity is right...
    assert_refused(deployment, delta, base, "did not load")  # ...the XOR base is not


def test_a_delta_without_metadata_is_refused(
    trainer: Trainer, deployment: Deployment, base: str
) -> None:
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta)  # sent as a full load
    assert_refused(deployment, delta, base, "needs incremental_snapshot_metadata")


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("compression_format", "zstd", "compression_format must be 'arc_v2'"),
        ("checksum_format", "adler32", "checksum_format must be 'alder32'"),
    ],
)
def test_a_delta_with_other_formats_is_refused(
    trainer: Trainer, deployment: Deployment, base: str, field: str, value: str, why: str
) -> None:
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    meta = {
        "previous_snapshot_identity": base,
        "compression_format": "arc_v2",
        "checksum_format": "alder32",
        field: value,
    }
    body = {"identity": delta, "incremental_snapshot_metadata": meta}
    assert deployment.http.post(HOT_LOAD, headers=deployment.headers, json=body).status_code == 200
    assert_refused(deployment, delta, base, why)


def test_a_full_snapshot_with_delta_metadata_is_refused(
    trainer: Trainer, deployment: Deployment, base: str
) -> None:
    trainer.train_step()
    full = trainer.save_sampler("step-1")["path"]
    deployment.load(full, previous=base, delta=True)
    assert_refused(deployment, full, base, "only for deltas")


def test_identities_outside_the_attached_job_are_refused(
    emu: Emulator, http: httpx.Client, trainer: Trainer, deployment: Deployment, base: str, job: str
) -> None:
    trainer.save_state("state-1")
    deployment.load("state-1")
    assert_refused(deployment, "state-1", base, "training state checkpoint")
    deployment.load("never-saved")
    assert_refused(deployment, "never-saved", base, "not found in trainer job")
    other = emu.create_trainer_job(job_id="other-job")
    elsewhere = Trainer.start(http, emu.trainer_url(other), emu.account_id).save_sampler("x")[
        "path"
    ]
    deployment.load(f"accounts/emulator/rlorTrainerJobs/{other}/checkpoints/{elsewhere}")
    assert deployment.replicas()[0]["loading_state"]["stage"] == "error"
    # The 4-segment name of the attached job's own snapshot loads.
    trainer.train_step()
    mine = trainer.save_sampler("step-1")["path"]
    deployment.load(f"accounts/emulator/rlorTrainerJobs/{job}/checkpoints/{mine}")
    assert deployment.current() == [f"accounts/emulator/rlorTrainerJobs/{job}/checkpoints/{mine}"]


def test_an_expired_snapshot_is_refused(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    body = {"path": f"short-{trainer.session_id}", "checkpoint_type": "base", "ttl_seconds": 10}
    short = trainer.run("save_weights_for_sampler", body)["path"]
    emu.advance_time(11)
    deployment.load(short)
    assert_refused(deployment, short, base, "not found")


def test_a_restart_forgets_the_snapshot_and_the_chain(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    emu.restart_deployment(deployment.deployment_id, seconds=30)
    assert deployment.replicas() == []  # no replica while it restarts
    refused = deployment.signal(base)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    emu.advance_time(31)
    assert deployment.current() == [None]
    assert deployment.get()["replicaCount"] == 1
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)
    assert_refused(deployment, delta, None, "the replica serves None")
    fresh = trainer.save_sampler("step-1b")["path"]  # the client recovers with a base
    deployment.load(fresh)
    assert deployment.current() == [fresh]


def test_a_restart_may_keep_the_snapshot(emu: Emulator, deployment: Deployment, base: str) -> None:
    before = bits(emu, deployment)
    emu.restart_deployment(deployment.deployment_id, keep_snapshot=True)
    assert deployment.current() == [base]
    assert (bits(emu, deployment) == before).all()


def test_a_held_hot_load_serves_the_old_bits_until_released(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    before = bits(emu, deployment)
    emu.hold_hotloads()
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)
    (replica,) = deployment.replicas()
    assert replica["current_snapshot_identity"] == base
    assert replica["readiness"] is True  # ASYNC: serving the old weights meanwhile
    assert replica["loading_state"] == {"stage": "downloading", "target_snapshot_identity": delta}
    assert (bits(emu, deployment) == before).all()
    emu.release_hotloads()
    assert deployment.current() == [delta]  # the later completion is visible in the status


def test_a_hot_load_takes_its_time_on_the_clock(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    emu.set_hotload_seconds(20)
    trainer.train_step()
    full = trainer.save_sampler("step-1")["path"]
    deployment.load(full)
    assert deployment.replicas()[0]["loading_state"]["stage"] == "downloading"
    emu.advance_time(19)
    assert deployment.current() == [base]
    emu.advance_time(1)
    assert deployment.current() == [full]


def test_a_lagging_replica_stays_on_the_old_snapshot(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    deployment = Deployment.create(http, emu.account_id, "two", job, replicas=2)
    base = trainer.save_sampler("base")["path"]
    deployment.load(base)
    assert deployment.current() == [base, base]
    emu.lag_replica("two", 1)
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)
    first, second = deployment.replicas()
    assert first["current_snapshot_identity"] == delta
    assert second["current_snapshot_identity"] == base  # replicas[0] alone says "done"
    assert second["loading_state"]["stage"] == "downloading"
    assert (bits(emu, deployment, 1) != bits(emu, deployment, 0)).any()
    emu.lag_replica("two", 1, lagging=False)
    assert deployment.current() == [delta, delta]
    assert (bits(emu, deployment, 1) == bits(emu, deployment, 0)).all()


@pytest.mark.parametrize("fault", [503, "drop_response", "drop_connection"])
def test_a_repeated_signal_is_idempotent(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str, fault: int | str
) -> None:
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    rule = emu.faults.add("hot_load", script=[fault])
    if fault == 503:
        assert deployment.signal(delta, base, delta=True).status_code == 503
    else:
        with pytest.raises(httpx.RemoteProtocolError):
            deployment.signal(delta, base, delta=True)
    assert rule.injected == 1
    deployment.load(delta, previous=base, delta=True)  # the client's retry
    deployment.load(delta, previous=base, delta=True)  # and once more: nothing changes
    assert deployment.current() == [delta]
    results = [e["result"] for e in emu.deployment_ledger(deployment.deployment_id)]
    # A signal whose answer was lost had been acted on: every resend after it changes nothing.
    acted = (
        ["loaded", "unchanged", "unchanged"]
        if fault == "drop_response"
        else ["loaded", "unchanged"]
    )
    assert results == ["loaded", *acted]


def test_a_failed_load_is_cleared_by_a_new_signal(
    emu: Emulator, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    trainer.train_step()
    full = trainer.save_sampler("step-1")["path"]
    emu.fail_next_hotload(full, message="disk full on the replica")
    deployment.load(full)
    assert_refused(deployment, full, base, "disk full on the replica")
    deployment.load(full)  # the same identity again: a new attempt, the stale error goes
    (replica,) = deployment.replicas()
    assert replica["current_snapshot_identity"] == full
    assert replica["loading_state"] == {"stage": "done", "target_snapshot_identity": full}


def test_reattaching_to_another_trainer_needs_a_full_load(
    emu: Emulator, http: httpx.Client, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    other = emu.create_trainer_job(job_id="next-job")
    patched = http.patch(
        deployment.path,
        params={"updateMask": "hot_load_trainer_job"},
        json={"hotLoadTrainerJob": f"accounts/emulator/rlorTrainerJobs/{other}"},
    )
    assert patched.status_code == 200
    assert patched.json()["hotLoadTrainerJob"] == f"accounts/emulator/rlorTrainerJobs/{other}"
    assert deployment.current() == [None]  # the pods rolled
    next_trainer = Trainer.start(http, emu.trainer_url(other), emu.account_id)
    next_trainer.save_sampler("base")
    next_trainer.train_step()
    delta = next_trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)
    assert_refused(deployment, delta, None, "the replica serves None")
    deployment.load(base)  # the old job's snapshot no longer resolves
    assert deployment.replicas()[0]["loading_state"]["stage"] == "error"
    fresh = next_trainer.save_sampler("base-2")["path"]
    deployment.load(fresh)
    assert deployment.current() == [fresh]


def test_the_ledger_route_lists_and_resets(
    emu: Emulator, http: httpx.Client, trainer: Trainer, deployment: Deployment, base: str
) -> None:
    listed = http.get(f"{deployment.path}/ledger").json()["entries"]
    assert [(e["identity"], e["result"]) for e in listed] == [(base, "loaded")]
    before = bits(emu, deployment)
    assert http.delete(f"{deployment.path}/ledger").status_code == 200
    assert http.get(f"{deployment.path}/ledger").json() == {"entries": []}
    assert deployment.current() == [None]
    assert (bits(emu, deployment) == before).all()  # bits kept, identity forgotten
    trainer.train_step()
    delta = trainer.save_sampler("step-1", "delta")["path"]
    deployment.load(delta, previous=base, delta=True)
    assert_refused(deployment, delta, None, "the replica serves None")


# -- checks answered at once ---------------------------------------------------------------


def test_status_answers_before_any_signal(deployment: Deployment) -> None:
    (replica,) = deployment.replicas()
    assert replica == {
        "current_snapshot_identity": None,
        "readiness": True,
        "loading_state": {"stage": "idle"},
        "loaded_adapters": [],
    }


@pytest.mark.parametrize(
    ("headers", "status", "why"),
    [
        ({"fireworks-model": BASE_MODEL}, 404, "None"),
        ({"fireworks-deployment": "accounts/emulator/deployments/nope"}, 404, "nope"),
        ({"fireworks-deployment": "accounts/other/deployments/deploy"}, 404, "other"),
        ({"fireworks-model": "accounts/fireworks/models/other"}, 400, "does not match"),
    ],
)
def test_signal_headers_are_checked(
    deployment: Deployment, headers: dict[str, str], status: int, why: str
) -> None:
    sent = {**deployment.headers, **headers}
    if "fireworks-deployment" not in headers and status == 404:
        del sent["fireworks-deployment"]
    for method in ("POST", "GET"):
        response = deployment.http.request(
            method, HOT_LOAD, headers=sent, json={"identity": "x"} if method == "POST" else None
        )
        assert response.status_code == status
        assert why in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"identity": "x", "force": True}, "Extra inputs are not permitted, field: 'force'"),
        ({"reset_prompt_cache": True}, "identity is required"),
        ({"identity": "x", "incremental_snapshot_metadata": {"x": 1}}, "field: 'x'"),
        ({"identity": "x", "incremental_snapshot_metadata": {}}, "previous_snapshot_identity"),
    ],
)
def test_signal_bodies_are_checked(
    deployment: Deployment, body: dict[str, object], why: str
) -> None:
    response = deployment.http.post(HOT_LOAD, headers=deployment.headers, json=body)
    assert response.status_code == 400
    assert why in response.json()["error"]["message"]


def test_a_legacy_gateway_refuses_reset_prompt_cache(
    emu: Emulator, trainer: Trainer, deployment: Deployment
) -> None:
    emu.set_legacy_reset_prompt_cache(True)
    identity = trainer.save_sampler("base")["path"]
    refused = deployment.signal(identity)
    assert refused.status_code == 400
    text = refused.text.lower()
    assert "reset_prompt_cache" in text
    assert "extra inputs are not permitted" in text
    body = {"identity": identity}
    assert deployment.http.post(HOT_LOAD, headers=deployment.headers, json=body).status_code == 200
    assert deployment.current() == [identity]


def test_hot_load_must_be_enabled(emu: Emulator, http: httpx.Client, job: str) -> None:
    off = Deployment.create(http, emu.account_id, "off", job, enableHotLoad=False)
    response = off.signal("anything")
    assert response.status_code == 400
    assert "not enabled" in response.json()["error"]["message"]


def test_a_deployment_scaled_to_zero_has_no_replica_to_load(
    http: httpx.Client, deployment: Deployment
) -> None:
    scaled = http.post(f"{deployment.path}:scale", json={"replicaCount": 0})
    assert scaled.json()["replicaCount"] == 0
    assert deployment.replicas() == []
    assert deployment.signal("anything").status_code == 503


def test_the_official_headers_authenticate_with_bearer_alone(
    emu: Emulator, deployment: Deployment
) -> None:
    headers = {**deployment.headers, "Authorization": f"Bearer {emu.api_key}"}
    response = httpx.get(emu.base_url + HOT_LOAD, headers=headers)
    assert response.status_code == 200
