"""Shared pieces of the reliability suite: fault mixes, wire counters, the figures report.

Every test records what it measured in ``FIGURES``; the figures are printed at the end of
the run (and written as JSON to ``$RELIABILITY_REPORT`` when set), so ``docs/reliability.md``
quotes numbers from a real run.
"""

from __future__ import annotations

import inspect
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

pytest.importorskip("uvicorn")
from fireworks_training.emulator import Emulator
from fireworks_training.emulator.faults import FaultRule, Faults

FIGURES: dict[str, dict[str, Any]] = {}

CONTROL_ROUTES = "/v1/*"
TRAINER_ROUTES = "/training/*"
FAULT_KINDS = ("503", "429", "500", "drop_connection", "latency")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the measured figures; write them to ``$RELIABILITY_REPORT`` too."""
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for test, figures in FIGURES.items():
        terminalreporter.write_line(f"{test}: {json.dumps(figures, sort_keys=True)}")
    target = os.environ.get("RELIABILITY_REPORT")
    if target:
        with open(target, "w") as out:
            json.dump(FIGURES, out, indent=2, sort_keys=True)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, Any]:
    """This test's entry in the report."""
    return FIGURES.setdefault(request.node.name, {})


@dataclass
class FaultMix:
    """The soak's fault rules, one per plane and kind, so injections count per plane."""

    rules: dict[tuple[str, str], FaultRule] = field(default_factory=dict)

    def injected(self) -> dict[str, dict[str, int]]:
        """Faults injected, by plane then kind."""
        out: dict[str, dict[str, int]] = {}
        for (plane, kind), rule in self.rules.items():
            out.setdefault(plane, {})[kind] = rule.injected
        return out


def install_fault_mix(
    faults: Faults, *, total_rate: float, retry_after_s: float, latency_s: float, seed: int
) -> FaultMix:
    """503, 429 with ``Retry-After``, 500, dropped connections and latency spikes everywhere.

    Rules are tried in order; each fires with the same probability, chosen so that about
    ``total_rate`` of all requests are faulted. A spike waits ``latency_s``, then answers.
    """
    rate = 1 - (1 - total_rate) ** (1 / len(FAULT_KINDS))
    mix = FaultMix()
    planes = (("control", CONTROL_ROUTES), ("trainer", TRAINER_ROUTES))
    for p, (plane, route) in enumerate(planes):
        for n, kind in enumerate(FAULT_KINDS):
            options: dict[str, Any] = {"rate": rate, "seed": seed + 10 * p + n}
            if kind == "drop_connection":
                options["drop_connection"] = True
            elif kind == "latency":
                options.update(statuses=[], latency_s=latency_s)
            else:
                options["statuses"] = [int(kind)]
            if kind == "429":
                options["retry_after"] = retry_after_s
            mix.rules[(plane, kind)] = faults.add(route, **options)
    return mix


class AttemptCounter(httpx.HTTPTransport):
    """An httpx transport that counts every attempt's outcome (status code or error)."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError as exc:
            self.outcomes[type(exc).__name__] += 1
            raise
        self.outcomes[str(response.status_code)] += 1
        return response

    @property
    def failed(self) -> int:
        """Attempts that got no answer or an error status."""
        return sum(n for k, n in self.outcomes.items() if not k.startswith(("2", "3")))


def trainer_resends(emu: Emulator) -> dict[str, int]:
    """Resends seen by the trainer plane, exact from the request log.

    A submit is identified by ``(model_id, seq_id)`` and a retrieval by ``request_id``; ops
    finish at submit in the emulator, so a healthy retrieval is answered by its first poll.
    """
    submits: Counter[tuple[str, Any, Any]] = Counter()
    polls: Counter[Any] = Counter()
    for entry in emu.request_log:
        if not entry.route.startswith("/training/") or not isinstance(entry.body, dict):
            continue
        op = entry.route.rsplit("/", 1)[-1]
        if op == "retrieve_future":
            polls[entry.body.get("request_id")] += 1
        elif "seq_id" in entry.body:
            submits[(op, entry.body.get("model_id"), entry.body["seq_id"])] += 1
    return {
        "submits": len(submits),
        "submit_resends": sum(submits.values()) - len(submits),
        "retrievals": len(polls),
        "retrieve_repolls": sum(polls.values()) - len(polls),
    }


def route_counts(emu: Emulator) -> dict[str, int]:
    """Requests received per plane."""
    counts: Counter[str] = Counter()
    for entry in emu.request_log:
        counts["trainer" if entry.route.startswith("/training/") else "control"] += 1
    return dict(counts)


@pytest.fixture
def emulator(fireworks_emulator: Emulator) -> Emulator:
    """The packaged fixture's emulator (one per test, short long-polls)."""
    return fireworks_emulator


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(value: Any) -> Any:
    """Await ``value`` when an async client returned a coroutine."""
    if inspect.isawaitable(value):
        return await value
    return value


def stored_models(emu: Emulator) -> dict[str, Any]:
    """The models the emulator has persisted, by id (its own record of the truth)."""
    models: dict[str, Any] = json.loads((emu.state_dir / "control.json").read_text())["models"]
    return models
