"""Page-token loops are found in constant memory (Brent's cycle detection), however long."""

from __future__ import annotations

import pytest

from fireworks_training._paging import PageTokens
from fireworks_training.errors import APIError, ProtocolError
from fireworks_training.pagination import AsyncPager, Page, SyncPager


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def looping(before: int, length: int) -> list[str]:
    """The tokens of a server that sends ``before`` new tokens, then loops over ``length``."""
    return [f"t{k}" for k in range(before)] + [f"loop{k}" for k in range(length)]


def send_all(tokens: PageTokens, sequence: list[str], before: int, sent: list[int]) -> None:
    length = len(sequence) - before
    while sent[0] < 100_000:
        k = sent[0] if sent[0] < before else before + (sent[0] - before) % length
        tokens.after(Page([sent[0]], sequence[k]))
        sent[0] += 1


def pages_until_caught(before: int, length: int) -> int:
    sent = [0]
    with pytest.raises(ProtocolError, match="repeated page token"):
        send_all(PageTokens(), looping(before, length), before, sent)
    return sent[0]


@pytest.mark.parametrize(
    ("before", "length"),
    [(0, 1), (0, 2), (1, 1), (7, 1), (0, 3), (2, 2), (1000, 2), (10, 1000), (3000, 700)],
)
def test_a_loop_is_caught_within_twice_its_start_or_length_plus_its_length(
    before: int, length: int
) -> None:
    sent = pages_until_caught(before, length)
    assert before + length <= sent <= 2 * max(before, length) + length


def test_the_memory_kept_does_not_grow_with_the_listing() -> None:
    tokens = PageTokens()
    for n in range(100_000):
        tokens.after(Page([n], f"token-{n}"))
    # Two tokens kept (Brent's and the last one), whatever the number of pages.
    kept = [v for v in vars(tokens).values() if isinstance(v, str)]
    assert sorted(kept) == sorted([str(tokens.saved), str(tokens.last)])
    assert tokens.last == "token-99999"


@pytest.mark.parametrize("before", [0, 1, 5, 1000, 4097])
def test_a_token_sent_twice_in_a_row_is_caught_at_once(before: int) -> None:
    assert pages_until_caught(before, 1) == before + 1


pytestmark = pytest.mark.anyio


async def drain(pager: SyncPager[int] | AsyncPager[int]) -> None:
    if isinstance(pager, SyncPager):
        list(pager)
    else:
        [item async for item in pager]


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_long_loop_stops_the_listing_with_the_same_error(flavour: str) -> None:
    # 300 pages, then back to page 100's token: the server would serve pages 100..299 forever.
    asked: list[str | None] = []

    def fetch(token: str | None) -> Page[int]:
        asked.append(token)
        index = 0 if token is None else int(token)
        following = index + 1 if index + 1 < 300 else 100
        return Page([index], str(following))

    async def afetch(token: str | None) -> Page[int]:
        return fetch(token)

    pager = SyncPager(fetch) if flavour == "sync" else AsyncPager(afetch)
    with pytest.raises(APIError, match=r"the server repeated page token '\d+'"):
        await drain(pager)
    assert 300 < len(asked) <= 2 * 300 + 200
    assert len(set(asked)) == 300  # every page once before the loop was caught
