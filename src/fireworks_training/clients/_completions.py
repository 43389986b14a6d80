"""The completions wire without I/O: the request body, server-sent events, completions.

docs/protocol.md §5. A request is token ids in; the answer (a stream of ``data:`` events,
or one JSON object) carries per choice its text, one logprob row per token, a
``finish_reason`` and ``raw_output.completion_token_ids``. With ``echo`` the ids and rows
start with the prompt's, row 0 having no context (it is dropped). A stream that ends
without a ``finish_reason`` was cut: :class:`TruncatedStreamError`, which the sampler
retries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    APIStatusError,
    InvalidArgumentError,
    ProtocolError,
    TruncatedStreamError,
    status_error_class,
)

__all__ = [
    "COMPLETIONS_PATH",
    "Choice",
    "SampledCompletion",
    "TruncatedStreamError",
    "check_prompt",
    "completion_body",
    "normalize_stop",
    "parse_json_answer",
    "parse_stream",
    "to_completion",
]

COMPLETIONS_PATH = "/inference/v1/completions"
_FINISH_REASONS = frozenset({"stop", "length", "tool_calls"})


@dataclass
class SampledCompletion:
    """One sampled completion: the prompt and completion tokens, with their logprobs.

    ``full_tokens`` is prompt then completion. ``inference_logprobs`` are the model's own
    logprobs, ``sampling_logprobs`` those under the distribution sampled from; with
    ``logprobs_echoed`` both cover every token after the first (prompt and completion),
    else the completion only.
    """

    text: str
    full_tokens: list[int]
    prompt_len: int
    finish_reason: str = "unknown"
    completion_len: int = 0
    inference_logprobs: list[float] | None = None
    sampling_logprobs: list[float | None] | None = None
    logprobs_echoed: bool = False
    echoed_prompt_logprob_count: int = 0

    @property
    def completion_tokens(self) -> list[int]:
        """The generated tokens."""
        return self.full_tokens[self.prompt_len :]


def check_prompt(prompt_token_ids: object) -> list[int]:
    """A non-empty list of token ids (ints >= 0)."""
    if isinstance(prompt_token_ids, str | bytes) or not isinstance(prompt_token_ids, Sequence):
        raise InvalidArgumentError(
            f"prompt_token_ids must be a list of token ids, got {type(prompt_token_ids).__name__}"
        )
    tokens = list(prompt_token_ids)
    if not tokens:
        raise InvalidArgumentError("prompt_token_ids must not be empty")
    if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in tokens):
        raise InvalidArgumentError("prompt_token_ids must be ints >= 0")
    return tokens


def normalize_stop(stop: object, tokenizer: Any = None) -> list[str] | None:
    """Stop strings for the wire: a string is one stop (never split into characters).

    Token-id stops are decoded with ``tokenizer`` (the wire takes strings only).
    """
    if stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    if not isinstance(stop, Sequence) or isinstance(stop, bytes):
        raise InvalidArgumentError(f"stop must be a string or a list, got {stop!r}")
    items = list(stop)
    if all(isinstance(s, str) for s in items):
        return items
    if all(isinstance(s, int) and not isinstance(s, bool) for s in items):
        if tokenizer is None:
            raise InvalidArgumentError("token-id stops need a tokenizer to decode them")
        return [tokenizer.decode([token], skip_special_tokens=False) for token in items]
    raise InvalidArgumentError(f"stop must be strings or token ids, not both: {stop!r}")


def completion_body(
    model: str,
    prompt: list[int],
    *,
    max_tokens: int,
    temperature: float,
    stream: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One request (``n`` 1): the full distribution by default, token ids in and out."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise InvalidArgumentError(f"max_tokens must be an int >= 0, got {max_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature < 0:
        raise InvalidArgumentError(f"temperature must be a number >= 0, got {temperature!r}")
    body: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "n": 1,
        "max_tokens": max_tokens,
        "temperature": float(temperature),
        "stream": stream,
        "perf_metrics_in_response": True,
        "raw_output": True,
        "top_p": 1.0,
        "top_k": 0,
    }
    for key, value in (extra or {}).items():
        if value is not None:
            body[key] = value
    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"the completion request cannot be sent as JSON: {exc}"
        ) from None
    return body


@dataclass
class Choice:
    """What the answer said about one choice, put together from its chunks."""

    index: int
    text: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    raw_output: dict[str, Any] = field(default_factory=dict)

    def take(self, part: Mapping[str, Any]) -> None:
        """Add one chunk's part of this choice."""
        text = part.get("text")
        if isinstance(text, str):
            self.text += text
        logprobs = part.get("logprobs")
        if isinstance(logprobs, Mapping):
            content = logprobs.get("content")
            if isinstance(content, list):
                self.rows.extend(r if isinstance(r, dict) else {} for r in content)
        reason = part.get("finish_reason")
        if isinstance(reason, str) and reason:
            self.finish_reason = reason
        raw = part.get("raw_output")
        if isinstance(raw, Mapping):
            self.raw_output = dict(raw)  # the last one wins


