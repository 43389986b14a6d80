"""``POST /inference/v1/completions``: one JSON answer, or server-sent events.

docs/protocol.md §5.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from ..backend import Backend
from ..sampling import (
    Choice,
    CompletionRequest,
    RequestError,
    complete,
    parse_request,
    text_deltas,
    text_of,
)
from ..wire import ApiError, read_json
from .endpoint import json_route

__all__ = ["COMPLETIONS_PATH", "inference_routes"]

COMPLETIONS_PATH = "/inference/v1/completions"


def _raw_output(choice: Choice, request: CompletionRequest) -> dict[str, Any]:
    echoed = request.prompt if request.echo else []
    return {
        "prompt_token_ids": list(request.prompt),
        "completion_token_ids": [*echoed, *choice.tokens],
    }


def _kept(choice: Choice) -> list[int]:
    """The generated tokens whose text is shown: a matched stop string is left out."""
    return choice.tokens[: len(choice.tokens) - choice.stop_length]


def _usage(choices: list[Choice], request: CompletionRequest) -> dict[str, int]:
    generated = sum(len(c.tokens) for c in choices)
    prompt = len(request.prompt)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
    }


def _choice_json(choice: Choice, request: CompletionRequest) -> dict[str, Any]:
    prompt_text = text_of(request.prompt) if request.echo else ""
    body: dict[str, Any] = {
        "index": choice.index,
        "text": prompt_text + text_of(_kept(choice)),
        "logprobs": {"content": choice.prompt_rows + choice.rows} if request.logprobs else None,
        "finish_reason": choice.finish_reason,
    }
    if request.raw_output:
        body["raw_output"] = _raw_output(choice, request)
    return body


def _chunks(
    choices: list[Choice], request: CompletionRequest, head: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The stream: echoed prompt, one event per token, then each choice's finish and usage."""
    for choice in choices:

        def delta(text: str, rows: list[Any], index: int = choice.index) -> dict[str, Any]:
            part: dict[str, Any] = {"index": index, "text": text, "finish_reason": None}
            part["logprobs"] = {"content": rows} if request.logprobs else None
            return {**head, "choices": [part]}

        if request.echo:
            yield delta(text_of(request.prompt), choice.prompt_rows)
        texts = text_deltas(_kept(choice)) + [""] * choice.stop_length
        for text, row in zip(texts, choice.rows, strict=True):
            yield delta(text, [row])
        final: dict[str, Any] = {
            "index": choice.index,
            "text": "",
            "finish_reason": choice.finish_reason,
        }
        if request.raw_output:
            final["raw_output"] = _raw_output(choice, request)
        last = choice is choices[-1]
        yield {**head, "choices": [final], **({"usage": _usage(choices, request)} if last else {})}


def _sse(chunks: Iterator[dict[str, Any]]) -> Iterator[str]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"


def inference_routes(backend: Backend) -> list[Route]:
    """The completions route of every deployment."""
    serving = backend.serving

    async def completions(request: Request) -> Any:
        body = await read_json(request)
        try:
            parsed = parse_request(body)
        except RequestError as exc:
            raise ApiError(400, str(exc), reason="INVALID_ARGUMENT") from exc
        bits = serving.serving_bits(parsed.model)
        choices = complete(bits, parsed)
        head = {
            "id": f"cmpl-{secrets.token_hex(12)}",
            "object": "text_completion",
            "created": backend.clock.now_us() // 1_000_000,
            "model": parsed.model,
        }
        if parsed.stream:
            return StreamingResponse(
                _sse(_chunks(choices, parsed, head)), media_type="text/event-stream"
            )
        return {
            **head,
            "choices": [_choice_json(c, parsed) for c in choices],
            "usage": _usage(choices, parsed),
        }

    return [json_route(COMPLETIONS_PATH, completions, "POST")]
