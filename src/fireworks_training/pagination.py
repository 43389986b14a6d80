"""Lazy pagers over ``pageToken`` lists: ``SyncPager``, ``AsyncPager`` and their ``Page``.

Nothing is fetched until the pager is iterated. Iterate items directly or whole pages via
``.pages``; each iteration starts again from the first page. Pages may be empty while a
token is still present (keep going); the listing ends only on an empty or missing token.
"""

from __future__ import annotations

from ._async.pagination import AsyncPager
from ._paging import Page
from ._sync.pagination import SyncPager

__all__ = ["AsyncPager", "Page", "SyncPager"]
