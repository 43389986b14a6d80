"""What both pagers share and that does no I/O: a page, and when a listing ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import ProtocolError

__all__ = ["MAX_EMPTY_PAGES", "Page", "PageTokens"]

T = TypeVar("T")

# Empty pages that carry a next token are allowed (a server may scan and find nothing on
# a page), but not without end: this many in a row stops the listing.
MAX_EMPTY_PAGES = 32


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


@dataclass
class PageTokens:
    """The page tokens of one listing: when it ends, and when the server would never end it.

    A server that leads back to a token it already sent (A, B, A...) would make the listing go
    on forever, as would :data:`MAX_EMPTY_PAGES` empty pages in a row, each with a new token:
    both are a ``ProtocolError``. Loops are found in constant memory however long the listing
    (Brent's cycle detection): one token is kept, replaced after 1, 2, 4, 8... pages, and a
    loop is caught when the kept token comes round again. A loop that starts after ``m`` pages
    and repeats every ``n`` is caught within about ``2 * max(m, n) + n`` pages; a token sent
    twice in a row (the commonest server bug) at once.
    """

    saved: str | None = None
    last: str | None = None
    # Pages since ``saved`` was taken, and how many pages it is kept for.
    since_saved: int = 0
    keep_for: int = 1
    empty_in_a_row: int = 0

    def after(self, page: Page[T]) -> str | None:
        """The token of the next request; None ends the listing."""
        following = page.next_page_token or None
        if following is None:
            return None
        if following == self.saved or following == self.last:
            raise ProtocolError(
                f"the server repeated page token {following[:80]!r}; stopping the listing"
            )
        self.last = following
        self.since_saved += 1
        if self.since_saved == self.keep_for:
            self.saved, self.since_saved, self.keep_for = following, 0, 2 * self.keep_for
        self.empty_in_a_row = 0 if page.items else self.empty_in_a_row + 1
        if self.empty_in_a_row >= MAX_EMPTY_PAGES:
            raise ProtocolError(
                f"the server sent {self.empty_in_a_row} empty pages in a row, each with a new "
                "page token; stopping the listing"
            )
        return following
