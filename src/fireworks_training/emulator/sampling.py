"""Completions from the bf16 weights a replica serves (docs/protocol.md §5).

Tokens are bytes (vocabulary 256); ``logits = float32(bits)[previous token]``. The raw
``logprob`` of a token is the trainer's own :func:`~.model.log_softmax` of those logits;
``sampling_logprob`` is its log-probability under the distribution actually sampled from
(temperature, then top-k, then top-p, renormalised; a point mass when greedy).
"""

from __future__ import annotations

import codecs
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .blobs import bf16_float
from .model import VOCAB, log_softmax

__all__ = ["Choice", "CompletionRequest", "Row", "complete", "parse_request"]

_DEFAULT_MAX_TOKENS = 16
_MAX_N = 16
_MAX_TOP_LOGPROBS = 20
_FIELDS = {
    "model",
    "prompt",
    "n",
    "max_tokens",
    "temperature",
    "top_k",
    "top_p",
    "seed",
    "stop",
    "echo",
    "logprobs",
    "raw_output",
    "stream",
    "perf_metrics_in_response",  # accepted; no perf metrics are reported
    "prompt_cache_key",  # accepted; there is no prompt cache
    "user",
}

Row = dict[str, Any]


class RequestError(ValueError):
    """A completions request the server refuses with 400."""


@dataclass(frozen=True)
class CompletionRequest:
    """A parsed completions request."""

    model: str
    prompt: list[int]
    n: int = 1
    max_tokens: int = _DEFAULT_MAX_TOKENS
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[bytes, ...] = ()
    echo: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    raw_output: bool = False
    stream: bool = False


@dataclass
class Choice:
    """One generated sequence."""

    index: int
    tokens: list[int] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # one per generated token
    prompt_rows: list[Row] = field(default_factory=list)  # one per prompt token, with echo
    finish_reason: str = "length"
    stop_length: int = 0  # bytes of a matched stop string at the end, left out of the text


def _int(body: dict[str, Any], key: str, default: int, low: int, high: int | None = None) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise RequestError(f"{key} must be an integer >= {low}, got {value!r}")
    if high is not None and value > high:
        raise RequestError(f"{key} must be at most {high}, got {value}")
    return value


def _float(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise RequestError(f"{key} must be a number, got {value!r}")
    return float(value)


def _prompt(value: Any) -> list[int]:
    if isinstance(value, str):
        tokens = list(value.encode("utf-8"))
    elif isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    ):
        tokens = list(value)
    else:
        raise RequestError("prompt must be a string or a list of token ids")
    if not tokens:
        raise RequestError("prompt must not be empty")
    if min(tokens) < 0 or max(tokens) >= VOCAB:
        raise RequestError(f"prompt token ids must be in [0, {VOCAB})")
    return tokens


def _stop(value: Any) -> tuple[bytes, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise RequestError("stop must be a non-empty string or a list of them")
    return tuple(s.encode("utf-8") for s in stops)


def parse_request(body: dict[str, Any]) -> CompletionRequest:
    """Check a completions body; :class:`RequestError` names the first problem."""
    for name in body:
        if name not in _FIELDS:
            raise RequestError(f"Extra inputs are not permitted, field: '{name}'")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model is required")
    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool | int):
        raise RequestError(f"logprobs must be a boolean or an integer, got {logprobs!r}")
    top = _int(body, "logprobs", 0, 0, _MAX_TOP_LOGPROBS) if type(logprobs) is int else 0
    request = CompletionRequest(
        model=model,
        prompt=_prompt(body.get("prompt")),
        n=_int(body, "n", 1, 1, _MAX_N),
        max_tokens=_int(body, "max_tokens", _DEFAULT_MAX_TOKENS, 0),
        temperature=_float(body, "temperature", 1.0),
        top_k=max(_int(body, "top_k", 0, -1), 0),  # 0 and -1 both mean "no limit"
        top_p=_float(body, "top_p", 1.0),
        seed=None if body.get("seed") is None else _int(body, "seed", 0, 0),
        stop=_stop(body.get("stop")),
        echo=bool(body.get("echo", False)),
        logprobs=logprobs is not None and logprobs is not False,
        top_logprobs=top,
        raw_output=bool(body.get("raw_output", False)),
        stream=bool(body.get("stream", False)),
    )
    if request.temperature < 0:
        raise RequestError("temperature must not be negative")
    if not 0 < request.top_p <= 1:
        raise RequestError("top_p must be in (0, 1]")
    return request


