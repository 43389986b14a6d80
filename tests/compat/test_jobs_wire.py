"""Both clients' trainer-job requests, recorded by the emulator and compared call by call.

The official ``fireworks-ai`` client runs in its own cached virtualenv (``benchmarks/official.py``
builds it); the test is skipped where it cannot be installed. For each configuration the
cookbooks use, both clients create a job and the emulator's request log must show the same
query and body (the generated job id aside, which has the same form). The waits return equal
endpoints, and a reconnect after a preemption sends the same kinds of requests.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from fireworks_training.emulator import Emulator
from fireworks_training.trainer import TrainerJobConfig, TrainerJobManager

from .conftest import BASE_MODEL

official = pytest.importorskip("benchmarks.official")

SHAPE = "accounts/fireworks/trainingShapes/ts-tiny-bigram-policy"
CONFIGS: list[dict[str, Any]] = [
    {"base_model": BASE_MODEL},
    {"base_model": BASE_MODEL, "lora_rank": 8, "learning_rate": 2e-4, "display_name": "lora"},
    {
        "base_model": BASE_MODEL,
        "max_context_length": 8192,
        "node_count": 2,
        "region": "US_VIRGINIA_1",
        "custom_image_tag": "v2",
        "extra_args": ["--a 1", "--b"],
        "extra_values": {"k": "v"},
        "accelerator_type": "NVIDIA_H200_141GB",
        "accelerator_count": 8,
        "trainer_replica_count": 2,
        "forward_only": True,
        "purpose": "PURPOSE_PILOT",
        "preemptible": True,
        "managed_by": "cookbook",
        "inactivity_timeout": "1800s",
    },
    {"base_model": BASE_MODEL, "training_shape_ref": SHAPE, "max_context_length": 4096},
    {"base_model": BASE_MODEL, "training_shape_ref": SHAPE, "skip_validations": True},
    {"base_model": BASE_MODEL, "auto_select_training_shape": True, "max_context_length": 16384},
    {"base_model": BASE_MODEL, "use_reservation": False, "projection_head_dim": 64},
    {"base_model": BASE_MODEL, "reservation_target": "accounts/emulator/reservations/r"},
    {"base_model": BASE_MODEL, "requested_job_id": "stable-id-1"},
]

CREATE = """
import json, sys
from fireworks.training.sdk.trainer import TrainerJobConfig, TrainerJobManager

base_url, key, configs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
manager = TrainerJobManager(api_key=key, base_url=base_url)
print(json.dumps([manager.create(TrainerJobConfig(**config)).job_name for config in configs]))
"""

WAIT = """
import dataclasses, json, sys
from fireworks.training.sdk.trainer import TrainerJobManager

base_url, key, job_id, how = sys.argv[1:5]
manager = TrainerJobManager(api_key=key, base_url=base_url)
if how == "reconnect":
    endpoint = manager.reconnect_and_wait(job_id, poll_interval_s=0.1, timeout_s=60)
else:
    endpoint = manager.wait_for_existing(job_id, poll_interval_s=0.1, timeout_s=60)
print(json.dumps(dataclasses.asdict(endpoint)))
"""


@pytest.fixture(scope="module")
def reference() -> Any:
    client, reason = official.official_client()
    if client is None:
        pytest.skip(reason)
    return client


@pytest.fixture
def ours(emu: Emulator) -> Iterator[TrainerJobManager]:
    with TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url) as manager:
        yield manager


def _creates(emu: Emulator) -> list[tuple[list[tuple[str, str]], Any]]:
    """(query, body) of every create the emulator received, in order."""
    found = []
    for entry in emu.request_log:
        if entry.method == "POST" and entry.route.endswith("/rlorTrainerJobs"):
            query = parse_qsl(urlsplit(entry.path).query)
            found.append((query, entry.body))
    return found


def _same_id_form(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, re.sub(r"^training-api-service-[0-9a-f]{8}$", "<generated>", v)) for k, v in query]


def test_create_sends_what_the_official_client_sends(
    reference: Any, emu: Emulator, ours: TrainerJobManager
) -> None:
    emu.request_log.clear()
    reference.run(CREATE, emu.base_url, emu.api_key, json.dumps(CONFIGS), timeout=120)
    theirs = _creates(emu)
    emu.request_log.clear()
    for config in CONFIGS:
        mine = dict(config)
        if "requested_job_id" in mine:
            mine["requested_job_id"] = "stable-id-2"  # the official run took the first
        ours.create(TrainerJobConfig(**mine))
    made = _creates(emu)
    assert len(theirs) == len(made) == len(CONFIGS)
    for config, (their_query, their_body), (query, body) in zip(CONFIGS, theirs, made, strict=True):
        expected = _same_id_form(their_query)
        if "requested_job_id" in config:
            expected = [(k, "stable-id-2" if k == "rlorTrainerJobId" else v) for k, v in expected]
        assert _same_id_form(query) == expected, config
        assert body == their_body, config


def _requests(emu: Emulator) -> set[tuple[str, str]]:
    """Kinds of requests: method and route, job ids replaced."""
    return {(e.method, re.sub(r"wire-[a-z]+", "<job>", e.route)) for e in emu.request_log}


@pytest.mark.parametrize("how", ["wait", "reconnect"])
def test_waits_return_the_same_endpoint_after_the_same_kinds_of_requests(
    reference: Any, emu: Emulator, ours: TrainerJobManager, how: str
) -> None:
    endpoints = []
    kinds = []
    for client in ("official", "ours"):
        job_id = emu.create_trainer_job(job_id=f"wire-{client}")
        ours.wait_for_existing(job_id)
        if how == "reconnect":
            emu.preempt(job_id)
        emu.request_log.clear()
        if client == "official":
            out = reference.run(WAIT, emu.base_url, emu.api_key, job_id, how, timeout=120)
        elif how == "reconnect":
            out = dataclasses.asdict(ours.reconnect_and_wait(job_id, poll_interval_s=0.1))
        else:
            out = dataclasses.asdict(ours.wait_for_existing(job_id, poll_interval_s=0.1))
        endpoints.append({key: str(value).replace(job_id, "<job>") for key, value in out.items()})
        kinds.append(_requests(emu) - {("GET", "/v1/accounts")})
        assert out["base_url"] == emu.trainer_url(job_id)
    assert endpoints[0] == endpoints[1]
    assert kinds[0] == kinds[1]
    if how == "reconnect":
        assert ("POST", "/v1/accounts/emulator/rlorTrainerJobs/<job>:resume") in kinds[1]
