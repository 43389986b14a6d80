"""``Emulator``: the whole emulator on a loopback port, served by uvicorn in a thread."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import uvicorn
from numpy.typing import NDArray

from .app import build_app
from .backend import Backend, RequestLog
from .deployment_admin import DeploymentAdmin
from .faults import Faults
from .model import DEFAULT_BASE_MODEL
from .settings import Settings, SettingsOverrides

__all__ = ["DEFAULT_BASE_MODEL", "Emulator", "bind_socket", "make_config"]

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def make_config(app: Any, host: str, port: int, *, access_log: bool = False) -> uvicorn.Config:
    """uvicorn settings shared by the thread and the command line."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        lifespan="on",
        log_config=None,
        access_log=access_log,
        timeout_graceful_shutdown=1,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0`` picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every small answer waits for a delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class Emulator(DeploymentAdmin):
    """The Fireworks control plane, trainers and deployments, offline, on ``base_url``.

    Use it as a context manager (or call :meth:`start` and :meth:`close`). With
    ``state_dir=None`` everything lives in a temporary directory removed on close; with a
    directory, a later emulator on the same directory finds every job, row, model and file.
    Settings come from ``settings`` (default :class:`Settings`), then any keyword argument
    naming one of its fields (``Emulator(long_poll_seconds=1.0)``).
    """

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> None:
        settings = (settings or Settings()).updated(**overrides)
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="fw-emulator-") if state_dir is None else None
        )
        root = Path(self._tmp.name if self._tmp else state_dir)  # type: ignore[arg-type]
        self._backend = Backend(root, settings)
        self.state_dir = root
        self._host, self._port = settings.host, settings.port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def settings(self) -> Settings:
        """The live settings (the runtime switches below change them)."""
        return self._backend.settings

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve in a background thread; returns once it answers."""
        sock = bind_socket(self._host, self._port)
        self._socket = sock
        self._port = sock.getsockname()[1]
        self._server = uvicorn.Server(make_config(build_app(self._backend), self._host, self._port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fw-emulator", daemon=True
        )
        self._thread.start()
        self._wait_started()
        return self

    def _wait_started(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        deadline = threading.Event()
        for _ in range(int(_START_TIMEOUT_S / 0.01)):
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            deadline.wait(0.01)
        self.close()
        raise RuntimeError("the emulator did not start")

    def close(self) -> None:
        """Stop serving and remove a temporary state dir."""
        self._backend.closing = True
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(_STOP_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._server = self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- addresses ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The control plane root, which is also the trainer gateway."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def api_key(self) -> str:
        """The key every request must carry."""
        return self._backend.settings.api_key

    @property
    def account_id(self) -> str:
        """The one account of this emulator."""
        return self._backend.settings.account_id

    def trainer_url(self, job_id: str) -> str:
        """The trainer API base URL of a job."""
        return f"{self.base_url}/training/v1/rlorTrainerJobs/{self.account_id}/{job_id}"

    # -- jobs and rows ------------------------------------------------------------------

    def create_trainer_job(
        self,
        base_model: str = DEFAULT_BASE_MODEL,
        lora_rank: int = 0,
        job_id: str | None = None,
        learning_rate: float | None = 1e-4,
        display_name: str | None = None,
    ) -> str:
        """Create a trainer job as ``POST rlorTrainerJobs`` would; returns its id.

        Idempotent by id, like a client that fetches the job after a 409: an existing job of
        the same base model and rank is returned as it is (a restarted emulator on the same
        state dir keeps its jobs); one with another configuration is a ``ValueError``.
        """
        config: dict[str, Any] = {"baseModel": base_model, "loraRank": lora_rank}
        if learning_rate is not None:
            config["learningRate"] = learning_rate
        body: dict[str, Any] = {"serviceMode": True, "trainingConfig": config}
        if display_name is not None:
            body["displayName"] = display_name
        return self._backend.jobs.ensure(job_id, body).job_id

    def job_state(self, job_id: str) -> str:
        """The job's current state (``JOB_STATE_...``)."""
        return self._backend.jobs.get(job_id).state

    def add_checkpoint_rows(
        self, job_id: str, n: int, *, ttl_seconds: float | None = None
    ) -> list[str]:
        """Add ``n`` synthetic rows (mixed types and precisions, no files); their names."""
        job = self._backend.jobs.get(job_id)
        return self._backend.rows.add_synthetic(job_id, n, job.lora_rank > 0, ttl_seconds)

    def preempt(self, job_id: str) -> None:
        """The job goes to FAILED, in-flight futures fail, the trainer answers 503."""
        self._backend.preempt(job_id)

    def advance_time(self, seconds: float) -> None:
        """Move the emulator's clock forward (TTL expiry, async promotion, future expiry)."""
        self._backend.clock.advance(seconds)

    # -- trainer state ------------------------------------------------------------------

    def weights(self, job_id: str) -> NDArray[np.float32]:
        """A copy of the effective weight matrix (256, 256) of the job's latest model."""
        return self._backend.trainers.weights(job_id)

    def weights_digest(self, job_id: str) -> str:
        """sha256 hex of the trainable parameters of the job's latest model."""
        return self._backend.trainers.digest(job_id)

    # -- switches -------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """Fault injection rules, switchable while serving."""
        return self._backend.faults

    @property
    def request_log(self) -> RequestLog:
        """Requests received (admin routes excepted); ``clear()`` empties it."""
        return self._backend.request_log

    def set_promotion_mode(self, mode: str, seconds: float | None = None) -> None:
        """``"sync"`` or ``"async"`` (long-running, done after ``seconds``)."""
        self._backend.settings.set_promotion_mode(mode, seconds)

    def set_legacy_async_promotion(self, enabled: bool = True) -> None:
        """Act as an older server that rejects ``async_promotion`` with a 400."""
        self._backend.settings.legacy_async_promotion = enabled

    def long_polls(self, job_id: str) -> int:
        """``retrieve_future`` requests of the job held right now, waiting for a result."""
        return self._backend.long_polls.count(job_id)

    def wait_for_long_polls(
        self, job_id: str, count: int = 1, timeout: float | None = None
    ) -> bool:
        """Block until ``count`` retrieves of the job are held; False on timeout."""
        return self._backend.long_polls.wait_for(job_id, count, timeout)

    def set_long_poll_seconds(self, seconds: float) -> None:
        """How long ``retrieve_future`` holds a pending request before ``try_again``."""
        self._backend.settings.long_poll_seconds = seconds
