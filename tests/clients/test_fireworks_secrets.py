"""The API key never shows in a repr, an exception or a DEBUG log line (real sockets)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fireworks_training.errors import APIConnectionError, InternalServerError

from .conftest import KEY, AnyClient, call, make_client

pytestmark = pytest.mark.anyio


class EchoHeaders(BaseHTTPRequestHandler):
    """A careless server: answers 500 with every request header in its message."""

    def do_GET(self) -> None:
        body = json.dumps({"error": {"message": f"failed for headers {dict(self.headers)}"}})
        data = body.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_key_absent_from_errors_and_debug_logs(
    server: str, flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "fireworks_training"):
        caplog.set_level(logging.DEBUG, logger=name)
    client: AnyClient = make_client(flavour, base_url=server, account_id="acme", max_retries=1)
    with pytest.raises(InternalServerError) as info:
        await call(client.get_model("m"))
    await call(client.close())
    assert "failed for headers" in str(info.value)
    for text in (str(info.value), repr(info.value), repr(client), caplog.text):
        assert KEY not in text
    assert "***" in str(info.value)
    loggers = {record.name for record in caplog.records}
    assert {"fireworks_training", "httpx"} <= loggers
    assert any(name.startswith("httpcore") for name in loggers)


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_key_absent_from_connection_errors(
    flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(
        flavour, base_url=f"http://127.0.0.1:{closed_port()}", account_id="acme", max_retries=0
    )
    with pytest.raises(APIConnectionError) as info:
        await call(client.list_checkpoints("job"))
    await call(client.close())
    assert not info.value.request_sent
    for text in (str(info.value), repr(info.value), caplog.text):
        assert KEY not in text
