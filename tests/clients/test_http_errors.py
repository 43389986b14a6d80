"""Auth resolution, default headers and error mapping of the base client (no I/O)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fireworks_training._protocol import describe, parsed
from fireworks_training.clients._base_client import (
    USER_AGENT,
    APIKey,
    auth_headers,
    decode_reply,
    resolve_api_key,
    resolve_base_url,
    same_origin,
)
from fireworks_training.clients._http_errors import (
    connection_error,
    error_from_response,
    raise_for_status,
    redact,
)
from fireworks_training.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
)

SECRET = "fw-secret-key-0123456789"
REQUEST = httpx.Request("GET", "https://fw.test/v1/accounts/a/models/m?x=1")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    monkeypatch.delenv("FIREWORKS_BASE_URL", raising=False)


def test_api_key_given_env_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_api_key(" k ") == "k"
    with pytest.raises(InvalidArgumentError, match="FIREWORKS_API_KEY"):
        resolve_api_key(None)
    with pytest.raises(InvalidArgumentError):
        resolve_api_key("  ")
    monkeypatch.setenv("FIREWORKS_API_KEY", "from-env")
    assert resolve_api_key(None) == "from-env"


def test_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_base_url(None) == "https://api.fireworks.ai"
    assert resolve_base_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    monkeypatch.setenv("FIREWORKS_BASE_URL", "https://env.test")
    assert resolve_base_url(None) == "https://env.test"
    for bad in ("ftp://x", "not a url", "https://"):
        with pytest.raises(InvalidArgumentError, match="base_url"):
            resolve_base_url(bad)


def test_headers() -> None:
    headers = auth_headers(SECRET, additional_headers={"X-Trace": "t"})
    assert headers == {
        "X-Api-Key": SECRET,
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "X-Trace": "t",
    }
    assert USER_AGENT.startswith("fireworks-training/")


def test_redact() -> None:
    assert redact(f"a {SECRET} b {SECRET}", SECRET) == "a *** b ***"
    assert redact("text", "") == "text"


def reply(status: int, body: Any = None, text: str | None = None, **headers: str) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=REQUEST)
    return httpx.Response(status, json=body, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (410, GoneError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
def test_status_to_class(code: int, cls: type[APIStatusError]) -> None:
    error = error_from_response(reply(code, {"error": {"code": code, "message": "no"}}))
    assert type(error) is cls
    assert str(error) == f"{code} GET /v1/accounts/a/models/m: no"
    assert (error.status_code, error.method, error.path) == (code, "GET", "/v1/accounts/a/models/m")


ERROR_INFO = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": "CHECKPOINT_NOT_PROMOTABLE",
    "metadata": {},
}


REASON = "CHECKPOINT_NOT_PROMOTABLE"


ECHO = {"error": {"code": 400, "details": [{"echo": {"async_promotion": True}}]}}


@pytest.mark.parametrize(
    ("response", "message", "server_message", "reason"),
    [
        (reply(400, {"error": {"message": "bad", "details": [ERROR_INFO]}}), "bad", "bad", REASON),
        (
            reply(400, {"code": 400, "message": "google", "details": [ERROR_INFO]}),
            "google",
            "google",
            REASON,
        ),
        (
            reply(400, {"error": {"message": "no info", "details": [{"@type": "x"}]}}),
            "no info",
            "no info",
            None,
        ),
        (reply(400, {"error": "plain string"}), "plain string", "plain string", None),
        (
            reply(502, text="<html>Bad Gateway</html>\nmore"),
            "<html>Bad Gateway</html>",
            "<html>Bad Gateway</html>",
            None,
        ),
        (reply(503, text=""), "Service Unavailable", "Service Unavailable", None),
        # JSON without a message: shown in the line, but it is not the server's own text.
        (reply(500, [1, 2]), "[1,2]", "", None),
        (
            reply(400, ECHO),
            '{"error":{"code":400,"details":[{"echo":{"async_promotion":true}}]}}',
            "",
            None,
        ),
    ],
    ids=["wrapped", "google", "other-detail", "string", "html", "empty", "json-list", "json-echo"],
)
def test_error_bodies(
    response: httpx.Response, message: str, server_message: str, reason: str | None
) -> None:
    error = error_from_response(response)
    assert str(error) == f"{response.status_code} GET /v1/accounts/a/models/m: {message}"
    assert error.server_message == server_message
    assert error.reason == reason


def test_error_metadata() -> None:
    response = reply(
        429, {"error": {"message": "slow"}}, **{"x-request-id": "r1", "Retry-After": "7"}
    )
    error = error_from_response(response)
    assert (error.request_id, error.retry_after) == ("r1", 7.0)
    assert error.body == {"error": {"message": "slow"}}


def test_secret_redacted_from_error_text() -> None:
    error = error_from_response(
        reply(401, {"error": {"message": f"bad key {SECRET}"}}), secret=SECRET
    )
    assert SECRET not in str(error)
    assert "***" in str(error)


def test_raise_for_status() -> None:
    raise_for_status(reply(200, {}))
    with pytest.raises(NotFoundError):
        raise_for_status(reply(404, {}))


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (httpx.ConnectError("refused", request=REQUEST), APIConnectionError, False),
        (httpx.ConnectTimeout("slow dns", request=REQUEST), APITimeoutError, False),
        (httpx.PoolTimeout("pool", request=REQUEST), APITimeoutError, False),
        (httpx.ReadTimeout("read", request=REQUEST), APITimeoutError, True),
        (httpx.WriteTimeout("write", request=REQUEST), APITimeoutError, True),
        (httpx.RemoteProtocolError("dropped", request=REQUEST), APIConnectionError, True),
        (httpx.ReadError("reset", request=REQUEST), APIConnectionError, True),
        (httpx.ConnectError("no request attached"), APIConnectionError, False),
    ],
)
def test_connection_errors(exc: httpx.TransportError, cls: type[Exception], sent: bool) -> None:
    error = connection_error(exc)
    assert type(error) is cls
    assert isinstance(error, APIConnectionError)
    assert error.request_sent is sent
    assert isinstance(error, TimeoutError) is (cls is APITimeoutError)


def test_connection_error_redacts() -> None:
    error = connection_error(httpx.ConnectError(f"boom {SECRET}", request=REQUEST), secret=SECRET)
    assert SECRET not in str(error)
    assert str(error) == "connection failed: GET /v1/accounts/a/models/m: boom ***"


def test_the_key_is_masked_in_the_error_body() -> None:
    request = httpx.Request("GET", "https://api.example/v1/x")
    body = {"error": {"message": "bad key sk-SECRET", "details": [{"echo": ["sk-SECRET"]}]}}
    response = httpx.Response(403, json=body, request=request)
    error = error_from_response(response, secret="sk-SECRET")
    assert "sk-SECRET" not in repr(error.body)
    assert "sk-SECRET" not in str(error)
    assert error.body["error"]["details"][0]["echo"] == ["***"]


# The one reply decoder ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (reply(200, {"a": 1}), {"a": 1}),
        (reply(200, text=""), {}),
        (reply(204, text=""), {}),
    ],
    ids=["object", "empty", "no-content"],
)
def test_decode_reply_returns_the_json_object(response: httpx.Response, expected: Any) -> None:
    assert decode_reply(response) == expected


@pytest.mark.parametrize(
    "response",
    [
        reply(200, [1, 2]),
        reply(200, "text"),
        reply(200, text="<html>ok</html>"),
        reply(200, text="null"),
    ],
    ids=["list", "string", "html", "null"],
)
def test_a_2xx_reply_that_is_not_an_object_is_a_protocol_error(response: httpx.Response) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_reply(response)
    assert str(info.value) == "200 GET /v1/accounts/a/models/m: reply is not a JSON object"
    assert isinstance(info.value, APIError)
    assert (info.value.status_code, info.value.method) == (200, "GET")


def test_decode_reply_raises_the_status_error_with_the_key_masked() -> None:
    with pytest.raises(NotFoundError, match=r"404 GET .*: gone \*\*\*"):
        decode_reply(reply(404, {"error": {"message": f"gone {SECRET}"}}), secret=SECRET)


# The key in frames, cuts and URLs ----------------------------------------------------------


def test_the_key_is_a_str_whose_repr_is_masked() -> None:
    key = resolve_api_key(f" {SECRET} ")
    assert isinstance(key, APIKey)
    assert key == SECRET
    assert repr(key) == "'***'"
    assert repr({"X-Api-Key": key}) == "{'X-Api-Key': '***'}"
    assert repr(key[:10]) == "'***'"  # a renderer that shows a long string's head
    assert f"{key}" == SECRET  # what goes into the header is the key itself


@pytest.mark.parametrize("where", ["json", "text"])
def test_the_key_is_masked_before_the_message_is_cut(where: str) -> None:
    text = "e" * 480 + SECRET + " tail"
    body = {"error": {"message": text}} if where == "json" else None
    response = reply(400, body, text=None if where == "json" else text)
    error = error_from_response(response, secret=SECRET)
    assert SECRET[:6] not in str(error)
    assert "***" in str(error) or str(error).endswith("...")
    assert SECRET not in error.server_message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid port"),
        ("http://127.0.0.1:99999", "port 99999 is not in 1..65535"),
        ("http://127.0.0.1:0", "port 0 is not in 1..65535"),
        ("localhost:8080", "scheme"),
    ],
)
def test_a_base_url_that_cannot_work_is_bad_input(url: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        resolve_base_url(url)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://fw.test/v1/x", "https://fw.test:443/v1/y", True),
        ("http://fw.test/a", "https://fw.test/a", False),
        ("http://fw.test:8000/a", "http://fw.test:8001/a", False),
        ("http://fw.test/a", "http://evil.test/a", False),
    ],
)
def test_same_origin(a: str, b: str, same: bool) -> None:
    assert same_origin(httpx.URL(a), httpx.URL(b)) is same


def test_a_connection_error_keeps_method_and_path_not_the_request() -> None:
    error = connection_error(httpx.ConnectError("refused", request=REQUEST))
    assert (error.method, error.path) == ("GET", "/v1/accounts/a/models/m")
    assert not any(isinstance(v, httpx.Request) for v in vars(error).values())


def test_a_parse_failure_is_one_protocol_error_with_the_key_masked() -> None:
    def parse(body: Any) -> Any:
        raise ValueError(f"bad value {SECRET}\nover lines")

    with pytest.raises(ProtocolError) as info:
        parsed(parse, {}, where="200 GET /x", secret=SECRET, status_code=200)
    assert (
        str(info.value) == "200 GET /x: reply does not match the protocol: bad value *** over lines"
    )
    assert info.value.__context__ is None
    assert describe(KeyError("name")) == "missing 'name'"


def test_a_deliberate_error_of_a_parser_goes_through() -> None:
    def parse(body: Any) -> Any:
        raise InvalidArgumentError("pass base_model=")

    with pytest.raises(InvalidArgumentError, match="pass base_model="):
        parsed(parse, {}, where="200 GET /x")
