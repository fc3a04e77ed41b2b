"""``DomainIndex`` (SendGrid's name -> id table for a run): the listing is read whole before
any worker may act on what it holds. Found by a CI run under load: a worker that found its
name on page 1 deleted it while page 2 was read, SendGrid's offset paging shifted, the domain
moved back across the page boundary was missed, and the run called it absent (left undeleted)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from espkit.errors import ConflictingState
from espkit.models import Domain
from espkit.providers.domain_index import FOUND, DomainIndex
from espkit.providers.lookups import Lookups


def domain(name: str, id_: str) -> Domain:
    return Domain(name=name, provider="sendgrid", id=id_)


def index(listing: list[Domain], seen_mid_listing: list[object]) -> DomainIndex:
    owner = SimpleNamespace(name="sendgrid", lookups=Lookups())
    made: list[DomainIndex] = []

    def pages(limit: int) -> Iterator[Domain]:
        for i, d in enumerate(listing[:limit]):
            if i == 1:  # page 2 is being read: what may another worker already see?
                seen_mid_listing.append(owner.lookups.recall(FOUND, listing[0].name))
            yield d

    def find_one(name: str) -> Domain | None:
        raise AssertionError(f"asked the ESP about {name}: the listing was read whole")

    made.append(DomainIndex(owner, pages, find_one, page=1))  # type: ignore[arg-type]
    return made[0]


def test_nothing_of_the_listing_is_known_until_it_is_read_whole() -> None:
    listed = [domain("a.example", "1"), domain("b.example", "2"), domain("c.example", "3")]
    mid: list[object] = []
    ix = index(listed, mid)
    with ix.lookups.scope(size=100):
        found, kept = ix.find("c.example")
        assert (found, kept) == (listed[2], True)
        assert mid == [None]  # a.example, from page 1, was not yet usable while page 2 came
        assert ix.find("a.example") == (listed[0], True)
        assert ix.find("zzz.example") == (None, True)  # read whole: absent, no request


def test_a_name_listed_twice_with_two_ids_is_a_conflict_after_the_listing() -> None:
    listed = [domain("a.example", "1"), domain("b.example", "2"), domain("a.example", "9")]
    mid: list[object] = []
    ix = index(listed, mid)
    with ix.lookups.scope(size=100):
        assert ix.find("b.example") == (listed[1], True)
        with pytest.raises(ConflictingState, match="ids 1, 9"):
            ix.find("a.example")
