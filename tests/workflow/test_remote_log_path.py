"""``log_path`` on object storage: kill a loop, resume elsewhere; one writer at a time.

The same suite runs on ``s3://`` (moto's S3 server, a child process on 127.0.0.1), on
``memory://`` (in-process variants where another process makes no sense) and on a local
folder. The emulator serves the Fireworks side.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints.ledger import (
    Lease,
    LedgerRecord,
    LedgerStorageError,
    LogPathError,
    LogPathInUseError,
    MissingExtraError,
    RemoteLedger,
    open_ledger,
)
from fireworks_training.checkpoints.ledger.lease import Holder
from fireworks_training.demo import BASE_MODEL, BATCH_SIZE, SimulatedCrashError
from tests.reliability.workflow_kit import loop

from .crash import ROOT, kill_at, newest_state
from .s3 import S3, s3_server
from .worker import Target, run

STEPS = 17
INTERVAL = 5
KILL_AFTER = 12  # saves at 5 and 10 are durable; 15 is never reached
HOLDER = Path(__file__).with_name("holder.py")
STORES = ["s3", "memory", "local"]

emulator_module = pytest.importorskip("fireworks_training.emulator")
pytest.importorskip("fsspec")


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with emulator_module.Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def reference_digest(emu: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    job = emu.create_trainer_job(base_model=BASE_MODEL)
    folder = tmp_path_factory.mktemp("reference")
    run(
        Target(emu.base_url, emu.api_key, emu.account_id, job, str(folder)), steps=STEPS, interval=0
    )
    digest: str = emu.weights_digest(job)
    return digest


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def log_url(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh log_path of the store under test."""
    run_id = uuid.uuid4().hex[:8]
    if store == "s3":
        server: S3 = request.getfixturevalue("s3")
        yield f"{server.bucket(f'bucket-{run_id}')}/runs/{run_id}"
    elif store == "memory":
        fsspec = pytest.importorskip("fsspec")
        yield f"memory://runs/{run_id}"
        fsspec.filesystem("memory").rm(f"/runs/{run_id}", recursive=True)
    else:
        yield str(tmp_path / "run")


def _target(emu: Any, job: str, log_path: str) -> Target:
    return Target(emu.base_url, emu.api_key, emu.account_id, job, log_path)


