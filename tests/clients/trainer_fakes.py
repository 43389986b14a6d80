"""A scripted trainer behind respx: records every request, answers like docs/protocol.md §2."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.retries import RetryPolicy

GATEWAY = "https://gw.test"
TRAINER = f"{GATEWAY}/training/v1/rlorTrainerJobs/acme/job-abc"
KEY = "fw-trainer-secret-0123456789"
MODEL = "model-1"
OPS = (
    "forward",
    "forward_backward",
    "load_adapter",
    "unload_model",
    "optim_step",
    "save_weights",
    "load_weights",
    "save_weights_for_sampler",
    "create_model",
)
TRY_AGAIN = {"type": "try_again", "request_id": "", "queue_state": "active"}


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


class FakeTrainer:
    """Answers submits and retrieves; ``retrieve_script``/``submit_script`` come first."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router  # for a test's own routes (the control plane, ...)
        self.lock = threading.Lock()
        self.submits: list[tuple[str, dict[str, Any]]] = []
        self.retrieves: list[str] = []
        self.retrieve_requests: list[httpx.Request] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []
        self.retrieve_script: deque[Any] = deque()
        self.submit_script: deque[Any] = deque()
        self.results: dict[str, dict[str, Any]] = {}
        self.by_seq: dict[tuple[Any, Any], str] = {}
        self.hold: asyncio.Event | None = None
        self.heartbeat_seen = threading.Event()
        self.all_submitted = threading.Event()
        self.expected_submits = 0
        self.checkpoints: Any = {"checkpoints": ["step-2", "step-4"]}
        api = f"{TRAINER}/api/v1"
        for op in OPS:
            router.post(f"{api}/{op}").mock(side_effect=self._submit)
        router.post(f"{api}/retrieve_future").mock(side_effect=self._retrieve)
        router.post(f"{api}/create_session").mock(side_effect=self._create_session)
        router.post(f"{api}/session_heartbeat").mock(side_effect=self._heartbeat)
        router.get(f"{api}/list_checkpoints").mock(side_effect=self._list)

    def ops(self, name: str | None = None) -> list[dict[str, Any]]:
        """Submitted bodies (of one op), in arrival order."""
        return [body for op, body in self.submits if name is None or op == name]

    @staticmethod
    def _scripted(script: deque[Any]) -> Any:
        if not script:
            return None
        item = script.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    def _submit(self, request: httpx.Request) -> httpx.Response:
        op = request.url.path.rsplit("/", 1)[1]
        body = json.loads(request.content)
        with self.lock:
            self.headers.append(request.headers)
            self.submits.append((op, body))
            if len(self.submits) == self.expected_submits:
                self.all_submitted.set()
            scripted = self._scripted(self.submit_script)
            if scripted is not None:
                return scripted  # type: ignore[no-any-return]
            key = (body.get("model_id"), body.get("seq_id", body.get("model_seq_id")))
            if key not in self.by_seq:
                request_id = f"req-{len(self.by_seq) + 1}"
                self.by_seq[key] = request_id
                self.results[request_id] = self.result_for(op, body)
            return reply(body={"request_id": self.by_seq[key], "model_id": MODEL})

    @staticmethod
    def result_for(op: str, body: dict[str, Any]) -> dict[str, Any]:
        """What a healthy trainer answers for an op."""
        if op == "save_weights":
            return {"path": f"cross_job://job-abc/{body['path']}", "type": "save_weights"}
        if op == "save_weights_for_sampler":
            return {"path": f"accounts/acme/rlorTrainerJobs/job-abc/checkpoints/{body['path']}"}
        if op == "load_weights":
            return {"path": body["path"], "type": "load_weights"}
        if op == "optim_step":
            return {"metrics": {"step": float(body["seq_id"])}}
        if op == "create_model":
            return {"model_id": MODEL}
        if op == "load_adapter":
            return {"model_id": body["model_id"], "adapter_path": body["adapter_path"]}
        if op == "unload_model":
            return {"model_id": body["model_id"], "type": "unload_model"}
        data = body.get("forward_backward_input", body.get("forward_input", {}))["data"]
        outputs = [
            {"logprobs": {"data": [-0.5] * n, "dtype": "float32", "shape": [n]}}
            for n in (len(d["loss_fn_inputs"]["target_tokens"]["data"]) for d in data)
        ]
        return {
            "loss_fn_output_type": "ArrayRecord",
            "loss_fn_outputs": outputs,
            "metrics": {"loss:sum": 1.5, "seq": float(body["seq_id"])},
        }

    async def _retrieve(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if self.hold is not None:
            await self.hold.wait()
        with self.lock:
            self.retrieve_requests.append(request)
            self.retrieves.append(body["request_id"])
            scripted = self._scripted(self.retrieve_script)
            if isinstance(scripted, httpx.Response):
                return scripted
            if scripted == "try_again":
                return reply(body={**TRY_AGAIN, "request_id": body["request_id"]})
            return reply(body=self.results[body["request_id"]])

    def _create_session(self, request: httpx.Request) -> httpx.Response:
        self.sessions.append(json.loads(request.content))
        return reply(body={"session_id": "sess-1", "type": "create_session"})

    def _heartbeat(self, request: httpx.Request) -> httpx.Response:
        self.heartbeats.append(json.loads(request.content))
        self.heartbeat_seen.set()
        return reply(body={"type": "session_heartbeat"})

    def _list(self, request: httpx.Request) -> httpx.Response:
        scripted = self._scripted(self.submit_script)
        if scripted is not None:
            return scripted  # type: ignore[no-any-return]
        return reply(body=self.checkpoints)


@pytest.fixture
def slept() -> list[float]:
    """Backoff sleeps the trainer clients asked for (never slept)."""
    return []


@pytest.fixture
def policy(slept: list[float]) -> RetryPolicy:
    """The default retry policy with sleeps recorded instead of slept."""

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    return RetryPolicy(async_sleep=no_sleep, sleep=slept.append)


@pytest.fixture
def fake() -> Iterator[FakeTrainer]:
    """A fake trainer; any request it does not know fails the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield FakeTrainer(router)


@pytest.fixture
def trainer(fake: FakeTrainer, policy: RetryPolicy) -> Iterator[FiretitanTrainingClient]:
    """A full-parameter training client on the fake trainer."""
    with FiretitanTrainingClient(TRAINER, MODEL, 0, api_key=KEY, retry_policy=policy) as client:
        yield client


@pytest.fixture
def lora_trainer(fake: FakeTrainer, policy: RetryPolicy) -> Iterator[FiretitanTrainingClient]:
    """A LoRA (rank 16) training client on the fake trainer."""
    with FiretitanTrainingClient(TRAINER, MODEL, 16, api_key=KEY, retry_policy=policy) as client:
        yield client


@pytest.fixture
def service(fake: FakeTrainer, policy: RetryPolicy) -> Iterator[FiretitanServiceClient]:
    """A service client on the fake trainer, heartbeat off."""
    with FiretitanServiceClient(
        TRAINER, api_key=KEY, retry_policy=policy, heartbeat_interval_s=None
    ) as client:
        yield client