def _sampling_logprobs(logits: NDArray[np.float32], request: CompletionRequest) -> NDArray[Any]:
    """Log-probabilities of the distribution the next token is drawn from.

    ``log_softmax(logits / temperature)``, then cut to the ``top_k`` best and to the smallest
    set whose mass reaches ``top_p``, renormalised; a token cut away has ``-inf``. With
    nothing cut, at temperature 1 they equal the raw logprobs exactly.
    """
    scaled = log_softmax((logits / np.float32(request.temperature)).astype(np.float32))
    order = np.argsort(-scaled, kind="stable")
    cut = request.top_k or VOCAB
    if request.top_p < 1:
        mass = np.cumsum(np.exp(scaled[order].astype(np.float64)))
        cut = min(cut, int(np.searchsorted(mass, request.top_p)) + 1)
    if cut >= VOCAB:
        return scaled
    kept = order[:cut]
    out = np.full(VOCAB, -np.inf, np.float32)
    out[kept] = log_softmax(scaled[kept])
    return out


def _draw(logprobs: NDArray[Any], rng: np.random.Generator) -> int:
    probs = np.exp(logprobs.astype(np.float64))
    return int(rng.choice(VOCAB, p=probs / probs.sum()))


def _row(token: int, logprobs: NDArray[np.float32], sampling: float | None, top: int) -> Row:
    row: Row = {
        "token": bytes([token]).decode("latin-1"),
        "token_id": token,
        "logprob": float(logprobs[token]),
        "sampling_logprob": sampling,
    }
    if top:
        best = np.argsort(-logprobs, kind="stable")[:top]
        row["top_logprobs"] = [
            {
                "token_id": int(t),
                "token": bytes([int(t)]).decode("latin-1"),
                "logprob": float(logprobs[t]),
            }
            for t in best
        ]
    return row


def _prompt_rows(weights: NDArray[np.float32], request: CompletionRequest) -> list[Row]:
    """Echo rows: the first token is unconditional (logprob 0.0), then each given the last."""
    first: Row = {
        "token": bytes([request.prompt[0]]).decode("latin-1"),
        "token_id": request.prompt[0],
        "logprob": 0.0,
        "sampling_logprob": None,
    }
    if request.top_logprobs:
        first["top_logprobs"] = []
    rows = [first]
    prompt = np.asarray(request.prompt, np.int64)
    table = log_softmax(weights[prompt[:-1]])
    for i, token in enumerate(request.prompt[1:]):
        rows.append(_row(token, table[i], None, request.top_logprobs))
    return rows


def complete(bits: NDArray[np.uint16], request: CompletionRequest) -> list[Choice]:
    """Generate ``request.n`` choices from the served ``bits``."""
    weights = bf16_float(bits).reshape(VOCAB, VOCAB)
    rng = np.random.default_rng(request.seed if request.seed is not None else secrets.randbits(64))
    prompt_rows = _prompt_rows(weights, request) if request.echo else []
    choices = []
    for index in range(request.n):
        choice = Choice(index, prompt_rows=prompt_rows)
        previous = request.prompt[-1]
        for _ in range(request.max_tokens):
            logprobs = log_softmax(weights[previous])
            if request.temperature == 0:
                token, sampling = int(np.argmax(logprobs)), 0.0
            else:
                sampled = _sampling_logprobs(weights[previous], request)
                token = _draw(sampled, rng)
                sampling = float(sampled[token])
            choice.tokens.append(token)
            choice.rows.append(_row(token, logprobs, sampling, request.top_logprobs))
            previous = token
            matched = next((s for s in request.stop if bytes(choice.tokens).endswith(s)), None)
            if matched is not None:
                choice.finish_reason, choice.stop_length = "stop", len(matched)
                break
        choices.append(choice)
    return choices


def text_of(tokens: list[int]) -> str:
    """Bytes as text (UTF-8; an invalid sequence becomes U+FFFD)."""
    return bytes(tokens).decode("utf-8", errors="replace")


def text_deltas(tokens: list[int]) -> list[str]:
    """The text each token adds, decoding UTF-8 incrementally (a split character waits)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    deltas = [decoder.decode(bytes([t])) for t in tokens]
    if deltas:
        deltas[-1] += decoder.decode(b"", final=True)
    return deltas
