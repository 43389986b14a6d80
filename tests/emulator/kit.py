"""A tiny trainer-API driver over plain httpx, for the emulator's own tests; ``read_line``."""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import httpx

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
TEXT = b"the quick brown fox jumps over the lazy dog"

# The start of a script run by the official client (its own virtualenv): imports, and
# ``official_datum(text)``, one next-token datum over ``text`` (a list of byte values).
OFFICIAL_PRELUDE = """
import json, os, sys
os.environ["TINKER_TELEMETRY"] = "0"  # background events: not part of what is compared
from fireworks.training.sdk import FiretitanServiceClient, types

def official_datum(text):
    n = len(text) - 1
    return types.Datum(
        model_input=types.ModelInput.from_ints(text[:-1]),
        loss_fn_inputs={
            "target_tokens": types.TensorData(data=text[1:], dtype="int64", shape=[n]),
            "weights": types.TensorData(data=[1.0] * n, dtype="float32", shape=[n]),
        },
    )
"""


def read_line(stream: IO[str], timeout: float = 60.0) -> str:
    """The next line of a child process's output; fails the test if none comes in time."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        try:
            lines.put(stream.readline())
        except (OSError, ValueError):  # closed by the test once it gave up
            lines.put("")

    threading.Thread(target=read, name="read-line", daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no output line within {timeout:g} s") from None


@dataclass
class Child:
    """An emulator command running as a child process (see :func:`emulator_process`)."""

    proc: subprocess.Popen[str]
    banner: str
    out: str = ""  # what it printed after the lines read, once it has exited
    err: str = ""

    @property
    def url(self) -> str:
        """The base URL from the banner ``Fireworks emulator on <url>``."""
        return self.banner.split(" on ", 1)[1].strip()

    def read_line(self) -> str:
        """The next line of its standard output."""
        assert self.proc.stdout is not None
        return read_line(self.proc.stdout)


@contextmanager
def emulator_process(command: list[str]) -> Iterator[Child]:
    """Start ``command``, read its banner, and terminate it on exit, keeping its output."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        child = Child(proc, "")
        try:
            child.banner = read_line(proc.stdout)  # printed once the port listens
            yield child
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            # Not communicate(): it reads the pipes' fds and misses what readline() buffered.
            child.out, child.err = proc.stdout.read(), proc.stderr.read()


def datum(text: bytes = TEXT, weights: list[float] | None = None) -> dict[str, Any]:
    """A tinker JSON Datum predicting each next byte of ``text``."""
    tokens = list(text)
    n = len(tokens) - 1
    inputs: dict[str, Any] = {
        "target_tokens": {"data": tokens[1:], "dtype": "int64", "shape": [n]},
    }
    if weights is not None:
        inputs["weights"] = {"data": weights, "dtype": "float32", "shape": [n]}
    return {
        "model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens[:-1]}]},
        "loss_fn_inputs": inputs,
    }


