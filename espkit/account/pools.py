"""``acct.ips`` and ``acct.pools``: the account's dedicated IPs and the pools grouping them.

IPs are only read (an ESP allocates them), and warmed up: ``acct.ips.start_warmup(ip)`` puts
one on the ESP's own warmup plan, ``warmup_status`` reads where it is (a ``Warmup``),
``stop_warmup`` takes it off, ``warmups()`` reads every IP's at once. A pool's lifecycle is
create, read, list, add or remove an IP, delete. Binding a pool to a domain is
``acct.domains.assign``, to a subaccount ``acct.subaccounts.assign``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from espkit import validate
from espkit.account.manager import (
    Manager,
    check_replacement,
    create_safely,
    or_none,
    read_back,
)
from espkit.errors import ValidationError
from espkit.models import Capability, DedicatedIp, IpPool, Warmup
from espkit.providers.batch import SetsPoolIps


class Ips(Manager):
    """``acct.ips``: the account's dedicated IPs."""

    def list(self) -> Iterator[DedicatedIp]:
        self._require(Capability.DEDICATED_IPS)
        return self._provider.list_ips()

    def get(self, address: str) -> DedicatedIp:
        self._require(Capability.DEDICATED_IPS)
        return self._provider.get_ip(validate.ip_address(address))

    # -- warmup: the ESP's own plan (SendGrid's, SparkPost's auto warmup, SES's, Mailgun's) --
    def warmup_status(self, address: str) -> Warmup:
        self._require(Capability.IP_WARMUP)
        return self._provider.warmup_status(validate.ip_address(address))

    def warmups(self) -> Iterator[Warmup]:
        """Every dedicated IP's warmup, in as few requests as the ESP allows."""
        self._require(Capability.IP_WARMUP)
        return self._provider.list_warmups()

    def start_warmup(self, address: str, *, stage: int | None = None) -> Warmup:
        """Start the ESP's warmup of ``address``; ``stage`` (1-based, where the ESP lets
        you choose, as SparkPost does) is where to begin. Starting a warming IP is not an
        error: the answer is its status."""
        self._require(Capability.IP_WARMUP)
        ip = validate.ip_address(address)
        if stage is not None and (isinstance(stage, bool) or not isinstance(stage, int)
                                  or stage < 1):
            raise ValidationError("stage", stage, "must be a whole number, at least 1")
        return self._provider.start_warmup(ip, stage)

    def stop_warmup(self, address: str) -> Warmup:
        """Take ``address`` off warmup; it then sends its full volume."""
        self._require(Capability.IP_WARMUP)
        return self._provider.stop_warmup(validate.ip_address(address))


class Pools(Manager):
    """``acct.pools``: named groups of dedicated IPs."""

    def create(
        self, name: str, *, ips: Iterable[str] = (), description: str | None = None
    ) -> IpPool:
        self._require(Capability.IP_POOLS)
        name = validate.pool_name(name)
        addresses = validate.ip_addresses(ips)
        if description is not None and (not isinstance(description, str)
                                        or any(c in description for c in "\r\n\x00")):
            raise ValidationError("description", description, "must be one line")
        return create_safely(
            f"create pool {name}",
            lambda: self._provider.create_pool(name, addresses, description),
            read_back(self._provider, lambda: or_none(lambda: self._provider.get_pool(name))),
            lambda p: p.name == name and set(addresses) <= set(p.ips),
            runner=self._runner,
        )

    def list(self) -> Iterator[IpPool]:
        self._require(Capability.IP_POOLS)
        return self._provider.list_pools()

    def get(self, name: str) -> IpPool:
        self._require(Capability.IP_POOLS)
        return self._provider.get_pool(validate.pool_name(name))

    def add_ip(self, pool: str, ip: str) -> IpPool:
        """Ensure ``ip`` is in ``pool``. On ESPs where an IP is in at most one pool this
        moves it out of its current pool."""
        self._require(Capability.IP_POOLS)
        return self._provider.add_ip_to_pool(validate.pool_name(pool), validate.ip_address(ip))

    def update_ips(self, pool: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
                   ) -> IpPool:
        """Make ``add`` members of ``pool`` and ``remove`` not, in as few requests as the ESP
        allows (Mailgun: one per pool touched; elsewhere one ``add_ip``/``remove_ip`` per
        IP). As ``add_ip``, this moves an IP out of its pool on ESPs where an IP is in one
        pool only. Returns the pool as it now is."""
        self._require(Capability.IP_POOLS)
        name = validate.pool_name(pool)
        adding = validate.ip_addresses(add, "add")
        removing = validate.ip_addresses(remove, "remove")
        both = sorted(set(adding) & set(removing))
        if both:
            raise ValidationError("remove", both, "cannot be added and removed at once")
        if isinstance(self._provider, SetsPoolIps):
            return self._provider.set_pool_ips(name, adding, removing)
        if not adding and not removing:
            return self._provider.get_pool(name)
        result: IpPool | None = None
        for ip in adding:
            result = self._provider.add_ip_to_pool(name, ip)
        for ip in removing:
            result = self._provider.remove_ip_from_pool(name, ip)
        assert result is not None
        return result

    def remove_ip(self, pool: str, ip: str) -> IpPool:
        self._require(Capability.IP_POOLS)
        return self._provider.remove_ip_from_pool(
            validate.pool_name(pool), validate.ip_address(ip)
        )

    def delete(self, name: str, *, replacement: str | None = None) -> None:
        self._require(Capability.IP_POOLS)
        self._provider.delete_pool(validate.pool_name(name), check_replacement(replacement))


__all__ = ["Ips", "Pools"]
