"""SyncPager and AsyncPager: lazy, empty pages, end only on an empty token."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireworks_training._paging import MAX_EMPTY_PAGES, PageTokens
from fireworks_training.errors import APIError, ProtocolError
from fireworks_training.pagination import AsyncPager, Page, SyncPager


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Server:
    """Pages by token; records every token asked for."""

    def __init__(self, pages: list[list[int]], last_token: str | None = None) -> None:
        self.pages = pages
        self.last_token = last_token
        self.asked: list[str | None] = []

    def fetch(self, token: str | None) -> Page[int]:
        self.asked.append(token)
        index = 0 if token is None else int(token)
        following = str(index + 1) if index + 1 < len(self.pages) else self.last_token
        return Page(self.pages[index], following)

    async def afetch(self, token: str | None) -> Page[int]:
        return self.fetch(token)


async def items(server: Server, flavour: str) -> list[int]:
    if flavour == "sync":
        return list(SyncPager(server.fetch))
    return [item async for item in AsyncPager(server.afetch)]


async def pages(server: Server, flavour: str) -> list[Page[int]]:
    if flavour == "sync":
        return list(SyncPager(server.fetch).pages)
    return [page async for page in AsyncPager(server.afetch).pages]


async def drain(pager: SyncPager[int] | AsyncPager[int], into: list[int] | None = None) -> None:
    """Iterate a pager of either flavour, keeping what came through."""
    into = [] if into is None else into
    if isinstance(pager, SyncPager):
        for item in pager:
            into.append(item)
    else:
        async for item in pager:
            into.append(item)


FLAVOURS = ["sync", "async"]
pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("last_token", [None, ""], ids=["missing", "empty"])
async def test_empty_pages_do_not_end_the_listing(flavour: str, last_token: str | None) -> None:
    server = Server([[1, 2], [], [], [3], []], last_token)
    assert await items(server, flavour) == [1, 2, 3]
    assert server.asked == [None, "1", "2", "3", "4"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_pages(flavour: str) -> None:
    server = Server([[1], [], [2, 3]])
    got = await pages(server, flavour)
    assert [p.items for p in got] == [[1], [], [2, 3]]
    assert [p.next_page_token for p in got] == ["1", "2", None]


async def test_lazy_and_restartable() -> None:
    server = Server([[1], [2]])
    pager = SyncPager(server.fetch)
    assert server.asked == []
    iterator = iter(pager)
    assert next(iterator) == 1
    assert server.asked == [None]
    assert list(pager) == [1, 2]
    assert server.asked == [None, None, "1"]


async def test_async_lazy() -> None:
    server = Server([[1], [2]])
    pager = AsyncPager(server.afetch)
    assert server.asked == []
    assert [i async for i in pager] == [1, 2]
    assert server.asked == [None, "1"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_repeated_token_is_an_error(flavour: str) -> None:
    def fetch(token: str | None) -> Page[int]:
        return Page([1], "same")

    async def afetch(token: str | None) -> Page[int]:
        return fetch(token)

    pager = SyncPager(fetch) if flavour == "sync" else AsyncPager(afetch)
    with pytest.raises(APIError, match="repeated page token 'same'"):
        await drain(pager)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_failure_mid_listing_propagates(flavour: str) -> None:
    seen: list[int] = []

    def fetch(token: str | None) -> Page[int]:
        if token:
            raise APIError("503 GET /x: down")
        return Page([1], "t")

    async def afetch(token: str | None) -> Page[int]:
        return fetch(token)

    pager = SyncPager(fetch) if flavour == "sync" else AsyncPager(afetch)
    with pytest.raises(APIError):
        await drain(pager, seen)
    assert seen == [1]  # the first page's items came through before the failure


@given(st.lists(st.lists(st.integers(), max_size=4), min_size=1, max_size=8))
def test_every_item_in_order_one_fetch_per_page(layout: list[list[int]]) -> None:
    server = Server(layout)
    assert list(SyncPager(server.fetch)) == [i for page in layout for i in page]
    assert len(server.asked) == len(layout)


def test_page_defaults() -> None:
    page: Page[Any] = Page([])
    assert page.next_page_token is None


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_cycle_of_tokens_is_an_error(flavour: str) -> None:
    following = {None: "A", "A": "B", "B": "A"}
    asked: list[str | None] = []

    def fetch(token: str | None) -> Page[int]:
        asked.append(token)
        return Page([len(asked)], following[token])

    async def afetch(token: str | None) -> Page[int]:
        return fetch(token)

    pager = SyncPager(fetch) if flavour == "sync" else AsyncPager(afetch)
    with pytest.raises(APIError, match="repeated page token 'A'"):
        await drain(pager)
    assert asked == [None, "A", "B"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_endless_empty_pages_with_new_tokens_stop(flavour: str) -> None:
    asked: list[str | None] = []

    def fetch(token: str | None) -> Page[int]:
        asked.append(token)
        return Page([], f"t{len(asked)}")

    async def afetch(token: str | None) -> Page[int]:
        return fetch(token)

    pager = SyncPager(fetch) if flavour == "sync" else AsyncPager(afetch)
    with pytest.raises(ProtocolError, match=f"{MAX_EMPTY_PAGES} empty pages in a row"):
        await drain(pager)
    assert len(asked) == MAX_EMPTY_PAGES


def test_a_page_with_items_resets_the_count_of_empty_ones() -> None:
    tokens = PageTokens()
    for n in range(3 * MAX_EMPTY_PAGES):
        items = [n] if n % (MAX_EMPTY_PAGES - 1) == 0 else []
        assert tokens.after(Page(items, f"t{n}")) == f"t{n}"
    assert tokens.after(Page([], None)) is None


def test_a_repeated_token_is_a_protocol_error_shown_short() -> None:
    tokens = PageTokens()
    long = "x" * 5000
    tokens.after(Page([1], long))
    with pytest.raises(ProtocolError) as info:
        tokens.after(Page([2], long))
    assert len(str(info.value)) < 200
