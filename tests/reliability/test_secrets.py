"""The API key never leaks: every logger at DEBUG, a whole flow, reprs and exception texts.

The flow covers both planes and the job manager: create and wait, train, save state and
sampler weights, list, promote (a long-running operation), preempt and reconnect, and a
handful of failures (404, 401, 500 after retries, a failed trainer future, a refused
connection). Every log record, every ``repr`` and every exception's text, attributes and
traceback is searched for the key.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import CheckpointKind
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.jobs import TrainerJobConfig, TrainerJobManager
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import ADAM, BASE_MODEL, make_batch
from fireworks_training.emulator import Emulator
from fireworks_training.retries import RetryPolicy

SECRET = "fw-sk-TOPSECRET-4d1c9a7e0b"


class Capture(logging.Handler):
    """Keeps every record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))


def every_logger() -> list[logging.Logger]:
    """The root logger and every logger created so far (placeholders are not loggers)."""
    known = logging.root.manager.loggerDict.values()
    return [logging.getLogger(), *(lg for lg in known if isinstance(lg, logging.Logger))]


@pytest.fixture
def debug_logs() -> Iterator[Capture]:
    """Every logger at DEBUG, enabled and propagating to a capturing root handler."""
    handler = Capture()
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in every_logger()]
    for lg, *_ in saved:
        lg.setLevel(logging.DEBUG)
        lg.propagate = True
        lg.disabled = False
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def failure(act: Callable[[], Any]) -> BaseException:
    try:
        act()
    except Exception as exc:
        return exc
    raise AssertionError("expected a failure")


def exception_texts(exc: BaseException) -> list[str]:
    return [
        str(exc),
        repr(exc),
        repr(vars(exc)),
        "".join(traceback.format_exception(exc)),
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_key_is_in_no_log_repr_or_exception(
    tmp_path: Path, debug_logs: Capture, figures: dict[str, Any]
) -> None:
    seen: list[str] = []
    errors: list[BaseException] = []
    policy = RetryPolicy(max_retries=2, initial_wait_s=0.01, max_wait_s=0.05)
    with Emulator(tmp_path / "emulator", api_key=SECRET, long_poll_seconds=0.5) as emu:
        url = emu.base_url
        with (
            TrainerJobManager(SECRET, url) as jobs,
            FireworksClient(SECRET, url, max_retries=1) as control,
        ):
            job = jobs.create_and_wait(TrainerJobConfig(BASE_MODEL), job_id="secrets", timeout=30)
            service = FiretitanServiceClient(
                jobs.trainer_url("secrets"), SECRET, retry_policy=policy
            )
            trainer = service.create_training_client(BASE_MODEL)
            ckpt = TrainingCheckpoints(
                trainer, control, trainer_job_id="secrets", log_path=tmp_path / "run",
                base_model=BASE_MODEL,
            )  # fmt: skip
            futures = [trainer.forward_backward(make_batch(0)), trainer.optim_step(ADAM)]
            for future in futures:
                future.result(30)
            ckpt.save("step-1", kind=CheckpointKind.BOTH, step=1, data_consumed=4)
            rows = control.list_checkpoints("secrets")
            emu.set_promotion_mode("async", 0.0)
            operation = control.begin_promote_checkpoint(
                name=next(r.name for r in rows if r.promotable),
                output_model_id="secret-flow",
                base_model=BASE_MODEL,
            )
            model = operation.result(30)
            seen += [repr(x) for x in (jobs, control, service, trainer, job, operation, model)]
            seen += [repr(x) for x in (*futures, *rows, ckpt.ledger.records())]
            errors.append(failure(lambda: control.get_model("missing-model")))
            errors.append(failure(lambda: trainer.load_state("never-saved").result(30)))
            emu.faults.add("/v1/*", statuses=[500], rate=1.0)
            errors.append(failure(lambda: control.list_checkpoints("secrets")))
            emu.faults.clear()
            emu.preempt("secrets")
            errors.append(failure(lambda: trainer.optim_step(ADAM).result(30)))
            service.close()
            jobs.reconnect_and_wait("secrets", timeout=30)
            with FireworksClient("wrong-key", url) as stranger:
                errors.append(failure(lambda: stranger.list_checkpoints("secrets")))
            gone = f"http://127.0.0.1:{closed_port()}"
            with FireworksClient(SECRET, gone, account_id="a", max_retries=0) as lost:
                errors.append(failure(lambda: lost.get_model("m")))
            seen += [repr(entry) for entry in emu.request_log]
    quiet = [lg.name for lg in every_logger() if not lg.isEnabledFor(logging.DEBUG)]
    assert not quiet, f"loggers not at DEBUG: {quiet}"
    for exc in errors:
        seen += exception_texts(exc)
    leaks = [text for text in [*debug_logs.lines, *seen] if SECRET in text]
    assert not leaks, leaks[:3]
    assert any(line.startswith("httpx ") for line in debug_logs.lines)
    assert any(line.startswith("httpcore") for line in debug_logs.lines)
    figures.update(
        loggers_at_debug=len(every_logger()),
        loggers_that_wrote=sorted(debug_logs.names),
        log_records=len(debug_logs.lines) // 2,
        reprs_and_texts=len(seen),
        exceptions=sorted({type(e).__name__ for e in errors}),
        leaks=len(leaks),
    )
