"""FiretitanServiceClient: session, create_model future, heartbeat, shared connection, close."""

from __future__ import annotations

import threading

import pytest

from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.errors import (
    ClientClosedError,
    InvalidArgumentError,
    RequestFailedError,
)
from fireworks_training.retries import RetryPolicy

from .trainer_fakes import KEY, MODEL, TRAINER, FakeTrainer, fake, policy, reply, service, slept

__all__ = ["fake", "policy", "service", "slept"]  # fixtures


def test_create_training_client_wire(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    client = service.create_training_client("accounts/fireworks/models/qwen3-8b")
    assert fake.sessions == [
        {"tags": [], "user_metadata": {}, "sdk_version": "0.23.0", "type": "create_session"}
    ]
    assert fake.ops("create_model") == [
        {
            "session_id": "sess-1",
            "model_seq_id": 0,
            "base_model": "accounts/fireworks/models/qwen3-8b",
            "lora_config": {
                "rank": 0,
                "train_unembed": True,
                "train_mlp": True,
                "train_attn": True,
            },
            "type": "create_model",
        }
    ]
    assert fake.retrieves == ["req-1"]
    assert (client.model_id, client.lora_rank) == (MODEL, 0)
    assert service.server_session_id == "sess-1"
    assert fake.headers[0]["x-api-key"] == KEY


def test_lora_model_and_second_client_reuse_the_session(
    service: FiretitanServiceClient, fake: FakeTrainer
) -> None:
    first = service.create_training_client("base", lora_rank=16)
    second = service.create_training_client("base", 16)
    assert len(fake.sessions) == 1
    bodies = fake.ops("create_model")
    assert [b["model_seq_id"] for b in bodies] == [0, 1]
    assert bodies[0]["lora_config"] == {
        "alpha": 32,
        "rank": 16,
        "train_unembed": True,
        "train_mlp": True,
        "train_attn": True,
    }
    assert first.lora_rank == 16
    assert first.session_id != second.session_id
    assert first._conn is second._conn is service._conn  # one connection pool


def test_create_model_failure_raises(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    fake.retrieve_script.append(reply(body={"error": "unknown base model", "category": "user"}))
    with pytest.raises(RequestFailedError, match="unknown base model") as caught:
        service.create_training_client("nope")
    assert caught.value.category == "user"


def test_create_model_waits_through_try_again(
    service: FiretitanServiceClient, fake: FakeTrainer
) -> None:
    fake.retrieve_script.extend(["try_again", reply(503)])
    assert service.create_training_client("base").model_id == MODEL


@pytest.mark.parametrize(("base_model", "rank"), [("", 0), ("base", -1), ("base", True)])
def test_bad_arguments_send_nothing(
    service: FiretitanServiceClient, fake: FakeTrainer, base_model: str, rank: int
) -> None:
    with pytest.raises(InvalidArgumentError):
        service.create_training_client(base_model, rank)
    assert fake.sessions == []
    assert fake.submits == []


def test_heartbeat_on_the_loop_thread_while_clients_are_open(
    fake: FakeTrainer, policy: RetryPolicy
) -> None:
    baseline = threading.active_count()
    with FiretitanServiceClient(
        TRAINER, KEY, retry_policy=policy, heartbeat_interval_s=0.001
    ) as service:
        clients = [service.create_training_client("base") for _ in range(3)]
        assert fake.heartbeat_seen.wait(10)
        assert fake.heartbeats[0] == {"session_id": "sess-1", "type": "session_heartbeat"}
        assert threading.active_count() - baseline == 1
        for client in clients:
            client.close()
        assert service._heartbeat is None
    assert threading.active_count() == baseline


def test_close_closes_training_clients(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    client = service.create_training_client("base")
    service.close()
    with pytest.raises(ClientClosedError, match="closed"):
        client.save_state("s")
    with pytest.raises(ClientClosedError, match="closed"):
        service.create_training_client("base")
    service.close()  # idempotent


def test_key_never_shown(service: FiretitanServiceClient, fake: FakeTrainer) -> None:
    client = service.create_training_client("base")
    assert KEY not in repr(service)
    assert KEY not in repr(client)
