"""``AsyncPager``: a lazy listing over ``pageToken`` pages (docs/protocol.md §1.2).

Nothing is fetched until the pager is iterated. Iterate items directly or whole pages via
``.pages``; each iteration starts again from the first page. A server that repeats a token,
or sends empty pages with new tokens without end, stops the listing with ``ProtocolError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from .._paging import Page, PageTokens

__all__ = ["AsyncPager"]

T = TypeVar("T")


class AsyncPager(Generic[T]):
    """A lazy listing: iterate its items, or its ``.pages``."""

    def __init__(self, fetch_page: Callable[[str | None], Awaitable[Page[T]]]) -> None:
        self._fetch_page = fetch_page

    @property
    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in server order, fetched one at a time."""
        token: str | None = None
        tokens = PageTokens()
        while True:
            page = await self._fetch_page(token)
            yield page
            token = tokens.after(page)
            # Not kept while the next page is fetched: a listing holds one page, not two.
            del page
            if token is None:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages:
            items = page.items
            del page  # the items alone, and not while the next page is fetched (see pages)
            for item in items:
                yield item
            del items

    async def _collect(self) -> list[T]:
        """Every item of every page in one list, gathered page by page."""
        items: list[T] = []
        async for page in self.pages:
            items += page.items
        return items
