"""The official ``fireworks-ai`` client against the emulator, and ours beside it.

It lists and promotes checkpoints; its training client and ours run the same scenario, and
their trainer requests are compared one by one, bodies and headers (docs/protocol.md §2 says
where they differ and why). The client runs in its own cached virtualenv
(``benchmarks/official.py`` builds it, and the benchmarks use it too) so its pins never touch
ours.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import tinker
from benchmarks.official import OfficialClient

from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, OFFICIAL_PRELUDE, TEXT, Trainer

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


# The trainer API, request for request ---------------------------------------------------

TRAINER_DRIVER = (
    OFFICIAL_PRELUDE
    + """
url, key, base_model, rank, text = sys.argv[1:6]
rank = int(rank)
datum = official_datum(list(text.encode()))
service = FiretitanServiceClient(base_url=url, api_key=key, user_metadata={"run": "wire"})
client = service.create_training_client(base_model, lora_rank=rank)
client.forward([datum], "cross_entropy").result()
client.forward_backward([datum], "cross_entropy").result()
client.optim_step(types.AdamParams(learning_rate=0.01)).result()
client.optim_step(
    types.AdamParams(learning_rate=0.01), grad_accumulation_normalization="num_loss_tokens"
).result()
state = client.save_state("step-1").result().path
client.load_state_with_optimizer("step-1").result()
client.load_state("step-1").result()
first = client.save_weights_for_sampler_ext("sampler-1")
second = client.save_weights_for_sampler("sampler-2").result().path
merged = None
if rank:
    merged = client.save_weights_for_sampler_ext("merged", checkpoint_type="merged_base")
