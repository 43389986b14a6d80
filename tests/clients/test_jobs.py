"""TrainerJobManager and its async twin: the exact wire, idempotent create, waiting rules."""

from __future__ import annotations

import inspect
import itertools
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from fireworks_training._constants import JOB_POLL_CAP_S
from fireworks_training.clients._job_rules import RESUME_GRACE_S
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.clients.jobs import (
    AsyncTrainerJobManager,
    CreatedTrainerJob,
    TrainerJob,
    TrainerJobConfig,
    TrainerJobManager,
    TrainerServiceEndpoint,
)
from fireworks_training.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    TrainerJobError,
    TrainerJobTimeoutError,
)

from .conftest import ACCOUNT, BASE, BASE_MODEL, JOB, KEY, FakeClock, call, row

pytestmark = pytest.mark.anyio

AnyManager = TrainerJobManager | AsyncTrainerJobManager
JOBS = f"/v1/accounts/{ACCOUNT}/rlorTrainerJobs"
JOB_PATH = f"{JOBS}/{JOB}"
TRAINER = f"/training/v1/rlorTrainerJobs/{ACCOUNT}/{JOB}"
HEALTH = f"{TRAINER}/api/v1/healthz"
CONFIG = TrainerJobConfig(BASE_MODEL, lora_rank=16)


def make_manager(flavour: str, **kwargs: Any) -> AnyManager:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", BASE)
    if flavour == "sync":
        return TrainerJobManager(**kwargs)
    return AsyncTrainerJobManager(**kwargs)


@pytest.fixture(params=["sync", "async"])
async def manager(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[AnyManager]:
    made = make_manager(request.param, account_id=ACCOUNT)
    yield made
    await call(made.close())


def job_json(state: str = "JOB_STATE_RUNNING", **extra: Any) -> dict[str, Any]:
    return {
        "name": f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}",
        "state": state,
        "trainingConfig": {"baseModel": BASE_MODEL, "loraRank": 16},
        "createTime": "2026-01-01T00:00:00Z",
        **extra,
    }


def reply(state: str = "JOB_STATE_RUNNING", **extra: Any) -> httpx.Response:
    return httpx.Response(200, json=job_json(state, **extra))


