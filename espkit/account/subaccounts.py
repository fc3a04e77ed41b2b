"""``acct.subaccounts``: child accounts, one per customer typically.

Create, read, list (and map names to ids, as fleets need), enable or disable, bind to a pool.
Acting inside one is ``acct.on_behalf_of(subaccount)`` on the ``Account``.
"""

from __future__ import annotations

from collections.abc import Iterator

from espkit import validate
from espkit.account.manager import Manager, create_safely, read_back, subaccount_id
from espkit.models import Assignment, Capability, Subaccount


class Subaccounts(Manager):
    """``acct.subaccounts``: child accounts (one per customer, typically)."""

    def create(self, name: str) -> Subaccount:
        self._require(Capability.SUBACCOUNTS)
        name = validate.subaccount_name(name)
        return create_safely(
            f"create subaccount {name}",
            lambda: self._provider.create_subaccount(name),
            read_back(self._provider, lambda: next(
                (s for s in self._provider.list_subaccounts() if s.name == name), None)),
            lambda s: s.name == name,
            runner=self._runner,
        )

    def list(self) -> Iterator[Subaccount]:
        self._require(Capability.SUBACCOUNTS)
        return self._provider.list_subaccounts()

    def ids_by_name(self) -> dict[str, str]:
        """Subaccount name -> id, from one listing: what fleets (which know customers'
        subaccounts by name) need. Where an ESP lets two share a name, the later listed
        wins."""
        return {s.name: s.id for s in self.list()}

    def get(self, subaccount: str | Subaccount) -> Subaccount:
        self._require(Capability.SUBACCOUNTS)
        return self._provider.get_subaccount(subaccount_id(subaccount))

    def enable(self, subaccount: str | Subaccount) -> Subaccount:
        self._require(Capability.SUBACCOUNT_DISABLE)
        return self._provider.set_subaccount_enabled(subaccount_id(subaccount), True)

    def disable(self, subaccount: str | Subaccount) -> Subaccount:
        self._require(Capability.SUBACCOUNT_DISABLE)
        return self._provider.set_subaccount_enabled(subaccount_id(subaccount), False)

    def assign(self, subaccount: str | Subaccount, *, pool: str) -> Assignment:
        """Make everything the subaccount sends go out of ``pool`` (the binding SparkPost
        and SendGrid offer where Mailgun binds pools to domains)."""
        self._require(Capability.ASSIGN_SUBACCOUNT_POOL)
        return self._provider.assign_subaccount_pool(
            subaccount_id(subaccount), validate.pool_name(pool)
        )


__all__ = ["Subaccounts"]
