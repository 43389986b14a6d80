"""Fault injection: per-route rules that answer an error status, drop the connection, or wait.

A rule matches a request when its ``route`` (a glob, ``fnmatch`` style) matches the path, the
last path segment (a trainer op such as ``forward_backward`` or ``retrieve_future``; the
``hot_load`` and ``completions`` routes), the custom verb after ``:`` (``promote``,
``resume``, ``scale``), or ``deployments`` for any deployment resource. Each matching
request consumes one entry of a ``script`` (an int status, ``None`` for "answer normally",
or ``"drop_connection"`` / ``"drop_response"``), or else fires with probability ``rate``
(default: always).

A rule's ``latency_s`` delays every request it matches. A rule with no ``statuses`` and no
drop mode is a latency spike instead: only the requests it fires on wait, then pass.

A ``hold`` rule keeps the requests it fires on waiting until :meth:`FaultRule.release` (or
``remove``, ``clear``, the emulator's shutdown); ``held`` counts those waiting now, so a test
can act while a request is surely in flight.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .held import HeldRequests

__all__ = ["DROP_CONNECTION", "DROP_RESPONSE", "Fault", "FaultRule", "Faults", "route_names"]

DROP_CONNECTION = "drop_connection"
DROP_RESPONSE = "drop_response"
_DROPS = (DROP_CONNECTION, DROP_RESPONSE)
ScriptEntry = int | str | None


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait (and be held), then answer a status or drop."""

    latency_s: float = 0.0
    status: int | None = None
    drop: str | None = None
    retry_after: float | None = None
    hold: FaultRule | None = field(default=None, compare=False)


