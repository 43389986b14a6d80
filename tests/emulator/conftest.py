"""Fixtures: the emulator with short long-polls, plain httpx clients, the official client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from benchmarks.official import OfficialClient, official_client

from fireworks_training.emulator import Emulator
from fireworks_training.emulator.settings import Settings

from .kit import Trainer


@pytest.fixture
def fireworks_emulator_settings() -> Settings:
    return Settings(long_poll_seconds=0.5)


@pytest.fixture
def emu(fireworks_emulator: Emulator) -> Emulator:
    return fireworks_emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    headers = {"X-Api-Key": emu.api_key}
    with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10.0) as client:
        yield client


@pytest.fixture
def job(emu: Emulator) -> str:
    return emu.create_trainer_job(job_id="job-full")


@pytest.fixture
def trainer(emu: Emulator, http: httpx.Client, job: str) -> Trainer:
    return Trainer.start(http, emu.trainer_url(job), emu.account_id)


@pytest.fixture(scope="module")
def reference() -> OfficialClient:
    """The official client in its own virtualenv (skipped where it cannot be installed)."""
    client, reason = official_client()
    if client is None:
        pytest.skip(reason)
    return client
