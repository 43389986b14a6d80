"""TrainerJobManager against the emulator: create, idempotency, preemption, deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fireworks_training.clients._job_config import create_job_body
from fireworks_training.clients.jobs import (
    AsyncTrainerJobManager,
    TrainerJobConfig,
    TrainerJobManager,
    TrainerServiceEndpoint,
)
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.errors import TrainerJobError

from .conftest import call

pytest.importorskip("uvicorn")
from fireworks_training.emulator import Emulator

pytestmark = pytest.mark.anyio

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
CONFIG = TrainerJobConfig(BASE_MODEL, learning_rate=1e-4, display_name="e2e", node_count=1)


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(params=["sync", "async"])
async def manager(request: pytest.FixtureRequest, emu: Any) -> Any:
    cls = TrainerJobManager if request.param == "sync" else AsyncTrainerJobManager
    made = cls(emu.api_key, emu.base_url)
    yield made
    await call(made.close())


async def test_create_and_wait_then_train(manager: Any, emu: Any) -> None:
    ready = await call(manager.create_and_wait(CONFIG, timeout_s=30))
    assert isinstance(ready, TrainerServiceEndpoint)
    assert ready.base_url == emu.trainer_url(ready.job_id)
    assert ready.job_name == f"accounts/{emu.account_id}/rlorTrainerJobs/{ready.job_id}"
    job = await call(manager.get(ready.job_id))
    assert (job["state"], job.display_name) == ("JOB_STATE_RUNNING", "e2e")
    assert await call(manager.trainer_url(ready.job_id)) == ready.base_url
    with FiretitanServiceClient(
        ready.base_url, api_key=emu.api_key, heartbeat_interval_s=None
    ) as service:
        trainer = service.create_training_client(BASE_MODEL)
        assert trainer.save_state("step-1").result(30).path.endswith("/step-1")


async def test_create_is_idempotent_by_id(manager: Any, emu: Any) -> None:
    job_id = f"idem-{type(manager).__name__.lower()}"
    first = await call(manager.create(CONFIG, job_id=job_id))
    again = await call(manager.create(CONFIG, job_id=job_id))
    assert first == again
    creates = [r for r in emu.request_log if r.method == "POST" and job_id in r.path]
    assert len(creates) == 2
    assert creates[0].body == create_job_body(CONFIG)


async def test_reconnect_after_preemption(manager: Any, emu: Any) -> None:
    job = await call(manager.create_and_wait(CONFIG, timeout_s=30))
    emu.preempt(job.job_id)
    assert emu.job_state(job.job_id) == "JOB_STATE_FAILED"
    back = await call(manager.reconnect_and_wait(job.job_id, timeout_s=30))
    assert back == job
    assert emu.job_state(job.job_id) == "JOB_STATE_RUNNING"
    assert await call(manager.reconnect_and_wait(job.job_id, timeout_s=30)) == job


async def test_deleted_job_is_a_clear_error(manager: Any, emu: Any) -> None:
    job = await call(manager.create_and_wait(CONFIG, timeout_s=30))
    await call(manager.delete(job.job_id))
    await call(manager.delete(job.job_id))  # already gone: done
    with pytest.raises(TrainerJobError, match="JOB_STATE_DELETED"):
        await call(manager.reconnect_and_wait(job.job_id, timeout_s=30))
