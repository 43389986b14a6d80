"""One writer per ``log_path``: a lease with an expiry, taken in numbered epochs.

``lease/<epoch>.json`` names the writer and when its claim expires. A writer takes the next
epoch with a conditional create, so two writers can never both take it; the holder renews
its own epoch object on every save and first checks that no later epoch exists (a writer that
took over fences it off). A claim that has not expired is respected unless its holder is
provably gone: on the same machine (host, boot and pid namespace), a holder whose process
has exited, or an earlier holder in this very process (a loop that made new clients).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from .errors import LogPathInUseError
from .objects import Objects

__all__ = ["DEFAULT_LEASE_TTL_S", "Holder", "Lease", "this_machine"]

DEFAULT_LEASE_TTL_S = 600.0
_DIGITS = 12
_counter = iter(range(1, 1 << 62))
_counter_lock = threading.Lock()


@cache
def _process_token() -> str:
    """Random per process: a later process that reuses this pid is told apart by it."""
    return secrets.token_hex(4)


def _read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


@cache
def this_machine() -> str:
    """Host name, boot id and pid namespace: equal only where our pids mean the same process."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    boot = _read_text("/proc/sys/kernel/random/boot_id")
    return "/".join((socket.gethostname(), boot, namespace))


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lease."""

    machine: str
    pid: int
    process: str
    writer: str

    @classmethod
    def current(cls) -> Holder:
        """A new writer of this process."""
        with _counter_lock:
            number = next(_counter)
        return cls(this_machine(), os.getpid(), _process_token(), f"{_process_token()}-{number}")

    @property
    def label(self) -> str:
        """For messages: host and pid (never anything secret)."""
        return f"pid {self.pid} on {self.machine.split('/', 1)[0]}"


@dataclass(frozen=True)
class _Claim:
    holder: Holder
    expires_at: float

    def to_bytes(self) -> bytes:
        return json.dumps({**asdict(self.holder), "expires_at": self.expires_at}).encode()

    @classmethod
    def parse(cls, data: bytes | None) -> _Claim | None:
        try:
            raw: Any = json.loads(data or b"")
            who = Holder(
                str(raw["machine"]), int(raw["pid"]), str(raw["process"]), str(raw["writer"])
            )
            return cls(who, float(raw["expires_at"]))
        except (ValueError, TypeError, KeyError):
            return None


def _gone(holder: Holder, me: Holder) -> bool:
    """True when ``holder`` provably no longer runs, as ``me`` (this process) can tell.

    Only a holder on this very machine can be checked; an earlier writer of this process,
    or of a process whose pid this one now has, is no rival either.
    """
    if holder.machine != me.machine or me.machine != this_machine():
        return False
    if holder.pid == me.pid:
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Lease:
    """This writer's claim on a ``log_path``."""

    def __init__(
        self,
        objects: Objects,
        *,
        ttl_s: float = DEFAULT_LEASE_TTL_S,
        prefix: str = "lease",
        holder: Holder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.objects = objects
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.holder = holder or Holder.current()
        self.clock = clock
        self.epoch: int | None = None
        self.renewed_at = -float("inf")

    def _key(self, epoch: int) -> str:
        return f"{self.prefix}/{epoch:0{_DIGITS}d}.json"

    def _epochs(self) -> list[int]:
        found = []
        for name in self.objects.names(self.prefix):
            stem = name.removesuffix(".json")
            if stem.isdigit() and name.endswith(".json"):
                found.append(int(stem))
        return sorted(found)

    def acquire(self) -> None:
        """Take the lease, or raise :class:`LogPathInUseError` naming who holds it."""
        epochs = self._epochs()
        if epochs:
            current = _Claim.parse(self.objects.read(self._key(epochs[-1])))
            if current is not None and current.holder.writer != self.holder.writer:
                self._check_free(current)
        epoch = (epochs[-1] if epochs else 0) + 1
        claim = _Claim(self.holder, self.clock() + self.ttl_s)
        try:
            self.objects.create(self._key(epoch), claim.to_bytes())
        except FileExistsError:
            raise LogPathInUseError(
                f"{self.objects.location} was claimed by another writer at the same moment; "
                "only one training loop may write to a log_path"
            ) from None
        self.epoch = epoch
        self.renewed_at = self.clock()

    def _check_free(self, current: _Claim) -> None:
        if current.expires_at <= self.clock() or _gone(current.holder, self.holder):
            return
        raise LogPathInUseError(
            f"{self.objects.location} is in use by {current.holder.label} (lease until "
            f"{_when(current.expires_at)}): stop that loop, wait for the lease to expire, "
            "or use another log_path"
        )

    def renew(self, *, force: bool = True) -> None:
        """Check this writer still holds the lease and extend it (acquire it if not held).

        With ``force=False`` the extension is skipped while a third of the TTL has not
        passed since the last one (the takeover check still runs).
        """
        if self.epoch is None:
            self.acquire()
            return
        if not force and self.clock() - self.renewed_at < self.ttl_s / 3:
            return
        self.check()
        claim = _Claim(self.holder, self.clock() + self.ttl_s)
        self.objects.replace(self._key(self.epoch), claim.to_bytes())
        self.renewed_at = self.clock()

    def check(self) -> None:
        """Raise :class:`LogPathInUseError` when another writer took over (one read)."""
        if self.epoch is None:
            return
        taken = self.objects.read(self._key(self.epoch + 1))
        if taken is None:
            return
        taker = _Claim.parse(taken)
        who = taker.holder.label if taker is not None else "another writer"
        self.epoch = None
        raise LogPathInUseError(
            f"{self.objects.location} was taken over by {who}: this loop stops writing to it"
        )

    def release(self) -> None:
        """End this writer's claim at once (a later writer need not wait for it)."""
        if self.epoch is None:
            return
        if self.objects.read(self._key(self.epoch + 1)) is None:
            claim = _Claim(self.holder, 0.0)
            self.objects.replace(self._key(self.epoch), claim.to_bytes())
        self.epoch = None