@dataclass
class FaultRule:
    """One injection rule; ``injected`` counts its faults, ``held`` the requests held now."""

    route: str = "*"
    statuses: list[int] = field(default_factory=lambda: [503])
    rate: float | None = None
    script: list[ScriptEntry] | None = None
    retry_after: float | None = None
    drop_connection: bool = False
    drop_response: bool = False
    latency_s: float = 0.0
    seed: int | None = None
    hold: bool = False
    id: int = 0
    injected: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _script: list[ScriptEntry] = field(init=False, repr=False, compare=False)
    _held: HeldRequests = field(init=False, repr=False, compare=False)
    _released: threading.Event = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], got {self.rate}")
        for entry in self.script or []:
            if not (entry is None or isinstance(entry, int) or entry in _DROPS):
                raise ValueError(f"script entries are ints, None, or {_DROPS}; got {entry!r}")
        if self.delay_only and not (self.latency_s > 0 or self.hold):
            raise ValueError("a rule needs statuses, a drop mode, latency_s > 0 or hold")
        self._rng = random.Random(self.seed)
        self._script = list(self.script or [])
        self._held = HeldRequests()
        self._released = threading.Event()

    @property
    def delay_only(self) -> bool:
        """True for a rule that only delays (a latency spike or a hold): no statuses or drops."""
        return not self.statuses and not (self.drop_connection or self.drop_response)

    @property
    def held(self) -> int:
        """Requests this rule holds now."""
        return self._held.count()

    @property
    def released(self) -> bool:
        """True once :meth:`release` was called."""
        return self._released.is_set()

    def release(self) -> None:
        """Let the held requests go on; later ones the rule fires on are not held."""
        self._released.set()

    def wait_held(self, count: int = 1, timeout: float | None = None) -> bool:
        """Block until the rule holds ``count`` requests; False on timeout."""
        return self._held.wait_for(count=count, timeout=timeout)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Count one request as held by this rule (the server's side of ``hold``)."""
        with self._held.holding():
            yield

    def matches(self, names: tuple[str, ...]) -> bool:
        """True when the route glob matches one of the request's names."""
        return any(fnmatch.fnmatchcase(name, self.route) for name in names)

    def decide(self) -> Fault | None:
        """The fault for the next matching request, or None to answer it normally."""
        if self.script is not None:
            entry = self._script.pop(0) if self._script else None
            return self._fault_for(entry) if entry is not None else None
        if self.rate is not None and self._rng.random() >= self.rate:
            return None
        if self.drop_connection:
            return self._fault_for(DROP_CONNECTION)
        if self.drop_response:
            return self._fault_for(DROP_RESPONSE)
        if self.delay_only:
            self.injected += 1
            return Fault(self.latency_s, hold=self if self.hold else None)
        return self._fault_for(self._rng.choice(self.statuses))

    def _fault_for(self, entry: int | str) -> Fault:
        self.injected += 1
        hold = self if self.hold else None
        if isinstance(entry, str):
            return Fault(self.latency_s, drop=entry, hold=hold)
        return Fault(self.latency_s, status=entry, retry_after=self.retry_after, hold=hold)

    def describe(self) -> dict[str, Any]:
        """The rule as JSON (for the admin route and the CLI)."""
        public = (f.name for f in fields(self) if not f.name.startswith("_"))
        return {name: copy.deepcopy(getattr(self, name)) for name in public} | {"held": self.held}


def route_names(path: str) -> tuple[str, ...]:
    """The names a rule's glob is tried against: path, last segment, ``:verb``.

    Any request to a deployment resource is also named ``deployments``.
    """
    last = path.rstrip("/").rsplit("/", 1)[-1]
    names = [path, last]
    if ":" in last:
        names.append(last.rsplit(":", 1)[1])
    if "/deployments/" in path and last != "deployments":
        names.append("deployments")
    return tuple(names)


class Faults:
    """The fault rules of one emulator; safe to change from any thread while it serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._stats: Counter[str] = Counter()

    def add(
        self,
        route: str = "*",
        *,
        statuses: list[int] | tuple[int, ...] = (503,),
        rate: float | None = None,
        script: list[ScriptEntry] | None = None,
        retry_after: float | None = None,
        drop_connection: bool = False,
        drop_response: bool = False,
        latency_s: float = 0.0,
        seed: int | None = None,
        hold: bool = False,
    ) -> FaultRule:
        """Add a rule; the first matching rule that fires decides a request's fate."""
        rule = FaultRule(
            route,
            list(statuses),
            rate,
            None if script is None else list(script),
            retry_after,
            drop_connection,
            drop_response,
            latency_s,
            seed,
            hold,
        )
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule | int) -> None:
        """Remove one rule (the rule or its id), releasing what it holds."""
        rule_id = rule if isinstance(rule, int) else rule.id
        with self._lock:
            removed = [r for r in self._rules if r.id == rule_id]
            self._rules = [r for r in self._rules if r.id != rule_id]
        for r in removed:
            r.release()

    def clear(self) -> None:
        """Remove every rule (releasing what they hold) and reset the counters."""
        with self._lock:
            removed, self._rules = self._rules, []
            self._stats.clear()
        for rule in removed:
            rule.release()

    @property
    def rules(self) -> list[FaultRule]:
        """The current rules, in evaluation order."""
        with self._lock:
            return list(self._rules)

    def stats(self) -> dict[str, int]:
        """Injected faults: ``total``, per status (``"503"``), ``drop_connection``, ...

        ``latency`` counts requests that were delayed by a rule; ``latency_spike`` those a
        latency spike rule fired on, ``held`` those a hold rule fired on (both in ``total``).
        """
        with self._lock:
            return {"total": 0, **self._stats}

    def decide(self, path: str) -> Fault | None:
        """The fault for a request to ``path``, counting it."""
        names = route_names(path)
        with self._lock:
            delay = 0.0
            for rule in self._rules:
                if not rule.matches(names):
                    continue
                if not rule.delay_only:
                    delay = max(delay, rule.latency_s)
                fault = rule.decide()
                if fault is not None:
                    if delay > fault.latency_s:  # a spike keeps the earlier rules' latency
                        fault = replace(fault, latency_s=delay)
                    self._count(fault)
                    return fault
            if delay:
                self._stats["latency"] += 1
                return Fault(latency_s=delay)
        return None

    def _count(self, fault: Fault) -> None:
        self._stats["total"] += 1
        if fault.drop is not None or fault.status is not None:
            self._stats[fault.drop or str(fault.status)] += 1
        elif fault.hold is None:
            self._stats["latency_spike"] += 1
        if fault.hold is not None:
            self._stats["held"] += 1
        if fault.latency_s:
            self._stats["latency"] += 1
