"""Trainer futures: sequential ``save_state(...).result()`` vs bare httpx, and many in flight.

The emulator runs an op when it is submitted, so ``retrieve_future`` answers at once: what is
measured is the client's own cost per op (two requests, a hand-off to its event loop).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from .emulator_proc import EmulatorProcess
from .harness import compare, current_rss_mib, os_thread_count, peak_rss_mib, timed
from .report import Bar, Config, Result, Row

__all__ = ["run"]

T = TypeVar("T")

TARGET_VS_HTTPX = 1.2
MAX_EXTRA_THREADS = 8
BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
LORA_RANK = 4  # small state files: the disk does not dominate
_NAMES = 8


class _BareTrainer:
    """create_session + create_model, then submit + retrieve per op, over one httpx client."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http, self.url, self.seq = http, url, 0
        session = self._post("create_session", {"tags": [], "type": "create_session"})
        body = {
            "session_id": session["session_id"],
            "model_seq_id": 0,
            "base_model": BASE_MODEL,
            "lora_config": {"rank": LORA_RANK},
            "type": "create_model",
        }
        self.model_id = self._wait(self._post("create_model", body)["request_id"])["model_id"]

    def _post(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.url}/api/v1/{op}", json=body)
        response.raise_for_status()
        reply: dict[str, Any] = response.json()
        return reply

    def _wait(self, request_id: str) -> dict[str, Any]:
        while True:
            body = {"request_id": request_id, "allow_metadata_only": False}
            reply = self._post("retrieve_future", body)
            if reply.get("type") != "try_again":
                return reply

    def save_state(self, name: str) -> str:
        self.seq += 1
        body = {"model_id": self.model_id, "seq_id": self.seq, "type": "save_weights"}
        submitted = self._post("save_weights", {**body, "path": name})
        return str(self._wait(submitted["request_id"])["path"])