def _upstream_error(payload: Any, where: str) -> APIStatusError:
    """An error event or error object in a 2xx answer, as the status error it stands for."""
    error = payload.get("error", payload) if isinstance(payload, Mapping) else payload
    message = str(error.get("message", error)) if isinstance(error, Mapping) else str(error)
    code = error.get("code") if isinstance(error, Mapping) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    line = f"{status} POST {where}: {message}"
    return status_error_class(status)(
        line, status_code=status, method="POST", path=where, body=payload, server_message=message
    )


def _events(text: str) -> list[tuple[str, str]]:
    """(event name, data) of each server-sent event."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
        if data:
            events.append((name, "\n".join(data)))
    return events


def _chunk(data: str, where: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise ProtocolError(f"200 POST {where}: an event is not JSON: {data[:80]!r}") from None
    if not isinstance(chunk, dict):
        raise ProtocolError(f"200 POST {where}: an event is not a JSON object")
    return chunk


def _collect(chunks: list[dict[str, Any]], where: str) -> dict[int, Choice]:
    choices: dict[int, Choice] = {}
    for chunk in chunks:
        if "error" in chunk:
            raise _upstream_error(chunk, where)
        for part in chunk.get("choices") or []:
            if not isinstance(part, Mapping):
                continue
            index = part.get("index", 0)
            index = index if isinstance(index, int) else 0
            choices.setdefault(index, Choice(index)).take(part)
    for choice in choices.values():
        if choice.finish_reason is not None and choice.finish_reason not in _FINISH_REASONS:
            raise _upstream_error({"message": f"finish_reason {choice.finish_reason!r}"}, where)
    return choices


def parse_stream(text: str, where: str = COMPLETIONS_PATH) -> list[Choice]:
    """The choices of an event stream; a cut stream raises :class:`TruncatedStreamError`."""
    chunks = []
    for name, data in _events(text):
        if data.strip() == "[DONE]":
            break
        if name == "error":
            raise _upstream_error(_chunk(data, where) if data.startswith("{") else data, where)
        chunks.append(_chunk(data, where))
    choices = _collect(chunks, where)
    if not choices or any(c.finish_reason is None for c in choices.values()):
        raise TruncatedStreamError(
            f"200 POST {where}: the stream ended before every choice finished",
            status_code=200,
            method="POST",
            path=where,
        )
    return [choices[i] for i in sorted(choices)]


def parse_json_answer(body: Mapping[str, Any], where: str = COMPLETIONS_PATH) -> list[Choice]:
    """The choices of a non-streamed answer."""
    choices = _collect([dict(body)], where)
    return [choices[i] for i in sorted(choices)]


def _column(rows: list[dict[str, Any]], key: str) -> list[Any]:
    return [row.get(key) for row in rows]


def to_completion(
    choice: Choice,
    prompt: list[int],
    *,
    echo: bool,
    full_distribution: bool,
    where: str = COMPLETIONS_PATH,
) -> SampledCompletion:
    """One choice as a :class:`SampledCompletion` (an echoed prompt's row 0 dropped).

    ``full_distribution`` (temperature 1, nothing cut): a server that sends no
    ``sampling_logprob`` has it equal to ``logprob``.
    """
    ids = choice.raw_output.get("completion_token_ids")
    if not isinstance(ids, list) or not all(isinstance(t, int) for t in ids):
        raise ProtocolError(f"200 POST {where}: the answer has no raw_output.completion_token_ids")
    given = choice.raw_output.get("prompt_token_ids")
    prompt_ids = [int(t) for t in given] if isinstance(given, list) and given else list(prompt)
    rows = choice.rows
    if echo:
        if ids[: len(prompt_ids)] != prompt_ids:
            raise ProtocolError(f"200 POST {where}: the echoed ids do not start with the prompt")
        if rows and len(rows) != len(ids):
            raise ProtocolError(
                f"200 POST {where}: {len(rows)} logprob rows for {len(ids)} echoed tokens"
            )
        completion, rows = ids[len(prompt_ids) :], rows[1:]
    else:
        completion = ids
        if rows and len(rows) != len(ids):
            raise ProtocolError(f"200 POST {where}: {len(rows)} logprob rows for {len(ids)} tokens")
    raw = _column(rows, "logprob")
    inference = [float(x) for x in raw] if rows and None not in raw else None
    sampling: list[float | None] | None = None
    if rows:
        sampling = [None if x is None else float(x) for x in _column(rows, "sampling_logprob")]
        if all(x is None for x in sampling) and inference is not None and full_distribution:
            sampling = list(inference)
    return SampledCompletion(
        text=choice.text,
        full_tokens=prompt_ids + completion,
        prompt_len=len(prompt_ids),
        finish_reason=choice.finish_reason or "unknown",
        completion_len=len(completion),
        inference_logprobs=inference,
        sampling_logprobs=sampling,
        logprobs_echoed=echo and bool(rows),
        echoed_prompt_logprob_count=max(len(prompt_ids) - 1, 0) if echo and rows else 0,
    )
