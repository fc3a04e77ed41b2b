"""The paging loops' limits on both sides: ``max_pages`` as given, the two-page memory of a
one-item page, and the message that names a repeating page. Written from mutation testing
(scripts/mutation.py)."""

from __future__ import annotations

import pytest

from espkit.errors import ProtocolError
from espkit.providers.paging import Page, cursor_pages, offset_pages
from espkit.providers.payload import Source

SOURCE = Source("test", "GET", "https://esp.example/list")


def pages(*contents: list[str]) -> tuple[list[int], object]:
    """An offset fetch that answers these pages in turn (whatever the offset), counting."""
    asked = [0]

    def fetch(limit: int, offset: int) -> Page[str]:
        asked[0] += 1
        return Page(contents[asked[0] - 1] if asked[0] <= len(contents) else [])

    return asked, fetch


def test_max_pages_given_is_the_cap() -> None:
    asked, fetch = pages(*([str(n)] for n in range(10)))
    with pytest.raises(ProtocolError) as info:
        list(offset_pages(fetch, 1, str, SOURCE, max_pages=3))  # type: ignore[arg-type]
    assert asked[0] == 3
    assert "still paging after 3 pages: the listing does not end" in str(info.value)
    asked, fetch = pages(["a"], ["b"], ["c"])
    assert list(offset_pages(fetch, 1, str, SOURCE, max_pages=4)) == ["a", "b", "c"]  # type: ignore[arg-type]
    assert asked[0] == 4


def test_one_item_pages_remember_the_last_two_items_only() -> None:
    # "a" comes back three pages later: by then it is forgotten, so it is new again
    asked, fetch = pages(["a"], ["b"], ["c"], ["a"])
    assert list(offset_pages(fetch, 1, str, SOURCE)) == ["a", "b", "c", "a"]  # type: ignore[arg-type]
    assert asked[0] == 5
    # two pages later it is still remembered: a full page of nothing new
    asked, fetch = pages(["a"], ["b"], ["a"])
    with pytest.raises(ProtocolError):
        list(offset_pages(fetch, 1, str, SOURCE))  # type: ignore[arg-type]


def test_a_repeating_page_is_named_with_its_offset() -> None:
    _, fetch = pages(["a", "b"], ["a", "b"])
    with pytest.raises(ProtocolError) as info:
        list(offset_pages(fetch, 2, str, SOURCE))  # type: ignore[arg-type]
    assert ("page 2 (offset 2) brought nothing new: the server repeats pages instead of "
            "moving on") in str(info.value)


def test_cursor_max_pages_given_is_the_cap() -> None:
    asked = [0]

    def fetch(cursor: str | None) -> Page[int]:
        asked[0] += 1
        return Page([asked[0]], cursor=f"c{asked[0]}")

    with pytest.raises(ProtocolError) as info:
        list(cursor_pages(fetch, SOURCE, max_pages=2))
    assert asked[0] == 2
    assert "still paging after 2 pages" in str(info.value)


def cursors(*given: str | None) -> object:
    answers = list(given)

    def fetch(cursor: str | None) -> Page[str]:
        return Page([f"after {cursor}"], cursor=answers.pop(0))

    return fetch


def test_a_repeated_cursor_is_named() -> None:
    with pytest.raises(ProtocolError) as info:
        list(cursor_pages(cursors("c1", "c2", "c1"), SOURCE))  # type: ignore[arg-type]
    assert ("page 3 named a next cursor already followed: the listing would loop"
            in str(info.value))


def test_a_cursor_that_is_not_valid_unicode_is_still_followed() -> None:
    # JSON can carry a lone surrogate ("\udc80"): remembering it must not raise. (Two such
    # cursors differing only there are taken for one: reported, not pinned here.)
    items = list(cursor_pages(cursors("\udc80", None), SOURCE))  # type: ignore[arg-type]
    assert items == ["after None", "after \udc80"]


def test_cursors_differing_only_in_unpaired_surrogates_are_two_cursors() -> None:
    """Encoded with "replace" both became "?": a false loop. Each page is read once."""
    got = list(cursor_pages(cursors("a\ud800", "a\udfff", None), SOURCE))  # type: ignore[arg-type]
    assert got == ["after None", "after a\ud800", "after a\udfff"]