@dataclass
class Trainer:
    """One session and model on a trainer; numbers ops like a training client."""

    http: httpx.Client
    url: str
    account: str
    session_id: str = ""
    model_id: str = ""
    seq: int = 0

    @classmethod
    def start(
        cls, http: httpx.Client, url: str, account: str, lora_rank: int = 0, base: str = BASE_MODEL
    ) -> Trainer:
        trainer = cls(http, url, account)
        trainer.attach(lora_rank, base)
        return trainer

    def api(self, op: str) -> str:
        return f"{self.url}/api/v1/{op}"

    def attach(self, lora_rank: int = 0, base: str = BASE_MODEL) -> dict[str, Any]:
        """create_session + create_model, as a fresh training client does."""
        session = self.http.post(
            self.api("create_session"),
            json={
                "tags": [],
                "user_metadata": None,
                "sdk_version": "test",
                "type": "create_session",
            },
        )
        session.raise_for_status()
        self.session_id = session.json()["session_id"]
        body: dict[str, Any] = {
            "session_id": self.session_id,
            "model_seq_id": 0,
            "base_model": base,
            "type": "create_model",
        }
        if lora_rank:
            body["lora_config"] = {"rank": lora_rank}
        submitted = self.http.post(self.api("create_model"), json=body)
        submitted.raise_for_status()
        result = self.wait(submitted.json()["request_id"])
        if "model_id" in result:
            self.model_id = result["model_id"]
            self.seq = 0
        return result

    def submit(
        self, op: str, body: dict[str, Any], seq: int | None = None, key: str | None = None
    ) -> str:
        if seq is None:
            self.seq += 1
            seq = self.seq
        payload = {"model_id": self.model_id, "seq_id": seq, "type": op, **body}
        headers = {"X-Idempotency-Key": key} if key else None
        response = self.http.post(self.api(op), json=payload, headers=headers)
        response.raise_for_status()
        submitted = response.json()
        assert submitted["model_id"] == self.model_id
        return str(submitted["request_id"])

    def poll(self, request_id: str) -> httpx.Response:
        return self.http.post(
            self.api("retrieve_future"),
            json={"request_id": request_id, "allow_metadata_only": False},
        )

    def wait(self, request_id: str) -> dict[str, Any]:
        for _ in range(100):
            response = self.poll(request_id)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            if body.get("type") != "try_again":
                return body
        raise AssertionError("future never finished")

    def run(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.wait(self.submit(op, body))

    def forward_backward(self, *data: dict[str, Any]) -> dict[str, Any]:
        fb_input = {"data": list(data) or [datum()], "loss_fn": "cross_entropy"}
        return self.run("forward_backward", {"forward_backward_input": fb_input})

    def optim_step(self, lr: float = 1e-2) -> dict[str, Any]:
        adam = {"learning_rate": lr, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8}
        return self.run("optim_step", {"adam_params": adam})

    def train_step(self, text: bytes = TEXT, lr: float = 1e-2) -> float:
        loss = self.forward_backward(datum(text))["metrics"]["loss:sum"]
        self.optim_step(lr)
        return float(loss)

    def save_state(
        self, name: str, ttl_seconds: int | None = None, overwrite: bool | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"path": name}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if overwrite is not None:
            body["overwrite"] = overwrite
        return self.run("save_weights", body)

    def load_state(self, path: str, optimizer: bool) -> dict[str, Any]:
        return self.run("load_weights", {"path": path, "optimizer": optimizer})

    def save_sampler(self, name: str, checkpoint_type: str = "base") -> dict[str, Any]:
        snapshot = f"{name}-{self.session_id}"
        return self.run(
            "save_weights_for_sampler", {"path": snapshot, "checkpoint_type": checkpoint_type}
        )

    def rows(self, job_id: str, page_size: int = 200) -> list[dict[str, Any]]:
        """Every checkpoint row of a job, across pages."""
        path = f"/v1/accounts/{self.account}/rlorTrainerJobs/{job_id}/checkpoints"
        return list_all_rows(self.http, path, page_size)


def list_all_rows(http: httpx.Client, path: str, page_size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": page_size}
        if token:
            params["pageToken"] = token
        response = http.get(path, params=params)
        response.raise_for_status()
        body = response.json()
        rows.extend(body["checkpoints"])
        token = body.get("nextPageToken")
        if not token:
            return rows


def promote_body(account: str, job_id: str, model_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "output_model": f"accounts/{account}/models/{model_id}",
        "trainer_job_id": f"accounts/{account}/rlorTrainerJobs/{job_id}",
        "base_model": BASE_MODEL,
        **extra,
    }


def deployment_body(
    account: str, job_id: str | None, replicas: int = 1, **extra: Any
) -> dict[str, Any]:
    """A create body as the official DeploymentManager sends it, attached to ``job_id``."""
    body: dict[str, Any] = {
        "baseModel": BASE_MODEL,
        "description": "Fireworks training deployment",
        "minReplicaCount": replicas,
        "maxReplicaCount": replicas,
        "enableHotLoad": True,
        "forTraining": True,
        "hotLoadBucketType": "FW_HOSTED",
        "acceleratorType": "NVIDIA_H200_141GB",
        **extra,
    }
    if job_id is not None:
        body["hotLoadTrainerJob"] = f"accounts/{account}/rlorTrainerJobs/{job_id}"
    return body


def delta_metadata(previous: str | None) -> dict[str, Any]:
    return {
        "previous_snapshot_identity": previous,
        "compression_format": "arc_v2",
        "checksum_format": "alder32",
    }


@dataclass
class Deployment:
    """One deployment over plain httpx: its resource, the hot-load API and completions."""

    http: httpx.Client
    account: str
    deployment_id: str
    base_model: str = BASE_MODEL

    @classmethod
    def create(
        cls, http: httpx.Client, account: str, deployment_id: str, job_id: str | None, **extra: Any
    ) -> Deployment:
        response = http.post(
            f"/v1/accounts/{account}/deployments",
            params={"deploymentId": deployment_id},
            json=deployment_body(account, job_id, **extra),
        )
        response.raise_for_status()
        return cls(http, account, deployment_id)

    @property
    def path(self) -> str:
        return f"/v1/accounts/{self.account}/deployments/{self.deployment_id}"

    @property
    def model(self) -> str:
        return f"accounts/{self.account}/deployments/{self.deployment_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"fireworks-deployment": self.model, "fireworks-model": self.base_model}

    def get(self) -> dict[str, Any]:
        response = self.http.get(self.path)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def signal(
        self, identity: str, previous: str | None = None, *, delta: bool = False, **extra: Any
    ) -> httpx.Response:
        """POST hot_load: a full load, or with ``delta`` the incremental metadata."""
        body: dict[str, Any] = {"identity": identity, "reset_prompt_cache": True, **extra}
        if delta:
            body["incremental_snapshot_metadata"] = delta_metadata(previous)
        return self.http.post("/hot_load/v1/models/hot_load", headers=self.headers, json=body)

    def load(self, identity: str, previous: str | None = None, *, delta: bool = False) -> None:
        """Signal and require a 200."""
        response = self.signal(identity, previous, delta=delta)
        assert response.status_code == 200, response.text
        assert response.json() == {}

    def replicas(self) -> list[dict[str, Any]]:
        response = self.http.get("/hot_load/v1/models/hot_load", headers=self.headers)
        response.raise_for_status()
        replicas: list[dict[str, Any]] = response.json()["replicas"]
        return replicas

    def current(self) -> list[str | None]:
        return [r["current_snapshot_identity"] for r in self.replicas()]

    def complete(self, prompt: list[int] | str, **fields: Any) -> httpx.Response:
        body = {"model": self.model, "prompt": prompt, **fields}
        return self.http.post("/inference/v1/completions", json=body)

    def prompt_logprobs(self, prompt: list[int]) -> list[float]:
        """The echoed prompt's raw logprobs (rows 1..P-1), as compute_logprobs reads them."""
        response = self.complete(
            prompt, max_tokens=1, temperature=1.0, logprobs=True, echo=True, raw_output=True
        )
        response.raise_for_status()
        rows = response.json()["choices"][0]["logprobs"]["content"]
        return [float(r["logprob"]) for r in rows[1 : len(prompt)]]
