"""Lazy pagers over ``pageToken`` lists.

Nothing is fetched until the pager is iterated. Iterate items directly or whole pages via
``.pages``; each iteration starts again from the first page. Pages may be empty while a
token is still present (keep going); the listing ends only on an empty or missing token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import APIError

__all__ = ["AsyncPager", "Page", "SyncPager"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


def _next_token(page: Page[T], seen: set[str]) -> str | None:
    """The token of the next request; None ends the listing.

    A token seen before (A, B, A...) would make the listing go round forever.
    """
    following = page.next_page_token or None
    if following is not None:
        if following in seen:
            raise APIError(f"the server repeated page token {following!r}; stopping the listing")
        seen.add(following)
    return following


class SyncPager(Generic[T]):
    """A lazy listing: ``for item in pager`` or ``for page in pager.pages``."""

    def __init__(self, fetch_page: Callable[[str | None], Page[T]]) -> None:
        self._fetch_page = fetch_page

    @property
    def pages(self) -> Iterator[Page[T]]:
        """Every page in server order, fetched one at a time."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._fetch_page(token)
            yield page
            token = _next_token(page, seen)
            if token is None:
                return

    def __iter__(self) -> Iterator[T]:
        for page in self.pages:
            yield from page.items


class AsyncPager(Generic[T]):
    """A lazy listing: ``async for item in pager`` or ``async for page in pager.pages``."""

    def __init__(self, fetch_page: Callable[[str | None], Awaitable[Page[T]]]) -> None:
        self._fetch_page = fetch_page

    @property
    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in server order, fetched one at a time."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self._fetch_page(token)
            yield page
            token = _next_token(page, seen)
            if token is None:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages:
            for item in page.items:
                yield item