names = client.list_checkpoints()
service.close()
print(json.dumps({
    "state": state, "first": [first.path, first.snapshot_name], "second": second,
    "merged": merged.snapshot_name if merged else None, "names": names,
    "session": client.session_id,
}))
"""
)

_IDS = frozenset({"session_id", "model_id", "request_id"})
_SESSION_SUFFIX = re.compile(r"-[0-9a-f]{8}\Z")
# Transport details of the HTTP library, not of the protocol.
_TRANSPORT = frozenset({"host", "content-length", "accept-encoding", "connection"})
# Deliberate differences (docs/protocol.md §2): the Stainless generator's headers describe
# the official client itself (its OS, runtime, retry count); ours names itself in User-Agent;
# ours asks for JSON only, as it reads no protobuf results.
_NOT_SENT = re.compile(r"\Ax-stainless-")
_OWN_VALUE = frozenset({"user-agent"})
_PROTOBUF_RESULTS = frozenset({"Forward", "ForwardBackward"})
_NOT_OPS = ("/session_heartbeat", "/telemetry")


def _normal(value: Any) -> Any:
    """A body with the ids a server hands out, and the session suffix of names, masked."""
    if isinstance(value, dict):
        return {k: "<id>" if k in _IDS else _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        return _SESSION_SUFFIX.sub("-<session>", value)
    return value


def _trainer_requests(emu: Emulator, job: str) -> list[Any]:
    prefix = f"/training/v1/rlorTrainerJobs/{emu.account_id}/{job}/api/v1/"
    return [
        e for e in emu.request_log if e.route.startswith(prefix) and not e.route.endswith(_NOT_OPS)
    ]


def _ours(emu: Emulator, job: str, rank: int) -> dict[str, Any]:
    text = list(TEXT)
    n = len(text) - 1
    datum = tinker.types.Datum(
        model_input=tinker.types.ModelInput.from_ints(text[:-1]),
        loss_fn_inputs={
            "target_tokens": tinker.types.TensorData(data=text[1:], dtype="int64", shape=[n]),
            "weights": tinker.types.TensorData(data=[1.0] * n, dtype="float32", shape=[n]),
        },
    )
    service = FiretitanServiceClient(
        base_url=emu.trainer_url(job), api_key=emu.api_key, user_metadata={"run": "wire"}
    )
    with service:
        client = service.create_training_client(BASE_MODEL, lora_rank=rank)
        client.forward([datum], "cross_entropy").result()
        client.forward_backward([datum], "cross_entropy").result()
        client.optim_step(tinker.types.AdamParams(learning_rate=0.01)).result()
        client.optim_step(
            tinker.types.AdamParams(learning_rate=0.01),
            grad_accumulation_normalization="num_loss_tokens",
        ).result()
        state = client.save_state("step-1").result().path
        client.load_state_with_optimizer("step-1").result()
        client.load_state("step-1").result()
        first = client.save_weights_for_sampler_ext("sampler-1")
        second = client.save_weights_for_sampler("sampler-2").result().path
        merged = None
        if rank:
            merged = client.save_weights_for_sampler_ext("merged", checkpoint_type="merged_base")
        names = client.list_checkpoints()
    return {
        "state": state,
        "first": [first.path, first.snapshot_name],
        "second": second,
        "merged": merged.snapshot_name if merged else None,
        "names": names,
        "session": client.session_id,
    }


def _check_headers(official: Any, ours: Any, key: str) -> None:
    op = ours.route.rsplit("/", 1)[1]
    theirs = {k: v for k, v in official.headers.items() if k not in _TRANSPORT}
    mine = {k: v for k, v in ours.headers.items() if k not in _TRANSPORT}
    assert {k for k in theirs if not _NOT_SENT.match(k)} == set(mine), op
    assert mine["x-api-key"] == theirs["x-api-key"] == key
    for name, value in mine.items():
        if name in _OWN_VALUE or name in ("x-idempotency-key", "x-api-key"):
            continue
        if name == "x-tinker-create-promise-roundtrip-time":
            float(value)  # a duration, as theirs
            continue
        if name == "accept" and mine.get("x-tinker-request-type") in _PROTOBUF_RESULTS:
            assert (value, theirs[name]) == (
                "application/json",
                "application/x-protobuf, application/json",
            )
            continue
        assert value == theirs[name], (op, name)
    if official.method == "POST":
        assert mine["x-idempotency-key"]
        assert theirs["x-idempotency-key"]


@pytest.mark.parametrize("rank", [0, 4])
def test_trainer_requests_match_the_official_client(
    reference: OfficialClient, emu: Emulator, rank: int
) -> None:
    official_job = emu.create_trainer_job(job_id=f"official-{rank}", lora_rank=rank)
    our_job = emu.create_trainer_job(job_id=f"ours-{rank}", lora_rank=rank)
    args = (emu.trainer_url(official_job), emu.api_key, BASE_MODEL, str(rank), TEXT.decode())
    theirs = reference.run(TRAINER_DRIVER, *args, timeout=300)
    mine = _ours(emu, our_job, rank)

    official, ours = _trainer_requests(emu, official_job), _trainer_requests(emu, our_job)
    ops = {e.route.rsplit("/", 1)[1] for e in ours}
    assert len(ours) >= 22
    assert {"create_session", "create_model", "forward", "optim_step", "retrieve_future"} <= ops
    assert [(e.method, e.route.rsplit("/", 1)[1]) for e in ours] == [
        (e.method, e.route.rsplit("/", 1)[1]) for e in official
    ]
    for theirs_request, our_request in zip(official, ours, strict=True):
        assert _normal(our_request.body) == _normal(theirs_request.body), our_request.route
        _check_headers(theirs_request, our_request, emu.api_key)
    keys = [e.headers["x-idempotency-key"] for e in ours if e.method == "POST"]
    assert len(set(keys)) == len(keys)  # a fresh key per request (nothing was resent)

    def results(out: dict[str, Any], job: str) -> dict[str, Any]:
        normal: dict[str, Any] = _normal({k: v for k, v in out.items() if k != "session"})
        normal["state"] = out["state"].replace(job, "<job>")
        return normal

    assert results(mine, our_job) == results(theirs, official_job)
    assert mine["first"][1].endswith(mine["session"])
    assert emu.weights_digest(our_job) == emu.weights_digest(official_job)
