"""Lost response on promotion: the server promotes, the answer never arrives.

The client cannot know whether the server acted, resends once, gets 409 for the output
model, finds that model came from the same checkpoint and returns it: one model, no error.
"""

from __future__ import annotations

from typing import Any

import pytest

from fireworks_training.checkpoints import latest_promotable
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.demo import BASE_MODEL
from fireworks_training.emulator import Emulator

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