class _BareAsyncTrainer:
    """The same ops over an ``httpx.AsyncClient`` on an event loop in a second thread.

    The shape of our client without our code: what the architecture alone costs.
    """

    def __init__(self, api_key: str, url: str, model_id: str) -> None:
        self.url, self.model_id, self.seq = url, model_id, 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._http = self._run(self._client(api_key))

    @staticmethod
    async def _client(api_key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers={"X-Api-Key": api_key}, timeout=60)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _post(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post(f"{self.url}/api/v1/{op}", json=body)
        response.raise_for_status()
        reply: dict[str, Any] = response.json()
        return reply

    async def _save(self, body: dict[str, Any]) -> str:
        request_id = (await self._post("save_weights", body))["request_id"]
        while True:
            retrieve = {"request_id": request_id, "allow_metadata_only": False}
            reply = await self._post("retrieve_future", retrieve)
            if reply.get("type") != "try_again":
                return str(reply["path"])

    def save_state(self, name: str) -> str:
        self.seq += 1
        body = {"model_id": self.model_id, "seq_id": self.seq, "type": "save_weights"}
        return self._run(self._save({**body, "path": name}))

    def close(self) -> None:
        self._run(self._http.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def _name(side: str, i: int) -> str:
    # A few names, overwritten in turn: the emulator rewrites its whole store on every new
    # row, so ever new names would make its work grow save after save.
    return f"{side}-{i % _NAMES}"


def run(config: Config) -> Result:
    """Both trainer benchmarks on one emulator."""
    from fireworks_training import FiretitanServiceClient

    result = Result("Trainer futures")
    n = config.saves
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="bench-saves", lora_rank=LORA_RANK)
        url = emu.trainer_url(job)
        with (
            FiretitanServiceClient(url, emu.api_key) as service,
            httpx.Client(headers={"X-Api-Key": emu.api_key}, timeout=60) as http,
        ):
            ours = service.create_training_client(BASE_MODEL, lora_rank=LORA_RANK)
            bare = _BareTrainer(http, url)
            # A second model of the same trainer: its seq_ids are its own.
            threaded = _BareAsyncTrainer(emu.api_key, url, _BareTrainer(http, url).model_id)

            def ours_side() -> None:
                for i in range(n):
                    ours.save_state(_name("ours", i)).result()

            def bare_side() -> None:
                for i in range(n):
                    bare.save_state(_name("bare", i))

            def threaded_side() -> None:
                for i in range(n):
                    threaded.save_state(_name("loop", i))

            try:
                saves = compare(
                    {"ours": ours_side, "httpx": bare_side, "loop": threaded_side},
                    config.rounds,
                )
            finally:
                threaded.close()
        flight = _in_flight(emu, config.in_flight)

    ratio = saves.ratio("ours", "httpx")
    per_op = {side: saves.median(side) / config.saves * 1e3 for side in ("ours", "httpx")}
    result.rows.append(
        Row(
            f"{config.saves} sequential `save_state(...).result()`",
            f"ours {saves.median('ours'):.3f} s ({per_op['ours']:.2f} ms/op); "
            f"httpx {saves.median('httpx'):.3f} s ({per_op['httpx']:.2f} ms/op)",
            f"{ratio:.2f}x httpx",
            f"≤ {TARGET_VS_HTTPX}x httpx",
            ratio <= TARGET_VS_HTTPX,
        )
    )
    result.bars.append(Bar("save_state sequential / bare httpx", ratio, TARGET_VS_HTTPX))
    loop_ms = saves.median("loop") / config.saves * 1e3
    result.rows.append(
        Row(
            f"{config.saves} sequential saves, bare `httpx.AsyncClient` on a loop thread "
            "(our client's shape without our code)",
            f"loop {saves.median('loop'):.3f} s ({loop_ms:.2f} ms/op); "
            f"httpx {saves.median('httpx'):.3f} s",
            f"{saves.ratio('loop', 'httpx'):.2f}x httpx; "
            f"ours {saves.ratio('ours', 'loop'):.2f}x this",
            "— (reference)",
            None,
        )
    )
    ok = flight["completed"] == config.in_flight and flight["extra_threads"] <= MAX_EXTRA_THREADS
    result.rows.append(
        Row(
            f"{config.in_flight:,} futures in flight from one client",
            f"{flight['completed']:,} completed in {flight['seconds']:.2f} s "
            f"({flight['pending_after_submit']:,} pending after the last submit); "
            f"peak RSS {flight['peak_rss_mib']:.0f} MiB; RSS "
            f"{flight['baseline_rss_mib']:.0f} MiB before the client, "
            f"{flight['in_flight_rss_mib']:.0f} MiB in flight, "
            f"{flight['done_rss_mib']:.0f} MiB when all are done",
            f"{flight['extra_threads']} extra threads",
            f"all complete; ≤ {MAX_EXTRA_THREADS} extra threads",
            ok,
        )
    )
    result.notes.append(
        f"Sequential saves: {saves.rounds} alternating rounds after a warm-up; a LoRA (rank "
        f"{LORA_RANK}) model so that state files stay small, and {_NAMES} names overwritten in "
        "turn so that the emulator's work per save stays constant. "
        "In flight: a fresh interpreter submits every future before reading any; threads "
        "are counted by the OS (`/proc/self/task`) before the client exists and while the "
        "futures are pending."
    )
    return result


def _in_flight(emu: EmulatorProcess, n: int) -> dict[str, Any]:
    job = emu.call("create_trainer_job", job_id="bench-in-flight", lora_rank=LORA_RANK)
    args = [emu.trainer_url(job), emu.api_key, str(n)]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_trainer", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    reply: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return reply


def _in_flight_child(url: str, api_key: str, n: int) -> dict[str, Any]:
    """In a fresh interpreter: ``n`` futures submitted at once, then all read."""
    from fireworks_training import FiretitanServiceClient
    from fireworks_training.demo import ADAM

    baseline_threads = os_thread_count()
    baseline_rss = current_rss_mib()
    peak_threads = baseline_threads
    with FiretitanServiceClient(url, api_key) as service:
        client = service.create_training_client(BASE_MODEL, lora_rank=LORA_RANK)
        seconds, futures = timed(lambda: [client.optim_step(ADAM) for _ in range(n)])
        peak_threads = max(peak_threads, os_thread_count())
        in_flight_rss = current_rss_mib()
        pending = sum(not f.done() for f in futures)
        more, results = timed(lambda: [f.result(timeout=300) for f in futures])
        peak_threads = max(peak_threads, os_thread_count())
        done_rss = current_rss_mib()
    return {
        "completed": len(results),
        "pending_after_submit": pending,
        "seconds": seconds + more,
        "extra_threads": peak_threads - baseline_threads,
        "python_threads": threading.active_count(),
        "baseline_rss_mib": baseline_rss,
        "in_flight_rss_mib": in_flight_rss,
        "done_rss_mib": done_rss,
        "peak_rss_mib": peak_rss_mib(),
    }


if __name__ == "__main__":
    print(json.dumps(_in_flight_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