def error(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": code, "message": "no"}}, headers=headers)


# Create -----------------------------------------------------------------------------------

OFFICIAL_BODY = {
    "serviceMode": True,
    "keepAlive": False,
    "dataset": "",
    "trainingConfig": {"baseModel": BASE_MODEL, "loraRank": 16, "learningRate": 1e-5},
    "useReservation": True,
    "nodeCount": 1,
}


async def test_create_sends_the_id_as_query_and_the_config_as_body(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    route = router.post(JOBS).mock(return_value=reply("JOB_STATE_PENDING"))
    created = await call(manager.create(CONFIG, job_id=JOB))
    assert created == CreatedTrainerJob(
        job_name=f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}", job_id=JOB
    )
    sent = route.calls.last.request
    assert list(sent.url.params.multi_items()) == [
        ("skipValidations", "true"),
        ("rlorTrainerJobId", JOB),
    ]
    assert sent.headers["X-Api-Key"] == KEY
    assert json.loads(sent.content) == OFFICIAL_BODY


async def test_create_without_id_chooses_one_and_keeps_it_on_retries(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    # With the id chosen before sending, a resend cannot make a second job: 5xx is retried.
    pending = reply("JOB_STATE_PENDING")
    route = router.post(JOBS).mock(side_effect=[error(500), error(503), pending, pending])
    config = TrainerJobConfig(BASE_MODEL, lora_rank=16)
    await call(manager.create(config))
    ids = {call_.request.url.params["rlorTrainerJobId"] for call_ in route.calls}
    assert route.call_count == 3
    assert len(ids) == 1
    (chosen,) = ids
    assert re.fullmatch(r"training-api-service-[0-9a-f]{8}", chosen)
    assert config.requested_job_id is None  # the caller's config is left as it was
    await call(manager.create(config))
    assert route.calls.last.request.url.params["rlorTrainerJobId"] != chosen


async def test_create_uses_the_requested_job_id(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    route = router.post(JOBS).mock(return_value=reply("JOB_STATE_PENDING"))
    await call(manager.create(TrainerJobConfig(BASE_MODEL, requested_job_id=JOB)))
    assert route.calls.last.request.url.params["rlorTrainerJobId"] == JOB


async def test_create_409_returns_the_existing_job(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.post(JOBS).mock(return_value=error(409))
    get = router.get(JOB_PATH).mock(return_value=reply())
    created = await call(manager.create(CONFIG, job_id=JOB))
    assert created.job_id == JOB
    assert get.call_count == 1


async def test_create_409_for_another_config_stays_a_conflict(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.post(JOBS).mock(return_value=error(409))
    router.get(JOB_PATH).mock(return_value=reply())
    with pytest.raises(ConflictError):
        await call(manager.create(TrainerJobConfig("accounts/x/models/other"), job_id=JOB))


async def test_create_409_for_a_deleted_job_needs_a_new_id(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.post(JOBS).mock(return_value=error(409))
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_DELETED"))
    with pytest.raises(TrainerJobError, match="create the job under a new id"):
        await call(manager.create(CONFIG, job_id=JOB))


async def test_create_with_id_recovers_a_lost_response(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    route = router.post(JOBS).mock(side_effect=[httpx.RemoteProtocolError("dropped"), error(409)])
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_PENDING"))
    assert (await call(manager.create(CONFIG, job_id=JOB))).job_id == JOB
    assert route.call_count == 2


async def test_create_checks_the_config_before_sending(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    config = TrainerJobConfig(BASE_MODEL)
    config.training_shape_ref = "accounts/fireworks/trainingShapes/ts-8b"
    config.node_count = 2  # the shape's to choose
    with pytest.raises(InvalidArgumentError, match="node_count is the training shape's"):
        await call(manager.create(config))
    config.node_count = None
    config.lora_rank = -1
    with pytest.raises(InvalidArgumentError, match="lora_rank: must be an integer >= 0"):
        await call(manager.create(config))
    with pytest.raises(InvalidArgumentError, match="only for trainers in the fireworks account"):
        await call(manager.create(TrainerJobConfig(BASE_MODEL, disable_inactivity_cleanup=True)))
    assert router.calls.call_count == 0


# Get, delete, URLs ------------------------------------------------------------------------


async def test_get_and_delete_paths(manager: AnyManager, router: respx.MockRouter) -> None:
    get = router.get(JOB_PATH).mock(side_effect=[error(503), reply()])
    delete = router.delete(JOB_PATH).mock(return_value=httpx.Response(200, json={}))
    assert (await call(manager.get(JOB))).job_id == JOB
    assert await call(manager.delete(f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}")) is None
    assert (get.call_count, delete.call_count) == (2, 1)


async def test_try_get_is_none_for_a_missing_job(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(side_effect=[error(404), reply()])
    assert await call(manager.try_get(JOB)) is None
    job = await call(manager.try_get(JOB))
    assert isinstance(job, TrainerJob)
    assert job["state"] == "JOB_STATE_RUNNING"


async def test_delete_of_a_missing_job_is_done_other_failures_raise(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    # Different by design: the official delete only logs a failure; a job left running bills.
    router.delete(JOB_PATH).mock(side_effect=[error(404), error(403)])
    assert await call(manager.delete(JOB)) is None
    with pytest.raises(PermissionDeniedError):
        await call(manager.delete(JOB))


async def test_trainer_url_resolves_the_account_once(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    accounts = router.get("/v1/accounts").mock(
        return_value=httpx.Response(200, json={"accounts": [{"name": f"accounts/{ACCOUNT}"}]})
    )
    for flavour in ("sync", "async"):
        manager = make_manager(flavour, trainer_gateway_url="https://gw.test/")
        assert await call(manager.trainer_url(JOB)) == f"https://gw.test{TRAINER}"
        assert await call(manager.trainer_url("job-2")) == f"https://gw.test{TRAINER[:-7]}job-2"
        await call(manager.close())
    assert accounts.call_count == 2
    assert make_manager("sync", account_id=ACCOUNT).trainer_url(JOB) == BASE + TRAINER


def test_repr_shows_no_key() -> None:
    text = repr(make_manager("sync", account_id=ACCOUNT))
    assert KEY not in text
    assert ACCOUNT in text


# Waiting ----------------------------------------------------------------------------------


async def test_wait_for_ready_polls_until_running_and_healthy(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(JOB_PATH).mock(
        side_effect=[reply("JOB_STATE_PENDING"), reply("JOB_STATE_PENDING"), reply(), reply()]
    )
    health = router.get(HEALTH).mock(side_effect=[error(503), httpx.Response(200, json={})])
    ready = await call(manager.wait_for_ready(JOB, timeout=60))
    assert ready == TrainerServiceEndpoint(
        job_name=f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}", job_id=JOB, base_url=BASE + TRAINER
    )
    assert health.call_count == 2
    assert health.calls.last.request.headers["X-Api-Key"] == KEY
    assert clock.sleeps == [0.5, 0.75, 1.125]


@pytest.mark.parametrize("status", [201, 204, 404, 500])
async def test_health_is_exactly_200(
    manager: AnyManager, router: respx.MockRouter, status: int
) -> None:
    router.get(JOB_PATH).mock(return_value=reply())
    health = router.get(HEALTH).mock(
        side_effect=[httpx.Response(status, json={}), httpx.Response(200, json={})]
    )
    await call(manager.wait_for_ready(JOB, timeout=60))
    assert health.call_count == 2


async def test_health_connection_errors_keep_waiting(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(return_value=reply())
    health = router.get(HEALTH).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={})]
    )
    await call(manager.wait_for_ready(JOB, timeout=60))
    assert health.call_count == 2


async def test_health_401_is_raised(manager: AnyManager, router: respx.MockRouter) -> None:
    router.get(JOB_PATH).mock(return_value=reply())
    router.get(HEALTH).mock(return_value=error(401))
    with pytest.raises(AuthenticationError):
        await call(manager.wait_for_ready(JOB, timeout=60))


async def test_wait_for_ready_times_out(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_PENDING"))
    with pytest.raises(TrainerJobTimeoutError, match="JOB_STATE_PENDING") as info:
        await call(manager.wait_for_ready(JOB, timeout=20))
    assert isinstance(info.value, TimeoutError)
    assert sum(clock.sleeps) == pytest.approx(20)
    assert max(clock.sleeps) <= 10


async def test_wait_for_ready_does_not_resume(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_FAILED", statusMessage="preempted"))
    resume = router.post(f"{JOB_PATH}:resume")
    with pytest.raises(TrainerJobError, match="JOB_STATE_FAILED: preempted") as info:
        await call(manager.wait_for_ready(JOB, timeout=60))
    assert info.value.state == "JOB_STATE_FAILED"
    assert resume.call_count == 0


async def test_create_and_wait(manager: AnyManager, router: respx.MockRouter) -> None:
    router.post(JOBS).mock(return_value=reply("JOB_STATE_PENDING"))
    router.get(JOB_PATH).mock(side_effect=[reply("JOB_STATE_PENDING"), reply()])
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    ready = await call(manager.create_and_wait(CONFIG, job_id=JOB, timeout=60))
    assert (ready.job_id, ready.base_url) == (JOB, BASE + TRAINER)


async def test_resume_and_wait_posts_an_empty_body(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    router.get(JOB_PATH).mock(side_effect=[reply("JOB_STATE_PENDING"), reply()])
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.resume_and_wait(JOB, timeout=60))
    assert resume.call_count == 1
    assert resume.calls.last.request.content == b""


async def test_resume_and_wait_of_a_running_job_is_the_servers_400(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.post(f"{JOB_PATH}:resume").mock(return_value=error(400))
    with pytest.raises(BadRequestError):
        await call(manager.resume_and_wait(JOB, timeout=60))


# Reconnect --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED", "JOB_STATE_COMPLETED"]
)
async def test_reconnect_resumes_resumable_states(
    manager: AnyManager, router: respx.MockRouter, state: str
) -> None:
    router.get(JOB_PATH).mock(side_effect=[reply(state), reply("JOB_STATE_PENDING"), reply()])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    assert (await call(manager.reconnect_and_wait(JOB, timeout=60))).job_id == JOB
    assert resume.call_count == 1


@pytest.mark.parametrize("state", ["JOB_STATE_PENDING", "JOB_STATE_CANCELLING", "JOB_STATE_NEW"])
async def test_reconnect_polls_transitional_states(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock, state: str
) -> None:
    router.get(JOB_PATH).mock(side_effect=[reply(state), reply(state), reply()])
    resume = router.post(f"{JOB_PATH}:resume")
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert resume.call_count == 0
    assert len(clock.sleeps) == 2


async def test_reconnect_of_a_running_job_only_waits_for_health(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(return_value=reply())
    resume = router.post(f"{JOB_PATH}:resume")
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.reconnect_and_wait(JOB))
    assert resume.call_count == 0


@pytest.mark.parametrize("state", ["JOB_STATE_DELETED", "JOB_STATE_EARLY_STOPPED"])
async def test_reconnect_refuses_tombstones(
    manager: AnyManager, router: respx.MockRouter, state: str
) -> None:
    router.get(JOB_PATH).mock(return_value=reply(state))
    resume = router.post(f"{JOB_PATH}:resume")
    with pytest.raises(TrainerJobError, match=state):
        await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert resume.call_count == 0


async def test_reconnect_polls_deleting_until_the_job_settles(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    # The overview: reconnect handles transitional states (CREATING, DELETING) by polling.
    states = ["JOB_STATE_DELETING", "JOB_STATE_DELETING", "JOB_STATE_FAILED", "JOB_STATE_RUNNING"]
    router.get(JOB_PATH).mock(side_effect=[reply(state) for state in states])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    assert (await call(manager.reconnect_and_wait(JOB))).job_id == JOB
    assert resume.call_count == 1


async def test_reconnect_gives_up_on_a_state_that_does_not_settle(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_DELETING"))
    with pytest.raises(TrainerJobError, match="stayed JOB_STATE_DELETING for 20 s") as info:
        await call(manager.reconnect_and_wait(JOB, max_wait_for_resumable_s=20))
    assert not isinstance(info.value, TimeoutError)
    assert 20 <= sum(clock.sleeps) < 20 + 5


async def test_wait_for_ready_refuses_deleting(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_DELETING"))
    with pytest.raises(TrainerJobError, match="JOB_STATE_DELETING"):
        await call(manager.wait_for_ready(JOB))


async def call_resuming(manager: AnyManager, method: str, timeout: float) -> TrainerServiceEndpoint:
    ready: TrainerServiceEndpoint = await call(getattr(manager, method)(JOB, timeout=timeout))
    return ready


# Before the wait's reads: reconnect_and_wait reads FAILED first, resume_and_wait does not.
FIRST_READS = {"reconnect_and_wait": ["JOB_STATE_FAILED"], "resume_and_wait": []}


@pytest.mark.parametrize("method", ["reconnect_and_wait", "resume_and_wait"])
async def test_failed_shown_right_after_resume_is_polled_until_pending(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock, method: str
) -> None:
    # A control plane slow to show the :resume: FAILED twice more, then PENDING, RUNNING.
    after = ["JOB_STATE_FAILED", "JOB_STATE_FAILED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"]
    states = FIRST_READS[method] + after
    reads = router.get(JOB_PATH).mock(side_effect=[reply(state) for state in states])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    health = router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    ready = await call_resuming(manager, method, timeout=60)
    assert ready.job_id == JOB
    assert resume.call_count == 1
    assert resume.calls.last.request.content == b""
    assert reads.call_count == len(states)
    assert health.call_count == 1
    assert clock.sleeps == [0.5, 0.75, 1.125]


@pytest.mark.parametrize("method", ["reconnect_and_wait", "resume_and_wait"])
async def test_failed_for_the_whole_grace_after_resume_raises(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock, method: str
) -> None:
    # The job never leaves FAILED after the :resume: a second one would not help.
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_FAILED", statusMessage="preempted"))
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    with pytest.raises(TrainerJobError, match="JOB_STATE_FAILED: preempted") as info:
        await call_resuming(manager, method, timeout=600)
    assert not isinstance(info.value, TrainerJobTimeoutError)
    assert resume.call_count == 1
    # Polled through the grace period, raised at the first read after it.
    waited = sum(clock.sleeps)
    assert RESUME_GRACE_S <= waited < RESUME_GRACE_S + JOB_POLL_CAP_S
    assert sum(clock.sleeps[:-1]) < RESUME_GRACE_S


@pytest.mark.parametrize("method", ["reconnect_and_wait", "resume_and_wait"])
async def test_the_grace_after_resume_ends_at_the_deadline(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock, method: str
) -> None:
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_FAILED"))
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    with pytest.raises(TrainerJobTimeoutError, match="JOB_STATE_FAILED"):
        await call_resuming(manager, method, timeout=10)
    assert resume.call_count == 1
    assert sum(clock.sleeps) == pytest.approx(10)


async def test_failed_after_pending_is_not_in_the_grace(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    # Seen PENDING, the :resume took effect: a later FAILED is a new failure, raised at once.
    router.get(JOB_PATH).mock(side_effect=[reply("JOB_STATE_PENDING"), reply("JOB_STATE_FAILED")])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    with pytest.raises(TrainerJobError, match="JOB_STATE_FAILED"):
        await call(manager.resume_and_wait(JOB, timeout=60))
    assert resume.call_count == 1
    assert clock.sleeps == [0.5]


@pytest.mark.parametrize("seen", ["JOB_STATE_PENDING", "JOB_STATE_RUNNING"])
async def test_reconnect_resumes_again_after_a_preemption_during_the_wait(
    manager: AnyManager, router: respx.MockRouter, seen: str
) -> None:
    states = [
        "JOB_STATE_FAILED",
        seen,
        "JOB_STATE_FAILED",
        "JOB_STATE_PENDING",
        "JOB_STATE_RUNNING",
    ]
    router.get(JOB_PATH).mock(side_effect=[reply(state) for state in states])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    healthy = httpx.Response(200, json={})
    answers = [httpx.Response(503), healthy] if seen == "JOB_STATE_RUNNING" else [healthy]
    health = router.get(HEALTH).mock(side_effect=answers)
    ready = await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert ready.job_id == JOB
    assert resume.call_count == 2
    assert health.call_count == len(answers)


async def test_reconnect_preempted_again_and_again_stops_at_the_deadline(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    flapping = itertools.cycle(["JOB_STATE_FAILED", "JOB_STATE_PENDING"])
    router.get(JOB_PATH).mock(side_effect=lambda request: reply(next(flapping)))
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=reply("JOB_STATE_PENDING"))
    with pytest.raises(TrainerJobTimeoutError):
        await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert resume.call_count > 1
    assert sum(clock.sleeps) == pytest.approx(60)


async def test_wait_for_ready_does_not_resume_after_a_preemption(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(side_effect=[reply("JOB_STATE_PENDING"), reply("JOB_STATE_FAILED")])
    resume = router.post(f"{JOB_PATH}:resume")
    with pytest.raises(TrainerJobError, match="JOB_STATE_FAILED"):
        await call(manager.wait_for_ready(JOB, timeout=60))
    assert resume.call_count == 0


async def test_reconnect_after_an_ambiguous_resume_failure_asks_the_job(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(side_effect=[reply("JOB_STATE_FAILED"), reply()])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=error(500))
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert resume.call_count == 1


async def test_an_ambiguous_resume_failure_is_not_resent_while_the_job_may_show_it(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    # The :resume failed after it was sent (a 500) but took effect: the control plane shows
    # FAILED twice more before PENDING. A second :resume then could fail the restarted job.
    states = ["JOB_STATE_FAILED"] * 3 + ["JOB_STATE_PENDING", "JOB_STATE_RUNNING"]
    reads = router.get(JOB_PATH).mock(side_effect=[reply(state) for state in states])
    resume = router.post(f"{JOB_PATH}:resume").mock(return_value=error(500))
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert resume.call_count == 1
    assert reads.call_count == len(states)
    assert sum(clock.sleeps) < RESUME_GRACE_S


async def test_an_ambiguous_resume_failure_is_resent_after_the_grace(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    # The failed :resume did not act: the job stays FAILED for the whole grace, then the
    # :resume is sent again (not raised, as after an accepted one).
    failed = RESUME_GRACE_S + JOB_POLL_CAP_S
    started: list[float] = []

    def read(request: httpx.Request) -> httpx.Response:
        if resume.call_count < 2:
            return reply("JOB_STATE_FAILED")
        started.append(sum(clock.sleeps))
        return reply()

    router.get(JOB_PATH).mock(side_effect=read)
    resume = router.post(f"{JOB_PATH}:resume").mock(
        side_effect=[error(500), reply("JOB_STATE_PENDING")]
    )
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.reconnect_and_wait(JOB, timeout=600))
    assert resume.call_count == 2
    assert RESUME_GRACE_S <= started[0] < failed


async def test_reconnect_resends_resume_when_the_server_surely_did_not_act(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).mock(side_effect=[reply("JOB_STATE_FAILED"), reply()])
    resume = router.post(f"{JOB_PATH}:resume").mock(
        side_effect=[error(429, **{"Retry-After": "1"}), reply("JOB_STATE_PENDING")]
    )
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    await call(manager.reconnect_and_wait(JOB, timeout=60))
    assert resume.call_count == 2


# The official surface ---------------------------------------------------------------------


def test_constructor_takes_the_official_arguments_in_order(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = TrainerJobManager(KEY, BASE, {"X-Extra": "1"}, None, "https://gw.test")
    assert manager.trainer_gateway_url == "https://gw.test"
    monkeypatch.setenv("FIREWORKS_TRAINER_GATEWAY_URL", "https://env-gw.test/")
    assert TrainerJobManager(KEY, BASE).trainer_gateway_url == "https://env-gw.test"
    assert TrainerJobManager(
        KEY, BASE, trainer_gateway_url="https://gw.test"
    ).trainer_gateway_url == ("https://gw.test")
    monkeypatch.delenv("FIREWORKS_TRAINER_GATEWAY_URL")
    assert TrainerJobManager(KEY, BASE).trainer_gateway_url == BASE


async def test_the_manager_is_a_control_plane_client_on_one_pool(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    assert isinstance(manager, FireworksClient | AsyncFireworksClient)
    router.get(f"{JOB_PATH}/checkpoints").mock(
        return_value=httpx.Response(200, json={"checkpoints": [row("step-1-a1b2c3d4")]})
    )
    rows = await call(manager.list_checkpoints(JOB))
    assert [r.checkpoint_id for r in rows] == ["step-1-a1b2c3d4"]


async def test_pending_has_its_own_budget_then_timeout_s_counts_from_placement(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    states = ["JOB_STATE_PENDING"] * 5 + ["JOB_STATE_RUNNING"] * 20
    router.get(JOB_PATH).mock(side_effect=[reply(state) for state in states])
    router.get(HEALTH).mock(return_value=httpx.Response(503))
    with pytest.raises(TrainerJobTimeoutError, match="not ready after 12 s") as info:
        await call(manager.wait_for_ready(JOB, poll_interval_s=2, timeout_s=12))
    assert info.value.state == "JOB_STATE_RUNNING"
    pending_time = sum(clock.sleeps[:5])
    assert sum(clock.sleeps) == pytest.approx(pending_time + 12)


async def test_pending_for_longer_than_its_budget(
    manager: AnyManager, router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(JOB_PATH).mock(return_value=reply("JOB_STATE_PENDING"))
    with pytest.raises(TrainerJobTimeoutError, match="pending for capacity after 30 s"):
        await call(manager.wait_for_ready(JOB, pending_timeout_s=30))
    assert sum(clock.sleeps) == pytest.approx(30)
    assert max(clock.sleeps) == 5.0  # the official default interval caps the cadence


async def test_the_endpoint_names_the_job_and_its_context_length(
    manager: AnyManager, router: respx.MockRouter
) -> None:
    config = {"baseModel": BASE_MODEL, "loraRank": 16, "maxContextLength": 8192}
    router.get(JOB_PATH).mock(return_value=reply(trainingConfig=config))
    router.get(HEALTH).mock(return_value=httpx.Response(200, json={}))
    name = f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}"
    ready = await call(manager.wait_for_ready(JOB, job_name=name))
    assert (ready.job_name, ready.job_id, ready.max_context_length) == (name, JOB, 8192)
    assert manager.boot_time_s is not None
    existing = await call(manager.wait_for_existing(JOB))
    assert existing == ready
    with pytest.raises(InvalidArgumentError, match="does not name trainer job"):
        await call(manager.wait_for_ready(JOB, job_name=f"accounts/{ACCOUNT}/rlorTrainerJobs/x"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_interval_s": 0}, "poll_interval_s must be finite and > 0"),
        ({"poll_interval_s": None}, "poll_interval_s must be a number"),
        ({"timeout_s": -1}, "timeout_s must be finite and > 0"),
        ({"pending_timeout_s": float("inf")}, "pending_timeout_s must be finite"),
    ],
)
async def test_wait_budgets_are_checked(
    manager: AnyManager, router: respx.MockRouter, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        await call(manager.wait_for_ready(JOB, **kwargs))
    assert router.calls.call_count == 0


# Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "expected"),
    [
        ("create", ({"baseModel": BASE_MODEL},), {}, InvalidArgumentError),
        ("create", (CONFIG,), {"job_id": "bad/id"}, InvalidNameError),
        ("create", (CONFIG,), {"job_id": ""}, InvalidNameError),
        ("create", (CONFIG,), {"job_id": 7}, InvalidArgumentError),
        ("get", ("job id",), {}, InvalidNameError),
        ("delete", ("",), {}, InvalidNameError),
        ("trainer_url", ("accounts/a/models/b",), {}, InvalidNameError),
        ("wait_for_ready", (JOB,), {"timeout": 0}, InvalidArgumentError),
        ("wait_for_ready", (JOB,), {"timeout": float("nan")}, InvalidArgumentError),
        ("reconnect_and_wait", (JOB,), {"timeout": -1}, InvalidArgumentError),
        ("resume_and_wait", (JOB,), {"timeout": "60"}, InvalidArgumentError),
        ("create_and_wait", (CONFIG,), {"timeout": True}, InvalidArgumentError),
    ],
)
async def test_bad_input_sends_nothing(
    manager: AnyManager,
    router: respx.MockRouter,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    expected: type[Exception],
) -> None:
    with pytest.raises(expected):
        await call(getattr(manager, method)(*args, **kwargs))
    assert router.calls.call_count == 0


def test_bad_gateway_url() -> None:
    with pytest.raises(InvalidArgumentError, match="base_url"):
        make_manager("sync", trainer_gateway_url="ftp://gw")


# Parity -----------------------------------------------------------------------------------


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(member)
    }


def test_async_twin_has_the_same_methods_and_signatures() -> None:
    sync, asynchronous = public_methods(TrainerJobManager), public_methods(AsyncTrainerJobManager)
    assert set(asynchronous) - {"aclose"} == set(sync)
    for name, method in sync.items():
        twin = asynchronous[name]
        assert inspect.iscoroutinefunction(twin) is (name != "iter_checkpoints"), name
        assert not inspect.iscoroutinefunction(method), name
        params, twin_params = (
            inspect.signature(method).parameters,
            inspect.signature(twin).parameters,
        )
        assert list(params) == list(twin_params), name
        for param in params.values():
            other = twin_params[param.name]
            assert (param.kind, param.default) == (other.kind, other.default), (name, param.name)
            assert param.annotation == other.annotation or param.name == "http_client"
