"""What both pagers share and that does no I/O: a page, and when a listing ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import APIError

__all__ = ["Page", "next_token"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


def next_token(page: Page[T], seen: set[str]) -> str | None:
    """The token of the next request; None ends the listing.

    A token seen before (A, B, A...) would make the listing go round forever.
    """
    following = page.next_page_token or None
    if following is not None:
        if following in seen:
            raise APIError(f"the server repeated page token {following!r}; stopping the listing")
        seen.add(following)
    return following
