"""End to end against the emulator: list every page, promote (both reply styles, recovery)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fireworks_training.checkpoints import latest_promotable
from fireworks_training.clients import _base_client
from fireworks_training.errors import BadRequestError

from .conftest import AnyClient, call, make_client

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
from fireworks_training.emulator import Emulator

pytestmark = pytest.mark.anyio

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator, its log and faults cleared; client sleeps move its clock instead."""
    emulator.request_log.clear()
    emulator.faults.clear()
    emulator.set_promotion_mode("sync")
    emulator.set_legacy_async_promotion(False)

    async def async_sleep(seconds: float) -> None:
        emulator.advance_time(seconds)

    monkeypatch.setattr(_base_client, "_sleep_sync", emulator.advance_time)
    monkeypatch.setattr(_base_client, "_sleep_async", async_sleep)
    return emulator


@pytest.fixture(params=["sync", "async"])
async def live(request: pytest.FixtureRequest, emu: Any) -> Any:
    client = make_client(request.param, api_key=emu.api_key, base_url=emu.base_url)
    yield client
    await call(client.close())


def job_with_rows(emu: Any) -> str:
    """A new trainer job with synthetic rows of every type."""
    job: str = emu.create_trainer_job(base_model=BASE_MODEL)
    emu.add_checkpoint_rows(job, 6)
    return job


async def newest_promotable(client: AnyClient, job: str) -> str:
    row = latest_promotable(await call(client.list_checkpoints(job)))
    assert row is not None
    return row.name


async def test_list_every_page(live: AnyClient, emu: Any) -> None:
    job = emu.create_trainer_job(base_model=BASE_MODEL)
    names = emu.add_checkpoint_rows(job, 25)
    emu.request_log.clear()
    rows = await call(live.list_checkpoints(job, page_size=10))
    assert sorted(r.name for r in rows) == sorted(names)
    times = [r.create_time for r in rows]
    assert times == sorted(times)  # server order: oldest first
    routes = [entry.route for entry in emu.request_log]
    assert routes == [
        "/v1/accounts",
        *[f"/v1/accounts/emulator/rlorTrainerJobs/{job}/checkpoints"] * 3,
    ]


async def test_promote_by_name_sync_reply(live: AnyClient, emu: Any) -> None:
    job = job_with_rows(emu)
    name = await newest_promotable(live, job)
    model = await call(
        live.promote_checkpoint(name=name, output_model_id=f"m-{job}", base_model=BASE_MODEL)
    )
    assert model.model_id == f"m-{job}"
    assert model["sourceCheckpoint"] == name
    assert (await call(live.get_model(f"m-{job}"))).name == model.name


async def test_promote_async_reply_and_legacy_three_arguments(live: AnyClient, emu: Any) -> None:
    emu.set_promotion_mode("async", 30.0)
    job = job_with_rows(emu)
    name = await newest_promotable(live, job)
    checkpoint_id = name.rsplit("/", 1)[1]
    with pytest.warns(DeprecationWarning, match="4-segment name"):
        model = await call(live.promote_checkpoint(job, checkpoint_id, f"a-{job}"))
    assert model.state == "READY"
    assert model["baseModel"] == BASE_MODEL  # read from the trainer job
    polls = [e for e in emu.request_log if "/operations/" in e.route]
    assert len(polls) >= 2


async def test_lost_reply_is_recovered_not_duplicated(live: AnyClient, emu: Any) -> None:
    job = job_with_rows(emu)
    name = await newest_promotable(live, job)
    emu.faults.add("promote", script=["drop_response"])
    emu.request_log.clear()
    model = await call(
        live.promote_checkpoint(name=name, output_model_id=f"r-{job}", base_model=BASE_MODEL)
    )
    assert model["sourceCheckpoint"] == name
    assert [(e.method, e.route.rsplit("/", 1)[1]) for e in emu.request_log] == [
        ("POST", f"{name.rsplit('/', 1)[1]}:promote"),
        ("POST", f"{name.rsplit('/', 1)[1]}:promote"),
        ("GET", f"r-{job}"),
    ]


async def test_older_server_without_async_promotion(live: AnyClient, emu: Any) -> None:
    emu.set_legacy_async_promotion(True)
    job = job_with_rows(emu)
    name = await newest_promotable(live, job)
    emu.request_log.clear()
    await call(live.promote_checkpoint(name=name, output_model_id=f"o-{job}", base_model="b"))
    bodies = [e.body for e in emu.request_log]
    assert [("async_promotion" in b) for b in bodies] == [True, False]


async def test_not_promotable_is_a_bad_request(live: AnyClient, emu: Any) -> None:
    job = job_with_rows(emu)
    rows = await call(live.list_checkpoints(job))
    state = next(r for r in rows if not r.promotable)
    with pytest.raises(BadRequestError, match="not promotable"):
        await call(live.promote_checkpoint(name=state.name, output_model_id=f"n-{job}"))


async def test_recovered_model_is_awaited_until_ready(live: AnyClient, emu: Any) -> None:
    emu.set_promotion_mode("async", seconds=3.0)
    job = job_with_rows(emu)
    name = await newest_promotable(live, job)
    emu.faults.add("promote", script=["drop_response"])
    emu.request_log.clear()
    model = await call(
        live.promote_checkpoint(name=name, output_model_id=f"u-{job}", base_model=BASE_MODEL)
    )
    assert model.state == "READY"
    assert model["sourceCheckpoint"] == name
    gets = [e for e in emu.request_log if e.method == "GET" and e.route.endswith(f"u-{job}")]
    assert len(gets) >= 2  # UPLOADING at first, then polled until READY
