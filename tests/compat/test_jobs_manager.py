"""The trainer-job calls of the cookbooks (checklist items 18-23), as they write them.

Against the emulator: jobs are created, waited for, preempted, reconnected, resumed and
deleted with the official argument names, and the results are read as the cookbook reads
them (``endpoint.base_url``, ``created.job_id``, ``mgr.get(job_id).get("state")``, ...).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator

import httpx
import pytest

from fireworks_training.emulator import Emulator
from fireworks_training.errors import TrainerJobError
from fireworks_training.trainer import (
    CreatedTrainerJob,
    TrainerJobConfig,
    TrainerJobManager,
    TrainerServiceEndpoint,
)

from .conftest import BASE_MODEL, RawTrainer


@pytest.fixture
def mgr(emu: Emulator) -> Iterator[TrainerJobManager]:
    with TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url) as manager:
        yield manager


def test_18_construction_and_account_id(emu: Emulator) -> None:
    manager = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    assert manager.trainer_gateway_url == emu.base_url
    manager.close()
    # Different by design: the official manager refuses account_id=; this one takes it and
    # skips the account lookup.
    given = TrainerJobManager(emu.api_key, emu.base_url, account_id=emu.account_id)
    emu.request_log.clear()
    assert given.account_id == emu.account_id
    assert not any(r.path.startswith("/v1/accounts?") for r in emu.request_log)
    given.close()


def test_20_reconnect_after_preemption_gives_the_trainer_url(
    emu: Emulator, mgr: TrainerJobManager, http: httpx.Client
) -> None:
    job_id = emu.create_trainer_job(job_id="reconnect-me")
    mgr.wait_for_existing(job_id)
    emu.preempt(job_id)
    policy_ep = mgr.reconnect_and_wait(job_id, timeout_s=300)
    assert isinstance(policy_ep, TrainerServiceEndpoint)
    assert policy_ep.job_id == job_id
    assert policy_ep.job_name == f"accounts/{emu.account_id}/rlorTrainerJobs/{job_id}"
    assert policy_ep.base_url == emu.trainer_url(job_id)
    # The endpoint is where a training client connects: the trainer API answers there.
    assert http.get(f"{policy_ep.base_url}/api/v1/healthz").status_code == 200
    assert RawTrainer(http, policy_ep.base_url).start().model_id
    assert emu.job_state(job_id) == "JOB_STATE_RUNNING"
    assert dataclasses.asdict(policy_ep)["max_context_length"] is None


def test_21_waiting_reading_and_deleting_jobs(emu: Emulator, mgr: TrainerJobManager) -> None:
    job_id = emu.create_trainer_job(job_id="lifecycle")
    job_name = f"accounts/{emu.account_id}/rlorTrainerJobs/{job_id}"
    ep = mgr.wait_for_existing(job_id)
    assert (ep.job_id, ep.job_name) == (job_id, job_name)
    again = mgr.wait_for_ready(job_id, job_name=job_name, timeout_s=60)
    assert again == ep
    assert mgr.get(job_id).get("state", "") == "JOB_STATE_RUNNING"
    assert mgr.get(job_id)["state"] == "JOB_STATE_RUNNING"
    emu.preempt(job_id)
    assert mgr.get(job_id)["state"] == "JOB_STATE_FAILED"
    resumed = mgr.resume_and_wait(job_id)
    assert resumed.base_url == emu.trainer_url(job_id)
    assert mgr.try_get(job_id) is not None
    assert mgr.try_get("never-created") is None
    mgr.delete(job_id)
    mgr.delete(job_id)  # gone already: still no error
    mgr.delete("never-created")
    with pytest.raises(TrainerJobError, match="JOB_STATE_DELETED"):
        mgr.wait_for_existing(job_id)


def test_22_create_then_wait_and_create_and_wait(emu: Emulator, mgr: TrainerJobManager) -> None:
    config = TrainerJobConfig(base_model=BASE_MODEL, lora_rank=0, learning_rate=1e-4)
    created = mgr.create(config)
    assert isinstance(created, CreatedTrainerJob)
    assert created.job_name == f"accounts/{emu.account_id}/rlorTrainerJobs/{created.job_id}"
    assert created.job_id.startswith("training-api-service-")
    endpoint = mgr.wait_for_ready(created.job_id, job_name=created.job_name, timeout_s=120)
    assert endpoint.job_name == created.job_name
    ready = mgr.create_and_wait(TrainerJobConfig(BASE_MODEL, display_name="second"))
    assert ready.base_url == emu.trainer_url(ready.job_id)
    assert mgr.get(ready.job_id)["displayName"] == "second"


def test_23_every_cookbook_keyword_and_changes_after_construction(
    emu: Emulator, mgr: TrainerJobManager
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # values left None warn about nothing
        config = TrainerJobConfig(
            base_model=BASE_MODEL,
            lora_rank=0,
            max_context_length=2048,
            learning_rate=1e-4,
            gradient_accumulation_steps=None,
            display_name="cookbook-run",
            hot_load_deployment_id=None,
            region="US_VIRGINIA_1",
            extra_args=["--trainer-flag 1"],
            forward_only=False,
            skip_validations=True,
            training_shape_ref="accounts/fireworks/trainingShapes/ts-tiny-bigram-policy",
        )
    # The older infra code switches the launch path by setting attributes.
    config.training_shape_ref = None
    config.node_count = None
    config.purpose = "PURPOSE_PILOT"
    config.managed_by = "cookbook"
    created = mgr.create(config)
    sent = [r for r in emu.request_log if r.method == "POST" and created.job_id in r.path][-1]
    assert sent.body["trainingConfig"]["maxContextLength"] == 2048
    assert sent.body["trainingConfig"]["extraArgs"] == ["--trainer-flag", "1"]
    assert (sent.body["purpose"], sent.body["managedBy"], sent.body["nodeCount"]) == (
        "PURPOSE_PILOT",
        "cookbook",
        1,
    )
    assert "skipValidations=true" in sent.path
    assert mgr.get(created.job_id)["trainingConfig"]["maxContextLength"] == 2048


def test_managed_job_fields_are_ignored_with_a_warning(mgr: TrainerJobManager) -> None:
    with pytest.warns(UserWarning, match="ignores epochs"):
        config = TrainerJobConfig(BASE_MODEL, epochs=2)  # type: ignore[call-arg]
    assert mgr.create(config).job_id
