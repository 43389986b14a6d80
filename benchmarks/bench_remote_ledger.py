"""Resume lookup on a ``log_path`` on S3: requests and memory must not grow with the ledger.

moto's S3 server runs in the benchmark process on 127.0.0.1; the ledgers (records, cursors
and an expired lease, keyed as ``RemoteLedger`` writes them) are put straight into moto's
store. A child process then reads them through s3fs as a resuming training loop would, so
its memory is the client's alone. Requests are counted in the child by a botocore
``before-send`` hook, memory with tracemalloc.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fireworks_training.checkpoints.ledger import LedgerRecord, RemoteLedger, open_ledger
from fireworks_training.checkpoints.ledger.objects import FsspecObjects
from fireworks_training.checkpoints.ledger.remote import object_keys

from .harness import traced_peak
from .report import Config, Result, Row

__all__ = ["run"]

MAX_LOOKUP_REQUESTS = 6  # lease: list, read the last claim, create; cursor: list, list, read
JOB = "bench-job"
WRITER = "0123abcd-1"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def _moto() -> Iterator[tuple[str, Any]]:
    """moto's S3 on loopback in this process: its endpoint and its backend (to fill fast)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    finally:
        server.stop()


def _fill(backend: Any, records: int) -> str:
    """A bucket holding a ledger of ``records`` state saves, one name each, and an expired
    lease (a bucket each: moto scans a whole bucket per listing, S3 does not)."""
    bucket, prefix = f"bench-ledger-{records}", "runs/a"
    backend.create_bucket(bucket, "us-east-1")
    for seq in range(1, records + 1):
        name = f"step-{seq}"
        line = LedgerRecord(
            name=name,
            step=seq,
            data_consumed=seq * 32,
            state_path=f"cross_job://{JOB}/{name}",
            source_job_id=JOB,
            base_model="accounts/fireworks/models/qwen3-8b",
            schema_version=1,
        ).to_line()
        for key in object_keys(seq, name, WRITER):
            backend.put_object(bucket, f"{prefix}/{key}", line)
    lease = {"machine": "gone/x/y", "pid": 1, "process": "p", "writer": "p-1", "expires_at": 0}
    backend.put_object(bucket, f"{prefix}/lease/000000000001.json", json.dumps(lease).encode())
    return f"s3://{bucket}/{prefix}"


@dataclass
class Measured:
    """What the child measured on one ledger."""

    lookup_requests: int
    old_name_requests: int
    save_requests: int
    list_all_requests: int
    lookup_ms: float
    peak_kib: float


def _measure_in_child(url: str, endpoint: str, records: int, rounds: int) -> Measured:
    command = [sys.executable, "-m", "benchmarks.bench_remote_ledger"]
    command += [url, endpoint, str(records), str(rounds)]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the lookup process failed:\n{done.stderr}")
    return Measured(**json.loads(done.stdout.strip().splitlines()[-1]))


