"""The completions wire: the body, server-sent events, echo alignment, stops."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireworks_training.clients._completions import (
    Choice,
    TruncatedStreamError,
    check_prompt,
    completion_body,
    normalize_stop,
    parse_json_answer,
    parse_stream,
    to_completion,
)
from fireworks_training.errors import InternalServerError, InvalidArgumentError, ProtocolError

MODEL = "accounts/acme/deployments/dep-1"


def row(token: int, logprob: float | None, sampling: float | None) -> dict[str, Any]:
    return {"token_id": token, "logprob": logprob, "sampling_logprob": sampling}


def sse(*chunks: Any, done: bool = True) -> str:
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return text + ("data: [DONE]\n\n" if done else "")


def part(text: str = "", rows: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    piece: dict[str, Any] = {"index": 0, "text": text, "finish_reason": None, **extra}
    piece["logprobs"] = {"content": rows} if rows is not None else None
    return {"id": "cmpl-1", "choices": [piece]}


def test_the_body_samples_the_full_distribution_by_default() -> None:
    body = completion_body(
        MODEL, [1, 2], max_tokens=8, temperature=0.7, extra={"seed": 3, "x": None}
    )
    assert body == {
        "model": MODEL,
        "prompt": [1, 2],
        "n": 1,
        "max_tokens": 8,
        "temperature": 0.7,
        "stream": True,
        "perf_metrics_in_response": True,
        "raw_output": True,
        "top_p": 1.0,
        "top_k": 0,
        "seed": 3,
    }
    with pytest.raises(InvalidArgumentError, match="JSON"):
        completion_body(MODEL, [1], max_tokens=1, temperature=1.0, extra={"top_p": float("nan")})
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        completion_body(MODEL, [1], max_tokens=-1, temperature=1.0)


@pytest.mark.parametrize(
    ("stop", "expected"),
    [(None, None), ("abc", ["abc"]), (["a", "bc"], ["a", "bc"]), (("x",), ["x"])],
)
def test_a_string_stop_is_one_stop(stop: Any, expected: list[str] | None) -> None:
    assert normalize_stop(stop) == expected


def test_token_id_stops_need_a_tokenizer() -> None:
    class Tokenizer:
        def decode(self, ids: list[int], skip_special_tokens: bool) -> str:
            return bytes(ids).decode()

    assert normalize_stop([10, 33], Tokenizer()) == ["\n", "!"]
    for bad in [[1], ["a", 1], 5]:
        with pytest.raises(InvalidArgumentError):
            normalize_stop(bad)


@pytest.mark.parametrize("prompt", [[], "abc", [1, -1], [True], None])
def test_a_prompt_is_token_ids(prompt: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        check_prompt(prompt)


def test_a_stream_is_put_together_per_choice() -> None:
    text = sse(
        part("he", [row(104, -1.0, -0.5)]),
        part("y", [row(121, -2.0, -1.5)]),
        part(finish_reason="length", raw_output={"completion_token_ids": [104, 121]}),
    )
    (choice,) = parse_stream(": a comment\n\n" + text)
    assert (choice.text, choice.finish_reason, len(choice.rows)) == ("hey", "length", 2)
    completion = to_completion(choice, [1, 2], echo=False, full_distribution=False)
    assert completion.full_tokens == [1, 2, 104, 121]
    assert (completion.prompt_len, completion.completion_len) == (2, 2)
    assert completion.completion_tokens == [104, 121]
    assert completion.inference_logprobs == [-1.0, -2.0]
    assert completion.sampling_logprobs == [-0.5, -1.5]
    assert not completion.logprobs_echoed


def test_a_cut_stream_is_truncated_and_an_error_event_is_a_status_error() -> None:
    with pytest.raises(TruncatedStreamError):
        parse_stream(sse(part("a", [row(97, -1.0, -1.0)]), done=False))
    with pytest.raises(TruncatedStreamError):
        parse_stream("")
    with pytest.raises(InternalServerError) as caught:
        parse_stream('event: error\ndata: {"error": {"code": 503, "message": "overloaded"}}\n\n')
    assert (caught.value.status_code, caught.value.server_message) == (503, "overloaded")
    with pytest.raises(InternalServerError):
        parse_stream(sse({"error": {"message": "boom"}}))
    with pytest.raises(ProtocolError, match="not JSON"):
        parse_stream("data: {nope\n\n")
    unknown = part(finish_reason="content_filter", raw_output={"completion_token_ids": []})
    with pytest.raises(InternalServerError, match="content_filter"):
        parse_stream(sse(unknown))


def echoed(rows: list[Any], ids: list[int], **raw: Any) -> Choice:
    choice = Choice(0, text="", rows=rows, finish_reason="length")
    choice.raw_output = {"completion_token_ids": ids, **raw}
    return choice


def test_echo_drops_the_unconditional_first_row() -> None:
    rows = [row(1, 0.0, None), row(2, -0.1, None), row(3, -0.2, -0.3)]
    completion = to_completion(echoed(rows, [1, 2, 3]), [1, 2], echo=True, full_distribution=False)
    assert completion.full_tokens == [1, 2, 3]
    assert completion.completion_tokens == [3]
    assert completion.inference_logprobs == [-0.1, -0.2]
    assert completion.sampling_logprobs == [None, -0.3]
    assert (completion.logprobs_echoed, completion.echoed_prompt_logprob_count) == (True, 1)


@pytest.mark.parametrize(
    ("rows", "ids", "message"),
    [
        ([row(1, 0.0, None)], [9, 3], "do not start with the prompt"),
        ([row(1, 0.0, None)], [1, 2, 3], "1 logprob rows for 3 echoed tokens"),
    ],
)
def test_echo_that_does_not_align_is_a_protocol_error(
    rows: list[Any], ids: list[int], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        to_completion(echoed(rows, ids), [1, 2], echo=True, full_distribution=False)


def test_raw_output_is_required_and_missing_sampling_logprobs_fall_back_only_at_full() -> None:
    with pytest.raises(ProtocolError, match="completion_token_ids"):
        to_completion(Choice(0, finish_reason="stop"), [1], echo=False, full_distribution=True)
    rows = [row(5, -1.0, None)]
    full = to_completion(echoed(rows, [5]), [1], echo=False, full_distribution=True)
    assert full.sampling_logprobs == [-1.0]
    cut = to_completion(echoed(rows, [5]), [1], echo=False, full_distribution=False)
    assert cut.sampling_logprobs == [None]
    missing = to_completion(
        echoed([row(5, None, -1.0)], [5]), [1], echo=False, full_distribution=True
    )
    assert missing.inference_logprobs is None


def test_a_non_streamed_answer_parses_the_same() -> None:
    answer = {
        "choices": [
            {
                "index": 1,
                "text": "b",
                "finish_reason": "stop",
                "raw_output": {"completion_token_ids": [98]},
            },
            {
                "index": 0,
                "text": "a",
                "finish_reason": "length",
                "raw_output": {"completion_token_ids": [97]},
            },
        ]
    }
    assert [c.text for c in parse_json_answer(answer)] == ["a", "b"]


@given(st.lists(st.integers(0, 255), min_size=1, max_size=30), st.integers(1, 7))
def test_a_stream_split_anywhere_into_chunks_gives_the_same_choice(
    tokens: list[int], size: int
) -> None:
    rows = [row(t, -float(t), -float(t)) for t in tokens]
    chunks = [part("", rows[i : i + size]) for i in range(0, len(rows), size)]
    chunks.append(part(finish_reason="stop", raw_output={"completion_token_ids": tokens}))
    (choice,) = parse_stream(sse(*chunks).replace("\n", "\r\n"))
    completion = to_completion(choice, [0], echo=False, full_distribution=False)
    assert completion.completion_tokens == tokens
    assert completion.inference_logprobs == [-float(t) for t in tokens]
