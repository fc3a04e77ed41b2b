"""Paging loops that end, whatever the server answers.

A listing reads page after page until the ESP says it is over. A broken or hostile server
may never say so: it may ignore the offset and send the first page for ever, hand back a
cursor it gave before, or report a total it never reaches. These loops stop with a
``ProtocolError`` when a page brings nothing new, a cursor repeats or ``MAX_PAGES`` pages have
been read, and keep the ordinary stops (a short page, the total reached, no next cursor).
Each page is decoded by the provider (``espkit.providers.payload``) before it gets here.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Generic, TypeVar

import attrs

from espkit.providers.payload import Source

T = TypeVar("T")

#: a listing that needs more pages than this is taken to be a server that never ends one
#: (100,000 pages of 100 is ten million objects, far past any real account); read at call
#: time, so a caller (or a test) can lower it
MAX_PAGES = 100_000


@attrs.frozen
class Page(Generic[T]):
    """One decoded page: its items, the total the ESP reports (if any) and the cursor of the
    next page (None: this was the last)."""

    items: Sequence[T]
    total: int | None = None
    cursor: str | None = None


def _cap(max_pages: int | None) -> int:
    return MAX_PAGES if max_pages is None else max_pages


def offset_pages(
    fetch: Callable[[int, int], Page[T]],
    limit: int,
    key: Callable[[T], Hashable],
    source: Source,
    *,
    max_pages: int | None = None,
) -> Iterator[T]:
    """Offset paging (Mailgun's skip/limit, SendGrid's limit/offset, Postmark's count/offset):
    ``fetch(limit, offset)`` returns one decoded page.

    Stops at a short page, or once the reported total is reached. Items seen on the last two
    pages (by ``key``) are dropped: a create or delete while paging shifts the list, so an
    item may come twice, but only from just before (memory stays flat however long the
    listing). A full page that brings nothing new is a server ignoring the offset and
    repeating itself: ``ProtocolError``, as is needing more than ``max_pages`` pages.
    """
    cap = _cap(max_pages)
    recent: collections.deque[Hashable] = collections.deque(maxlen=2 * max(limit, 1))
    seen: set[Hashable] = set()
    offset = 0
    for number in itertools.count(1):
        if number > cap:
            raise source.error(f"still paging after {cap} pages: the listing does not end")
        page = fetch(limit, offset)
        fresh: list[T] = []
        for item in page.items:
            mark = key(item)
            if mark in seen:
                continue
            if len(recent) == recent.maxlen:
                seen.discard(recent[0])
            recent.append(mark)
            seen.add(mark)
            fresh.append(item)
        offset += len(page.items)
        last = len(page.items) < limit or (page.total is not None and offset >= page.total)
        if not last and not fresh:
            # a full page of repeats (a short one may be a delete shifting the end back)
            raise source.error(
                f"page {number} (offset {offset - len(page.items)}) brought nothing new: the "
                "server repeats pages instead of moving on")
        yield from fresh
        if last:
            return


def cursor_pages(
    fetch: Callable[[str | None], Page[T]],
    source: Source,
    *,
    max_pages: int | None = None,
) -> Iterator[T]:
    """Cursor paging: ``fetch(None)`` reads the first page, ``fetch(cursor)`` the next, until
    a page names no next cursor. A cursor seen before (the listing would loop) or more than
    ``max_pages`` pages is a ``ProtocolError``."""
    cap = _cap(max_pages)
    # digests, not the cursors: a hostile server's cursors may be long
    used: set[bytes] = set()
    cursor: str | None = None
    for number in itertools.count(1):
        if number > cap:
            raise source.error(f"still paging after {cap} pages: the listing does not end")
        page = fetch(cursor)
        yield from page.items
        if not page.cursor:
            return
        # surrogatepass: two cursors that differ only in unpaired surrogates stay two
        digest = hashlib.blake2b(page.cursor.encode("utf-8", "surrogatepass"),
                                 digest_size=16).digest()
        if digest in used:
            raise source.error(f"page {number} named a next cursor already followed: the "
                               "listing would loop")
        used.add(digest)
        cursor = page.cursor


__all__ = ["MAX_PAGES", "Page", "cursor_pages", "offset_pages"]