def run(config: Config) -> Result:
    """Fill two ledgers (10x apart) and look up the newest checkpoint's cursor in each."""
    sizes = (200, 2_000) if config.smoke else (10_000, 100_000)
    result = Result("Remote ledger")
    measured: dict[int, Measured] = {}
    with _moto() as (endpoint, backend):
        for records in sizes:
            url = _fill(backend, records)
            measured[records] = _measure_in_child(url, endpoint, records, config.rounds)
    for records in sizes:
        m = measured[records]
        result.rows.append(
            Row(
                f"resume lookup, s3:// ledger of {records:,} records",
                f"{m.lookup_requests} requests ({m.lookup_ms:.1f} ms, peak {m.peak_kib:.0f} KiB); "
                f"an old checkpoint's cursor {m.old_name_requests}, a save "
                f"{m.save_requests}; listing every record would take {m.list_all_requests}",
                f"{m.lookup_requests} requests",
                f"≤ {MAX_LOOKUP_REQUESTS} requests",
                m.lookup_requests <= MAX_LOOKUP_REQUESTS,
            )
        )
    small, large = (measured[size] for size in sizes)
    growth = large.peak_kib / small.peak_kib
    result.rows.append(
        Row(
            "resume lookup on s3:// vs ledger size",
            f"{small.lookup_requests} → {large.lookup_requests} requests, peak "
            f"{small.peak_kib:.0f} → {large.peak_kib:.0f} KiB for {sizes[1] // sizes[0]}x "
            "the records",
            f"{growth:.2f}x memory",
            "same requests, ≤ 1.25x memory",
            small.lookup_requests == large.lookup_requests and growth <= 1.25,
        )
    )
    result.notes.append(
        "moto's S3 server on 127.0.0.1 in the benchmark process, read by a child process "
        "through s3fs; requests counted on the client (botocore before-send). A lookup is what "
        "resume asks of the ledger: take the lease (list the claims, read the last, create the "
        "next) and read the data cursor of one checkpoint (list its groups, list the newest "
        "group, read one object). A save adds the takeover check and the lease renewal, the "
        "record number (two listings, once per process) and two conditional puts. Every "
        "listing holds at most 1,000 names (records are grouped by 1,000), so it is one "
        "request up to a million records. Memory is the peak of Python allocations "
        f"(tracemalloc) in the client during one lookup; time is the median of {config.rounds} "
        "lookups on loopback, and grows with the ledger only because moto scans every key of "
        "a bucket to answer a listing."
    )
    return result


# The child process: one ledger, read as a resuming loop reads it. ---------------------


@dataclass(eq=False)
class _Counter:
    sent: int = 0

    def __call__(self, request: Any, **kwargs: Any) -> None:
        self.sent += 1

    def count(self, fn: Callable[[], Any]) -> tuple[int, Any]:
        before = self.sent
        value = fn()
        return self.sent - before, value


def _open(url: str, endpoint: str) -> RemoteLedger:
    ledger = open_ledger(url, storage_options={"client_kwargs": {"endpoint_url": endpoint}})
    assert isinstance(ledger, RemoteLedger)
    return ledger


def _lookup(ledger: RemoteLedger, name: str) -> int | None:
    """What resume asks of the ledger: the lease, then the data cursor of one checkpoint."""
    ledger.lease.acquire()
    return ledger.data_consumed_of(name, JOB)


def _fs(ledger: Any) -> Any:
    """The s3fs filesystem under a remote ledger (its requests are what is counted)."""
    objects = ledger.objects
    if not isinstance(objects, FsspecObjects):
        raise TypeError(f"not an fsspec ledger: {objects!r}")
    return objects.fs


def _child(url: str, endpoint: str, records: int, rounds: int) -> Measured:
    counter = _Counter()
    newest = f"step-{records}"
    first = _open(url, endpoint)
    fs = _fs(first)
    fs.connect()
    fs.s3.meta.events.register("before-send.s3", counter)
    _lookup(first, newest)  # warm-up: the client's first request builds its caches
    first.lease.release()
    lookup, consumed = counter.count(lambda: _lookup(_open(url, endpoint), newest))
    if consumed != records * 32:
        raise RuntimeError(f"the lookup found {consumed}, not {records * 32}")
    old, _ = counter.count(lambda: _open(url, endpoint).data_consumed_of("step-1", JOB))
    saver = _open(url, endpoint)
    saver.lease.acquire()
    record = LedgerRecord(name=f"step-{records + 1}", step=records + 1, source_job_id=JOB)

    def save_one() -> None:
        saver.lease.renew()
        saver.commit(record)

    save, _ = counter.count(save_one)
    saver.lease.release()
    everything, _ = counter.count(lambda: _fs(saver).find(f"{url}/records"))
    times = []
    for _ in range(rounds):
        fresh = _open(url, endpoint)
        start = time.perf_counter()
        _lookup(fresh, newest)
        times.append(time.perf_counter() - start)
        fresh.lease.release()
    with traced_peak() as peak:
        _lookup(_open(url, endpoint), newest)
    return Measured(lookup, old, save, everything, statistics.median(times) * 1e3, peak[0] / 1024)


if __name__ == "__main__":
    _url, _endpoint, _records, _rounds = sys.argv[1:5]
    print(json.dumps(asdict(_child(_url, _endpoint, int(_records), int(_rounds)))))