def test_a_killed_loop_resumes_on_an_empty_machine_with_the_same_log_path(
    emu: Any,
    reference_digest: str,
    store: str,
    log_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = emu.create_trainer_job(base_model=BASE_MODEL)
    target = _target(emu, job, log_url)
    if store == "memory":  # one process: the first loop dies by an exception
        with pytest.raises(SimulatedCrashError):
            run(target, steps=STEPS, interval=INTERVAL, crash_after=KILL_AFTER)
    else:
        kill_at(target, steps=STEPS, interval=INTERVAL, kill_step=KILL_AFTER)
    row = newest_state(target)
    assert row is not None
    assert row.checkpoint_id == "step-10"
    machine = tmp_path / "empty-machine"
    machine.mkdir()
    monkeypatch.chdir(machine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cursor must come from the records: no warning
        start = run(target, steps=STEPS, interval=INTERVAL)
    assert (start.step, start.data_consumed, start.cursor_recorded) == (10, 10 * BATCH_SIZE, True)
    assert emu.weights_digest(job) == reference_digest
    if store != "local":
        assert list(machine.iterdir()) == []  # a remote log_path writes nothing locally


@contextmanager
def _holder(url: str, ttl_s: float) -> Iterator[subprocess.Popen[str]]:
    """Another loop's process holding the lease of ``url``; killed at the end."""
    with subprocess.Popen(
        [sys.executable, str(HOLDER), url, str(ttl_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            proc.kill()
            proc.wait(timeout=30)


def _other_machine() -> Holder:
    return Holder("another-host/boot/pid-ns", 4242, "0badc0de", "0badc0de-1")


@pytest.mark.parametrize("store", ["s3", "local"])
def test_a_second_loop_is_refused_while_the_first_runs(emu: Any, log_url: str) -> None:
    with _holder(log_url, ttl_s=600) as first, loop(emu) as process:
        ckpt = process.ckpt(log_url)
        mark = process.requests()
        with pytest.raises(LogPathInUseError) as refused:
            ckpt.resume()
        assert process.requests() == mark  # refused before any Fireworks request
        message = str(refused.value)
        assert f"in use by pid {first.pid}" in message
        assert "\n" not in message
        assert first.stdin is not None
        first.stdin.close()  # the first loop ends without releasing its claim
        first.wait(timeout=30)
        assert ckpt.resume() is None  # its process is gone: the claim is taken over


def test_a_loop_on_another_machine_is_refused(emu: Any, log_url: str) -> None:
    other = open_ledger(log_url, lease_ttl_s=600)
    other.lease.holder = _other_machine()
    other.lease.acquire()
    with (
        loop(emu) as process,
        pytest.raises(LogPathInUseError, match="in use by pid 4242 on another-host"),
    ):
        process.ckpt(log_url).resume()


def test_an_expired_lease_is_taken_over_and_its_holder_stops(emu: Any, log_url: str) -> None:
    other = open_ledger(log_url, lease_ttl_s=60)
    other.lease.holder = _other_machine()
    other.lease.acquire()
    with loop(emu) as process:
        ckpt = process.ckpt(log_url)
        with pytest.raises(LogPathInUseError):
            ckpt.resume()
        ckpt.ledger.lease.clock = lambda: time.time() + 61  # a minute later
        assert ckpt.resume() is None
        process.train(ckpt, 0, 5, 0)
    with pytest.raises(LogPathInUseError, match="was taken over by pid"):
        other.lease.renew()
    records = other.records()
    assert [r.name for r in records] == ["step-5"]


@pytest.mark.parametrize("store", ["s3"])
def test_a_paused_loop_loses_its_lease_and_stops_when_it_wakes(emu: Any, log_url: str) -> None:
    ttl_s = 1.0
    with _holder(log_url, ttl_s) as first:
        first.send_signal(signal.SIGSTOP)  # a hung pod: alive, silent
        with loop(emu) as process:
            ckpt = process.ckpt(log_url)
            with pytest.raises(LogPathInUseError, match=f"pid {first.pid}"):
                ckpt.resume()
            time.sleep(ttl_s + 0.2)  # the claim runs out; nothing is asserted about time
            assert ckpt.resume() is None
        first.send_signal(signal.SIGCONT)
        assert first.stdin is not None
        assert first.stdout is not None
        first.stdin.write("renew\n")
        first.stdin.flush()
        answer = first.stdout.readline()
        assert answer.startswith("lost: ")
        assert "taken over" in answer


class _StaleListing:
    """Objects whose listings are taken before another writer's create: a race, replayed."""

    def __init__(self, objects: Any, stale: dict[str, list[str]]) -> None:
        self._objects = objects
        self._stale = stale
        self.location = objects.location

    def names(self, prefix: str) -> list[str]:
        return self._stale.get(prefix, [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._objects, name)


def test_two_writers_claiming_at_once_cannot_both_win(log_url: str) -> None:
    first = open_ledger(log_url)
    second = open_ledger(log_url)
    second.lease.holder = _other_machine()
    first.lease.acquire()
    # The second listed the leases before the first created its claim:
    stale = _StaleListing(second.lease.objects, {})
    racing = Lease(stale, prefix=second.lease.prefix, holder=second.lease.holder)
    with pytest.raises(LogPathInUseError, match="claimed by another writer at the same moment"):
        racing.acquire()


def test_two_writers_never_overwrite_each_others_records(log_url: str) -> None:
    first, second = open_ledger(log_url), open_ledger(log_url)
    record = LedgerRecord(name="step-5", step=5, data_consumed=20, source_job_id="job")
    first.commit(record)
    if isinstance(second, RemoteLedger):
        second._next_seq = 1  # it counted the records before the first one was written
        with pytest.raises(LogPathInUseError, match="written by another writer"):
            second.commit(record.model_copy(update={"step": 6}))
    assert [r.step for r in open_ledger(log_url).records()] == [5]


@pytest.mark.parametrize("store", ["s3", "memory"])
def test_the_remote_ledger_keeps_the_local_record_shape(log_url: str) -> None:
    ledger = open_ledger(log_url)
    record = LedgerRecord(
        name="step-5", step=5, data_consumed=20, state_path="cross_job://j/step-5", custom=[1]
    )
    ledger.commit(record)
    assert isinstance(ledger, RemoteLedger)
    (key,) = [k for k in _keys(ledger) if k.startswith("records/")]
    assert json.loads(ledger.objects.read(key) or b"") == record.to_json()
    assert ledger.find("step-5", "j") == record
    assert ledger.data_consumed_of("step-5", "j") == 20


def _keys(ledger: RemoteLedger, prefix: str = "") -> list[str]:
    found = []
    for name in ledger.objects.names(prefix):
        key = f"{prefix}/{name}" if prefix else name
        found.extend([key] if name.endswith(".json") else _keys(ledger, key))
    return found


KEY_ID = "AKIAOPTIONSKEYID0042"
SECRET = "options-secret-" + "7c1f" * 8


@contextmanager
def _every_log_record() -> Iterator[list[str]]:
    """Every logger at DEBUG, propagating; the formatted records (loggers restored after)."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    saved = [(lg, lg.level, lg.disabled, lg.propagate) for lg in loggers]
    handler = Keep(logging.DEBUG)
    root.addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        lg.propagate = True
    try:
        yield records
    finally:
        root.removeHandler(handler)
        for lg, level, disabled, propagate in saved:
            lg.setLevel(level)
            lg.disabled = disabled
            lg.propagate = propagate


def _texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


def test_credentials_appear_in_no_log_repr_error_or_record(emu: Any, s3: S3) -> None:
    options = {"key": KEY_ID, "secret": SECRET, "client_kwargs": {"endpoint_url": s3.endpoint}}
    url = f"{s3.bucket('creds-' + uuid.uuid4().hex[:8])}/runs/a"
    texts: list[str] = []
    with _every_log_record() as logs, loop(emu) as process:
        ckpt = process.ckpt(url, storage_options=options)
        ckpt.resume()
        process.train(ckpt, 0, 5, 0)
        texts += [repr(ckpt), repr(ckpt.ledger), str(ckpt.ledger.location)]
        other = process.ckpt(url, storage_options=options)
        other.ledger.lease.holder = _other_machine()
        with pytest.raises(LogPathInUseError) as in_use:
            other.resume()
        missing = process.ckpt("s3://no-such-bucket/run", storage_options=options)
        with pytest.raises(LedgerStorageError) as storage:
            missing.save("step-1", step=1)
        with pytest.raises(LogPathError) as in_url:
            process.ckpt(f"s3://{KEY_ID}:{SECRET}@bucket/run")
        for exc in (in_use.value, storage.value, in_url.value):
            texts += _texts(exc)
    ledger = open_ledger(url, storage_options=options)
    assert isinstance(ledger, RemoteLedger)
    stored = [(ledger.objects.read(key) or b"").decode() for key in _keys(ledger)]
    assert len(stored) >= 3  # the lease, a cursor and a record
    ours = [r for r in logs if "botocore" not in r and "aiobotocore" not in r]
    for text in [*texts, *stored, *ours]:
        assert KEY_ID not in text
        assert SECRET not in text
    assert all(SECRET not in record for record in logs)
    assert all(s3.env["AWS_SECRET_ACCESS_KEY"] not in t for t in [*texts, *stored, *logs])


@pytest.mark.parametrize("store", ["s3", "memory"])
def test_cli_promote_reads_the_base_model_from_a_log_path_url(
    emu: Any, log_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fireworks_training.checkpoints import CheckpointKind
    from fireworks_training.cli import main

    recorded = "accounts/fireworks/models/from-the-ledger"
    with loop(emu) as process:
        ckpt = process.ckpt(log_url, base_model=recorded)
        ckpt.save("step-3", kind=CheckpointKind.SAMPLER, step=3)
        job = process.job
    monkeypatch.setenv("FIREWORKS_API_KEY", emu.api_key)
    monkeypatch.setenv("FIREWORKS_BASE_URL", emu.base_url)
    mark = len(emu.request_log)
    argv = ["checkpoints", "promote", "--job-id", job, "--step", "3", "--json"]
    argv += ["--checkpoints-jsonl", log_url, "--output-model-id", f"cli-{job}"]
    assert main(argv) == 0
    (promote,) = [r for r in emu.request_log[mark:] if r.route.endswith(":promote")]
    assert promote.body["base_model"] == recorded


def test_a_url_whose_package_is_missing_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fireworks_training.cli import main

    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(MissingExtraError, match="needs fsspec") as no_fsspec:
        open_ledger("s3://bucket/run")
    monkeypatch.undo()
    assert "pip install 'fireworks-training[remote]'" in str(no_fsspec.value)
    with pytest.raises(MissingExtraError, match="gcsfs"):
        open_ledger("gs://bucket/run")
    argv = ["checkpoints", "promote", "--job-id", "j", "--output-model-id", "m"]
    assert main([*argv, "--checkpoints-jsonl", "gs://bucket/run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "gcsfs" in err
