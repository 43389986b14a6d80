"""The official ``fireworks-ai`` client lists and promotes checkpoints against the emulator.

The client runs in its own cached virtualenv (``benchmarks/official.py`` builds it, and the
benchmarks use it too) so its pins never touch ours.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from benchmarks.official import OfficialClient, official_client

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, Trainer

DRIVER = """
import json, sys
from fireworks.training.sdk.fireworks_client import FireworksClient

base_url, key, job_id, output_model, base_model = sys.argv[1:6]
client = FireworksClient(api_key=key, base_url=base_url)
rows = client.list_checkpoints(job_id, page_size=2)
promotable = [row for row in rows if row.get("promotable")]
model = client.promote_checkpoint(
    name=promotable[-1]["name"], output_model_id=output_model, base_model=base_model
)
print(json.dumps({"account": client.account_id, "rows": rows, "model": model}))
"""


@pytest.fixture(scope="module")
def reference() -> OfficialClient:
    client, reason = official_client()
    if client is None:
        pytest.skip(reason)
    return client


def _drive(client: OfficialClient, emu: Emulator, job: str, output_model: str) -> dict[str, Any]:
    return client.run(DRIVER, emu.base_url, emu.api_key, job, output_model, BASE_MODEL, timeout=120)


def _prepare(emu: Emulator, http: httpx.Client) -> tuple[str, list[str]]:
    job = emu.create_trainer_job(job_id="wire-job", lora_rank=4)
    trainer = Trainer.start(http, emu.trainer_url(job), emu.account_id, lora_rank=4)
    emu.add_checkpoint_rows(job, 2)
    emu.add_checkpoint_rows(job, 2, ttl_seconds=60)  # expire: an empty middle page
    emu.advance_time(61)
    trainer.train_step()
    trainer.save_state("step-1")
    trainer.save_sampler("step-1")
    names = [row["name"] for row in trainer.rows(job)]
    return job, names


def test_reference_client_lists_and_promotes(
    reference: OfficialClient, emu: Emulator, http: httpx.Client
) -> None:
    job, names = _prepare(emu, http)
    emu.request_log.clear()
    out = _drive(reference, emu, job, "wire-model")
    assert out["account"] == emu.account_id
    assert [row["name"] for row in out["rows"]] == names
    assert all("sizeBytes" in row for row in out["rows"])
    model = out["model"]
    assert model["name"] == "accounts/emulator/models/wire-model"
    assert model["kind"] == "HF_PEFT_ADDON"
    assert model["sourceCheckpoint"] == names[-1]

    lists = [e for e in emu.request_log if e.route.endswith("/checkpoints")]
    # Pages of 2, 0 (both rows expired) and 2 rows: the client kept going past the empty one.
    assert len(lists) == 3
    assert all("pageSize=2" in e.path for e in lists)
    assert ["pageToken=" in e.path for e in lists] == [False, True, True]
    (promote,) = [e for e in emu.request_log if e.route.endswith(":promote")]
    assert promote.body == {
        "output_model": "accounts/emulator/models/wire-model",
        "trainer_job_id": f"accounts/emulator/rlorTrainerJobs/{job}",
        "base_model": BASE_MODEL,
        "async_promotion": True,
    }


def test_reference_client_retries_a_legacy_server_without_the_opt_in(
    reference: OfficialClient, emu: Emulator, http: httpx.Client
) -> None:
    job, _ = _prepare(emu, http)
    emu.set_legacy_async_promotion(True)
    emu.request_log.clear()
    out = _drive(reference, emu, job, "legacy-model")
    assert out["model"]["state"] == "READY"
    bodies = [e.body for e in emu.request_log if e.route.endswith(":promote")]
    assert [("async_promotion" in b) for b in bodies] == [True, False]


@pytest.mark.slow
def test_reference_client_waits_for_a_long_running_promotion(
    reference: OfficialClient, emu: Emulator, http: httpx.Client
) -> None:
    job, _ = _prepare(emu, http)
    emu.set_promotion_mode("async", seconds=0.5)  # the client sleeps 10 s before its first poll
    out = _drive(reference, emu, job, "async-model")
    assert out["model"]["state"] == "READY"
    assert "@type" not in out["model"]
    assert any("/operations/" in e.route for e in emu.request_log)
