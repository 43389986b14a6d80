"""Lost response on promotion: the server promotes, the answer never arrives.

The client cannot know whether the server acted, resends, gets 409 for the output model,
finds that model came from the same checkpoint and returns it: one model, no error. It does
so after any number of ambiguous failures within its retry budget (checked with respx).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.checkpoints import latest_promotable
from fireworks_training.clients import _base_client
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.demo import BASE_MODEL
from fireworks_training.emulator import Emulator
from fireworks_training.errors import APIError, ConflictError

from .conftest import call, stored_models

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["sync", "async"], ids=["model-reply", "operation-reply"])
@pytest.mark.parametrize("flavour", ["sync", "async"], ids=["client", "async-client"])
async def test_lost_promotion_response_returns_the_one_model(
    emulator: Emulator, figures: dict[str, Any], flavour: str, mode: str
) -> None:
    emu = emulator
    job = emu.create_trainer_job(base_model=BASE_MODEL, job_id="lost-response")
    emu.add_checkpoint_rows(job, 6)
    emu.set_promotion_mode(mode, 0.0)
    cls = FireworksClient if flavour == "sync" else AsyncFireworksClient
    client = cls(emu.api_key, emu.base_url)
    try:
        row = latest_promotable(await call(client.list_checkpoints(job)))
        assert row is not None
        rule = emu.faults.add("promote", script=["drop_response"])
        emu.request_log.clear()
        model = await call(
            client.promote_checkpoint(
                name=row.name, output_model_id="promoted-once", base_model=BASE_MODEL
            )
        )
    finally:
        await call(client.close())
    assert model.name == f"accounts/{emu.account_id}/models/promoted-once"
    assert model.get("sourceCheckpoint") == row.name
    assert rule.injected == 1
    sent = [(r.method, r.route.rsplit("/", 1)[-1]) for r in emu.request_log]
    assert sent == [
        ("POST", f"{row.checkpoint_id}:promote"),
        ("POST", f"{row.checkpoint_id}:promote"),
        ("GET", "promoted-once"),
    ]
    assert list(stored_models(emu)) == ["promoted-once"]
    figures.update(requests=len(sent), responses_dropped=rule.injected, models=1, errors=0)


BASE = "https://fw.test"
KEY = "fw-test-key"
ACCOUNT = "acme"
CKPT_NAME = f"accounts/{ACCOUNT}/rlorTrainerJobs/job-1/checkpoints/sampler-10"
PROMOTE = f"/v1/accounts/{ACCOUNT}/checkpoints/sampler-10:promote"
MODEL = f"accounts/{ACCOUNT}/models/kept"
AMBIGUOUS: dict[str, Callable[[], Any]] = {
    "500": lambda: httpx.Response(500, json={"error": {"code": 500, "message": "boom"}}),
    "502": lambda: httpx.Response(502, text="bad gateway"),
    "503": lambda: httpx.Response(503, json={"error": {"code": 503, "message": "no"}}),
    "dropped": lambda: httpx.RemoteProtocolError("Server disconnected"),
}
DEFAULT_BUDGET = 5  # max_retries: resends after the first attempt


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The control plane's backoff sleeps, recorded instead of slept."""
    slept: list[float] = []

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(_base_client, "_sleep_sync", slept.append)
    monkeypatch.setattr(_base_client, "_sleep_async", async_sleep)
    return slept


async def promote_with(flavour: str, answers: list[Any]) -> tuple[Any, respx.Route, respx.Route]:
    """Promote against ``answers`` for ``:promote``; (model or error, the two routes)."""
    cls = FireworksClient if flavour == "sync" else AsyncFireworksClient
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as router:
        promote = router.post(PROMOTE).mock(side_effect=answers)
        get = router.get(f"/v1/{MODEL}").respond(
            json={"name": MODEL, "state": "READY", "sourceCheckpoint": CKPT_NAME}
        )
        client = cls(KEY, BASE, account_id=ACCOUNT)
        try:
            got: Any = await call(
                client.promote_checkpoint(
                    name=CKPT_NAME, output_model_id="kept", base_model=BASE_MODEL
                )
            )
        except APIError as exc:
            got = exc
        finally:
            await call(client.close())
    return got, promote, get


@pytest.mark.parametrize(
    "failures",
    [["500", "dropped"], ["dropped", "503", "500", "dropped", "502"]],
    ids=["two-ambiguous", "five-ambiguous"],
)
@pytest.mark.parametrize("flavour", ["sync", "async"], ids=["client", "async-client"])
async def test_ambiguous_failures_then_409_return_our_model(
    no_sleep: list[float], flavour: str, failures: list[str]
) -> None:
    conflict = httpx.Response(409, json={"error": {"code": 409, "message": "model exists"}})
    answers = [AMBIGUOUS[kind]() for kind in failures]
    got, promote, get = await promote_with(flavour, [*answers, conflict])
    assert not isinstance(got, Exception), got
    assert got.name == MODEL
    assert promote.call_count == len(failures) + 1
    assert get.call_count == 1
    assert len(no_sleep) == len(failures)


@pytest.mark.parametrize("flavour", ["sync", "async"], ids=["client", "async-client"])
async def test_ambiguous_failures_beyond_the_budget_reach_the_caller(
    no_sleep: list[float], flavour: str
) -> None:
    answers = [AMBIGUOUS["500"]() for _ in range(DEFAULT_BUDGET + 1)]
    got, promote, get = await promote_with(flavour, answers)
    assert isinstance(got, APIError)
    assert not isinstance(got, ConflictError)
    assert promote.call_count == DEFAULT_BUDGET + 1
    assert get.call_count == 0
