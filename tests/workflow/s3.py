"""A real S3 API on loopback for the tests: moto's server in a child process.

:func:`s3_server` starts ``python -m moto.server`` on a free port of 127.0.0.1, points the
AWS environment (dummy credentials, ``AWS_ENDPOINT_URL``) at it, and stops it at the end.
Nothing leaves the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass(frozen=True)
class S3:
    """A running S3 API: its endpoint and the environment a client needs to reach it."""

    endpoint: str
    env: dict[str, str]

    def filesystem(self) -> Any:
        """A fresh s3fs filesystem on this endpoint (no instance cache)."""
        s3fs = pytest.importorskip("s3fs")
        return s3fs.S3FileSystem(
            skip_instance_cache=True, client_kwargs={"endpoint_url": self.endpoint}
        )

    def bucket(self, name: str) -> str:
        """Create a bucket; its ``s3://`` URL."""
        fs = self.filesystem()
        fs.mkdir(name)
        return f"s3://{name}"


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto.server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto.server did not start listening")


@contextmanager
def s3_server(secret: str = "dummy-secret-key") -> Iterator[S3]:
    """moto's S3 server on 127.0.0.1 with the AWS environment pointed at it."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "AKIATESTDUMMYKEYID00",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    saved = {key: os.environ.get(key) for key in env}
    try:
        _wait_listening(port, proc)
        os.environ.update(env)
        _clear_s3fs_instances()
        yield S3(endpoint, env)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _clear_s3fs_instances()
        proc.terminate()
        proc.wait(timeout=30)


def _clear_s3fs_instances() -> None:
    """Forget cached filesystems: they hold the endpoint they were made with."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
