"""Trainer futures: sequential saves and pipelined steps vs bare httpx and the official client.

The emulator runs an op when it is submitted, so ``retrieve_future`` answers at once: what is
measured is the client's own cost per op (two requests, a hand-off to its event loop). The
official training client (its own tinker-compatible core) runs in its own virtualenv against
the same emulator's trainer routes; for that comparison ours runs the same script in a fresh
interpreter too. Saves reuse a few names in turn (the benchmarks' emulator replaces an
existing state, see ``emulator_proc``; the official client cannot ask for an overwrite):
every new name makes the emulator rewrite its whole store, so ever new names would make its
work per save grow round after round.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

from .emulator_proc import EmulatorProcess
from .harness import (
    FASTER,
    Comparison,
    compare,
    current_rss_mib,
    faster,
    os_thread_count,
    peak_rss_mib,
    timed,
)
from .official import OfficialClient
from .report import Bar, Config, Result, Row

__all__ = ["run"]

T = TypeVar("T")

TARGET_VS_HTTPX = 1.2
MAX_EXTRA_THREADS = 8
BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
LORA_RANK = 4  # small state files: the disk does not dominate
NAMES = 8  # names reused in turn by each side

# One driver for both clients, each in a fresh interpreter: n sequential saves, then k
# forward_backward + optim_step pairs submitted back to back and read at the end.
TRAINER_DRIVER = """
import json, os, sys, time
os.environ["TINKER_TELEMETRY"] = "0"  # background events: not part of the ops compared
IMPORTS

url, key, base_model, rank, prefix, n, k = sys.argv[1:8]
rank, n, k = int(rank), int(n), int(k)
text = list(b"the quick brown fox jumps over the lazy dog")
m = len(text) - 1
datum = types.Datum(
    model_input=types.ModelInput.from_ints(text[:-1]),
    loss_fn_inputs={
        "target_tokens": types.TensorData(data=text[1:], dtype="int64", shape=[m]),
        "weights": types.TensorData(data=[1.0] * m, dtype="float32", shape=[m]),
    },
)
adam = types.AdamParams(learning_rate=0.001)
service = FiretitanServiceClient(base_url=url, api_key=key)
client = service.create_training_client(base_model, lora_rank=rank)
client.save_state(f"{prefix}-warm").result()  # warm-up: connections, first save
client.forward_backward([datum], "cross_entropy").result()
client.optim_step(adam).result()
start = time.perf_counter()
for i in range(n):
    client.save_state(f"{prefix}-{i % 8}").result()
saves = time.perf_counter() - start
start = time.perf_counter()
futures = []
for _ in range(k):
    futures.append(client.forward_backward([datum], "cross_entropy"))
    futures.append(client.optim_step(adam))
for future in futures:
    future.result()
steps = time.perf_counter() - start
service.close()
print(json.dumps({"saves": saves, "steps": steps}))
"""
OFFICIAL_DRIVER = TRAINER_DRIVER.replace(
    "IMPORTS", "from fireworks.training.sdk import FiretitanServiceClient, types"
)
OURS_DRIVER = TRAINER_DRIVER.replace(
    "IMPORTS", "from tinker import types\nfrom fireworks_training import FiretitanServiceClient"
)


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


def _driver(script: str, *args: str) -> dict[str, float]:
    """Run our trainer driver in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=900
    )
    if out.returncode != 0:
        raise RuntimeError(f"trainer driver failed: {out.stderr[-1500:]}")
    reply: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return reply


def _vs_official(
    emu: EmulatorProcess, config: Config, official: OfficialClient
) -> dict[str, dict[str, list[float]]]:
    """Both drivers, alternating, each round with new checkpoint names."""
    job = emu.call("create_trainer_job", job_id="bench-official", lora_rank=LORA_RANK)
    url = emu.trainer_url(job)
    seconds: dict[str, dict[str, list[float]]] = {"saves": {}, "steps": {}}

    def side(name: str) -> Any:
        def go() -> float:
            prefix = name
            args = (url, emu.api_key, BASE_MODEL, str(LORA_RANK), prefix)
            sizes = (str(config.saves), str(config.pipelined))
            if name == "official":
                out = official.run(OFFICIAL_DRIVER, *args, *sizes, timeout=900)
            else:
                out = _driver(OURS_DRIVER, *args, *sizes)
            for what in ("saves", "steps"):
                seconds[what].setdefault(name, []).append(out[what])
            return float(out["saves"] + out["steps"])

        return go

    # No warm-up round: each driver warms up its own client before it times anything.
    sides = {"ours": side("ours"), "official": side("official")}
    compare(sides, config.trainer_rounds, warmup=0)
    return seconds


