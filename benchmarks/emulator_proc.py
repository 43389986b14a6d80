"""The emulator in a child process, driven over stdin/stdout.

Benchmarks keep the server out of the measuring process, so that the client under test does
not share its interpreter lock with the server and both sides of a comparison pay the same
server costs. ``EmulatorProcess`` forwards a few ``Emulator`` methods as JSON lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from fireworks_training._closing import Closing

__all__ = ["EmulatorProcess"]

_ALLOWED = frozenset(
    {
        "add_checkpoint_rows",
        "create_deployment",
        "create_trainer_job",
        "deployment_ledger",
        "set_hotload_seconds",
        "set_long_poll_seconds",
        "set_promotion_mode",
        "weights_digest",
    }
)
_REPLY = "@@"


class EmulatorProcess(Closing):
    """An ``Emulator`` serving from a child process; a context manager."""

    def __init__(self, *, long_poll_seconds: float = 5.0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.emulator_proc", str(long_poll_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        self.base_url: str = hello["base_url"]
        self.api_key: str = hello["api_key"]
        self.account_id: str = hello["account_id"]

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith(_REPLY):
                reply: dict[str, Any] = json.loads(line[len(_REPLY) :])
                if "error" in reply:
                    raise RuntimeError(f"emulator process: {reply['error']}")
                return reply
        raise RuntimeError(f"the emulator process exited ({self._proc.wait()})")

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``Emulator.<method>(*args, **kwargs)`` in the child; its JSON-able result."""
        assert self._proc.stdin is not None
        request = {"method": method, "args": args, "kwargs": kwargs}
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return self._read()["ok"]

    def trainer_url(self, job_id: str) -> str:
        """The trainer API base URL of a job."""
        return f"{self.base_url}/training/v1/rlorTrainerJobs/{self.account_id}/{job_id}"

    def close(self) -> None:
        """Stop the child."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def _reply(payload: dict[str, Any]) -> None:
    print(_REPLY + json.dumps(payload), flush=True)


def _serve(long_poll_seconds: float) -> None:
    from fireworks_training.emulator import Emulator

    # The save benchmarks reuse a few names on purpose (see bench_trainer._name).
    with Emulator(long_poll_seconds=long_poll_seconds, legacy_state_overwrite=True) as emu:
        _reply({"base_url": emu.base_url, "api_key": emu.api_key, "account_id": emu.account_id})
        for line in sys.stdin:
            request = json.loads(line)
            method = request["method"]
            try:
                if method not in _ALLOWED:
                    raise ValueError(f"method {method!r} is not forwarded")
                value = getattr(emu, method)(*request["args"], **request["kwargs"])
                _reply({"ok": value})
            except Exception as exc:
                _reply({"error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    _serve(float(sys.argv[1]))
