"""Everything one emulator holds, wired together; routes and the Python API both use it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NamedTuple

from .catalog_service import Catalog
from .deployments import Deployments
from .faults import Faults
from .held import HeldRequests
from .jobs import FAILED, Jobs
from .promotion import Promotions
from .rows import Rows
from .serving import Serving
from .settings import Settings
from .snapshots import Snapshots
from .store import Clock, Store
from .trainer import Trainers

__all__ = ["Backend", "RecordedRequest", "RequestLog"]

_SECRET_HEADERS = ("x-api-key", "authorization")


class RecordedRequest(NamedTuple):
    """One request the server received: method, path (with ``?query``), JSON body, headers."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.partition("?")[0]

    @property
    def idempotency_key(self) -> str | None:
        """The ``X-Idempotency-Key`` header the client sent, if any."""
        return self.headers.get("x-idempotency-key")

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return f"RecordedRequest({self.method!r}, {self.path!r}, {self.body!r}, {shown!r})"


class RequestLog(list[RecordedRequest]):
    """The requests received so far, oldest first; thread-safe appends."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def record(self, entry: RecordedRequest) -> None:
        """Append one request."""
        with self._lock:
            self.append(entry)


class Backend:
    """Store, clock, settings and the services built on them."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.settings = settings
        self.clock = Clock()
        self.store = Store(root)
        self.jobs = Jobs(self.store, self.clock, settings)
        self.rows = Rows(self.store, self.clock, settings)
        self.catalog = Catalog(self.store, self.clock, settings)
        self.promotions = Promotions(self.store, self.clock, settings, self.jobs, self.rows)
        self.trainers = Trainers(self.store, self.clock, settings, self.jobs, self.rows)
        self.deployments = Deployments(self.store, self.clock, settings, self.jobs)
        snapshots = Snapshots(self.store, self.rows, settings.account_id)
        self.serving = Serving(self.store, self.clock, settings, self.deployments, snapshots)
        self.faults = Faults()
        self.request_log = RequestLog()
        self.long_polls = HeldRequests()  # retrieve_future requests waiting, per job
        self.closing = False

    def preempt(self, job_id: str) -> None:
        """The job fails; its trainer process and in-flight futures go with it."""
        with self.store.lock:
            self.jobs.set_state(job_id, FAILED, "trainer preempted")
            self.trainers.crash(job_id, "trainer job was preempted")

    def resume(self, job_id: str) -> None:
        """``:resume``: a fresh trainer process once the job runs again."""
        with self.store.lock:
            self.jobs.resume(job_id)
            self.trainers.crash(job_id, "trainer job restarted")

    def delete(self, job_id: str) -> None:
        """DELETE: the job's record stays (rows remain listable and promotable)."""
        with self.store.lock:
            self.jobs.set_state(job_id, "JOB_STATE_DELETED")
            self.trainers.crash(job_id, "trainer job was deleted")