def run(config: Config, official: OfficialClient | None = None) -> Result:
    """The trainer benchmarks on one emulator."""
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
                    ours.save_state(f"ours-{i % NAMES}").result()

            def bare_side() -> None:
                for i in range(n):
                    bare.save_state(f"bare-{i % NAMES}")

            def threaded_side() -> None:
                for i in range(n):
                    threaded.save_state(f"loop-{i % NAMES}")

            try:
                saves = compare(
                    {"ours": ours_side, "httpx": bare_side, "loop": threaded_side},
                    config.rounds,
                )
            finally:
                threaded.close()
        flight = _in_flight(emu, config.in_flight)
        vs = _vs_official(emu, config, official) if official is not None else None

    result.raw["saves"] = saves.seconds
    ratio = saves.ratio("ours", "httpx")
    per_op = {side: saves.median(side) / config.saves * 1e3 for side in ("ours", "httpx")}
    overhead_us = [
        (a - b) / config.saves * 1e6
        for a, b in zip(saves.seconds["ours"], saves.seconds["httpx"], strict=True)
    ]
    result.rows.append(
        Row(
            f"{config.saves} sequential `save_state(...).result()`",
            f"ours {saves.median('ours'):.3f} s ({per_op['ours']:.2f} ms/op); "
            f"httpx {saves.median('httpx'):.3f} s ({per_op['httpx']:.2f} ms/op); "
            f"per-op overhead over a bare httpx round trip {statistics.median(overhead_us):.0f} µs",
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
    if vs is not None:
        result.raw["vs_official"] = vs
        _official_rows(result, config, vs)
    else:
        result.notes.append("The official training client was not measured in this run.")
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
        f"{LORA_RANK}) model so that state files stay small, and {NAMES} names reused in turn "
        "so that the emulator's work per save stays constant. "
        f"Against the official training client: {config.trainer_rounds} alternating rounds, "
        "each client in a fresh interpreter running the same driver "
        f"({config.saves} sequential saves, then {config.pipelined:,} `forward_backward` + "
        "`optim_step` pairs submitted back to back and all read at the end), timing only "
        "those loops. "
        "In flight: a fresh interpreter submits every future before reading any; threads "
        "are counted by the OS (`/proc/self/task`) before the client exists and while the "
        "futures are pending."
    )
    return result


def _official_rows(result: Result, config: Config, vs: dict[str, dict[str, list[float]]]) -> None:
    def ratios(what: str) -> list[float]:
        return Comparison(vs[what]).ratios("ours", "official")

    def ratio(what: str) -> float:
        return statistics.median(ratios(what))

    def med(what: str, side: str) -> float:
        return statistics.median(vs[what][side])

    saves = ratio("saves")
    saves_met, saves_middle = faster(ratios("saves"))
    per_op = {s: med("saves", s) / config.saves * 1e3 for s in ("ours", "official")}
    result.rows.append(
        Row(
            f"{config.saves} sequential `save_state(...).result()`, each client in a fresh "
            "interpreter",
            f"ours {med('saves', 'ours'):.3f} s ({per_op['ours']:.2f} ms/op); official "
            f"{med('saves', 'official'):.3f} s ({per_op['official']:.2f} ms/op)",
            f"{saves:.2f}x official ({saves_middle})",
            FASTER,
            saves_met,
        )
    )
    result.bars.append(Bar("save_state sequential / official client", saves, 1.0))
    steps = ratio("steps")
    steps_met, steps_middle = faster(ratios("steps"))
    ops = 2 * config.pipelined
    result.rows.append(
        Row(
            f"{config.pipelined:,} pipelined `forward_backward` + `optim_step`, each client in "
            "a fresh interpreter",
            f"ours {med('steps', 'ours'):.3f} s "
            f"({med('steps', 'ours') / ops * 1e3:.2f} ms/op); official "
            f"{med('steps', 'official'):.3f} s "
            f"({med('steps', 'official') / ops * 1e3:.2f} ms/op)",
            f"{steps:.2f}x official ({steps_middle})",
            FASTER,
            steps_met,
        )
    )
    result.bars.append(Bar("pipelined fwd_bwd + optim / official client", steps, 1.0))


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
