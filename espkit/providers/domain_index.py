"""Domains found by name where the ESP keys them by id (SendGrid), for one run.

Outside a run (``Account.batch``) every ``find`` asks the ESP (the provider's ``find_one``:
SendGrid's ``domain=`` search). Inside one, ``DomainIndex`` keeps what the run learnt:
every domain a create, read or listing answered with, and, when the run is large enough for
it to pay, the whole listing, read once for every item (``LISTING``). Then a name absent
from a listing read whole is absent without a request, which is what a create's duplicate
check needs.

Whether the listing pays is not known in advance (SendGrid's listing reports no total): it
is read a page at a time, at most one page for every ``ITEMS_PER_PAGE`` items of the run
(its size hint); a listing longer than that is left, the domains it brought are kept, and
the other names are looked up one at a time. So a run never spends more than one request
per ``ITEMS_PER_PAGE`` items on a listing it then does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from espkit.errors import ConflictingState, NotFound
from espkit.models import Domain
from espkit.providers.lookups import Lookups

if TYPE_CHECKING:
    from espkit.providers.base import Provider

T = TypeVar("T")

#: the listing is read only while it costs at most one page per this many items of the run
ITEMS_PER_PAGE = 10
FOUND = "domains by name"
#: what the run knows of a name that is not (or no longer) there
ABSENT = object()
LISTING = "domain listing"


class DomainIndex:
    """Name -> domain for one provider instance. ``listing(limit)`` yields the account's
    domains, at most ``limit`` of them (reading only the pages that takes); ``find_one(name)``
    asks the ESP about one name (None: absent; ``ConflictingState``: ambiguous); ``page``: the
    listing's page size."""

    def __init__(self, owner: Provider, listing: Callable[[int], Iterable[Domain]],
                 find_one: Callable[[str], Domain | None], page: int) -> None:
        self.owner = owner
        self.provider = owner.name
        self._listing = listing
        self._find_one = find_one
        self.page = page

    @property
    def lookups(self) -> Lookups:
        return self.owner.lookups

    def keep(self, domain: Domain) -> Domain:
        """Remember ``domain`` (an answer about it) for the run."""
        self.lookups.remember(FOUND, domain.name, domain)
        return domain

    def drop(self, name: str) -> None:
        """``name`` was deleted."""
        self.lookups.remember(FOUND, name, ABSENT)

    def find(self, name: str) -> tuple[Domain | None, bool]:
        """The domain called ``name`` (None: there is none) and whether the run knew it
        (True) or the ESP was asked now (False)."""
        lookups = self.lookups
        if lookups.active and not lookups.afresh:
            known = lookups.recall(FOUND, name)
            if known is None and (lookups.size or 0) > 1 and lookups.table(LISTING, self._read):
                # read whole: a name it lacks is absent
                known = lookups.recall(FOUND, name) or ABSENT
            if isinstance(known, ConflictingState):
                raise known
            if known is ABSENT:
                return None, True
            if isinstance(known, Domain):
                return known, True
        found = self._find_one(name)
        self.lookups.remember(FOUND, name, ABSENT if found is None else found)
        return found, False

    def need(self, name: str) -> tuple[Domain, bool]:
        """``find``, or ``NotFound`` when there is no such domain."""
        found, kept = self.find(name)
        if found is None:
            raise NotFound(f"no authenticated domain {name}", provider=self.provider)
        return found, kept

    def with_domain(self, name: str, action: Callable[[Domain], T]) -> T:
        """``action(the domain called name)``; when the domain came from the run and the ESP
        answers ``NotFound`` (its id went stale: deleted, perhaps made again, elsewhere), it
        is looked up afresh once and ``action`` tried once more."""
        domain, kept = self.need(name)
        try:
            return action(domain)
        except NotFound:
            if not kept:
                raise
        with self.lookups.fresh():
            domain, _ = self.need(name)
        return action(domain)

    def _read(self) -> bool:
        """The account's listing, into the run: True when it was read whole, within one
        page per ``ITEMS_PER_PAGE`` items of the run."""
        budget = max(1, (self.lookups.size or 0) // ITEMS_PER_PAGE) * self.page
        seen: dict[str, Domain] = {}
        doubled: dict[str, ConflictingState] = {}
        count = 0
        for domain in self._listing(budget):
            count += 1
            if domain.name in seen and seen[domain.name].id != domain.id:
                ids = f"{seen[domain.name].id}, {domain.id}"
                doubled[domain.name] = ConflictingState(
                    f"{domain.name} is authenticated more than once (ids {ids}); delete the "
                    "extra ones so the name identifies one", provider=self.provider)
                continue
            seen[domain.name] = domain
        # Kept only once the listing is read: a worker that found its name on page 1 and
        # deleted it while page 2 was read would shift SendGrid's offset paging, and a
        # domain moved back across the page boundary would be missed, then called absent
        # (and left undeleted) by every worker trusting the listing.
        for domain in seen.values():
            self.keep(domain)
        for name, conflict in doubled.items():
            self.lookups.remember(FOUND, name, conflict)
        return count < budget

    def listed(self, domains: Iterator[Domain]) -> Iterator[Domain]:
        """``domains`` (the whole listing, as ``list_domains`` yields it), each kept for the
        run; once it has been read to the end, the run knows every domain."""
        if not self.lookups.active:
            yield from domains
            return
        for domain in domains:
            yield self.keep(domain)
        self.lookups.table(LISTING, lambda: True)


__all__ = ["ITEMS_PER_PAGE", "DomainIndex"]
