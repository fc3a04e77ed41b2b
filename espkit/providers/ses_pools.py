"""Amazon SES v2's dedicated IP pools, and the configuration sets that bind them to domain
identities. ``SesProvider`` delegates its pool and assignment calls here.

* an IP is in exactly one pool, so adding it to a pool moves it; removing moves it to SES's
  default pool (``DEFAULT_POOL``).
* a pool is bound to a domain through a configuration set ``<prefix><pool>``
  (``SesProvider.config_set_name``) whose ``DeliveryOptions.SendingPoolName`` is the pool,
  made the identity's default set. An identity whose default set espkit did not make is left
  alone: that set may carry event destinations.

Inside a run (``Account.batch``, ``espkit.providers.lookups``) each pool's configuration set,
each set's pool and each identity's default set (``SETS``, which ``ses.py``'s domain calls
also keep) are read once and kept correct by espkit's writes. Kept apart from ``ses.py`` so
that module stays the calls themselves and the identities; this is the one place that knows
how SES ties pools, sets and identities together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from espkit.errors import (
    AlreadyExists,
    ConflictingState,
    EspError,
    NotFound,
    Unsupported,
    ValidationError,
)
from espkit.models import Assignment, AssignmentKind, Capability, IpPool
from espkit.providers import payload as pl
from espkit.providers.payload import is_ip, str_or_none
from espkit.providers.ses_identities import identity_config_set
from espkit.providers.ses_warmup import DEFAULT_POOL, PAGE, dedicated_ip

if TYPE_CHECKING:
    from espkit.providers.ses import SesProvider

Json = dict[str, Any]
T = TypeVar("T")

#: the run's map: identity name -> its default configuration set ("" for none)
SETS = "identity sets"


class SesPools:
    """The dedicated IP pools of one ``SesProvider`` and their binding to identities."""

    def __init__(self, provider: SesProvider) -> None:
        self.p = provider

    # -- pools ----------------------------------------------------------------------------

    def create(self, name: str, ips: tuple[str, ...], description: str | None,
               scaling_mode: str) -> IpPool:
        """Create a pool and move ``ips`` into it. ``scaling_mode="MANAGED"`` (through
        ``acct.provider``) makes SES lease and warm the pool's IPs itself; it takes no IPs.
        ``description`` is kept as a ``description`` tag (SES pools have no such field, and
        reads do not return tags)."""
        if scaling_mode not in ("STANDARD", "MANAGED"):
            raise ValidationError("scaling_mode", scaling_mode, "STANDARD or MANAGED")
        if scaling_mode == "MANAGED" and ips:
            raise ValidationError("ips", ips, "a MANAGED pool's IPs are chosen by SES")
        params: Json = {"PoolName": name, "ScalingMode": scaling_mode}
        if description:
            params["Tags"] = [{"Key": "description", "Value": description[:256]}]
        body = self.p._call("CreateDedicatedIpPool", lambda b: b, idempotent=False, **params)
        for ip in ips:
            self._move_ip(ip, name)
        return IpPool(name=name, provider=self.p.name, ips=ips, description=description,
                      raw={**body, "PoolName": name, "ScalingMode": scaling_mode})

    def listing(self) -> Iterator[IpPool]:
        members: dict[str, list[str]] | None = None
        for name in self.p._pages("ListDedicatedIpPools", "DedicatedIpPools",
                                  lambda n: pl.need_str(n, "DedicatedIpPools[]")):
            if members is None:  # one read of every IP, only once there is a pool
                members = {}
                for ip in self.p.list_ips():
                    members.setdefault(str_or_none(ip.raw.get("PoolName")) or "",
                                       []).append(ip.address)
            yield IpPool(name=name, provider=self.p.name, ips=tuple(members.get(name, ())),
                         raw={"PoolName": name})

    def get(self, name: str) -> IpPool:
        def decode(body: Json) -> Json:
            pool = pl.need_obj(body.get("DedicatedIpPool"), "DedicatedIpPool")
            if pool.get("PoolName") not in (None, name):
                raise pl.Malformed("the answer is about another pool than the one asked for")
            return pool

        body = self.p._call("GetDedicatedIpPool", decode, idempotent=True, PoolName=name)
        ips = tuple(ip.address for ip in self.p._pages("GetDedicatedIps", "DedicatedIps",
                                                       dedicated_ip, PAGE, PoolName=name))
        return IpPool(name=name, provider=self.p.name, ips=ips, raw=body)

    def add_ip(self, pool: str, ip: str) -> IpPool:
        """Move ``ip`` into ``pool`` (an SES IP is in exactly one pool)."""
        self._move_ip(ip, pool)
        return self.p.get_pool(pool)

    def remove_ip(self, pool: str, ip: str) -> IpPool:
        """Move ``ip`` back to SES's default pool (``ses-default-dedicated-pool``): a
        standard dedicated IP is always in some pool."""
        current = self.p.get_ip(ip)
        if current.pool != pool:
            return self.p.get_pool(pool)
        try:
            self._move_ip(ip, DEFAULT_POOL)
        except NotFound as exc:
            raise self._no_default_pool() from exc
        return self.p.get_pool(pool)

    def _no_default_pool(self) -> EspError:
        return Unsupported(self.p.name, "removing an IP from a pool",
                           f"this account has no {DEFAULT_POOL!r}: move the IP to another "
                           "pool with add_ip instead")

    def _move_ip(self, ip: str, pool: str) -> None:
        try:
            self.p._call("PutDedicatedIpInPool", pl.ignored, idempotent=True, Ip=ip,
                         DestinationPoolName=pool)
        finally:  # after the write: a read meanwhile must not keep the old membership
            self.p.lookups.forget("ips")

    def delete(self, name: str, replacement: str | None) -> None:
        """Delete a pool. Its IPs go back to SES's default pool, or into ``replacement``
        (another pool's name) first. ``"shared"`` means the default."""
        if replacement is not None and replacement != "shared":
            if is_ip(replacement):
                raise ValidationError("replacement", replacement,
                                      "SES takes a pool name (or 'shared'), not an IP")
            for ip in self.p.get_pool(name).ips:
                self._move_ip(ip, replacement)
        self.p._call("DeleteDedicatedIpPool", pl.ignored, idempotent=True, delete=True,
                     PoolName=name)
        self.p.lookups.forget(f"config set:{name}")

    # -- assignment: identity -> default configuration set -> SendingPoolName ---------------

    def ensure_config_set(self, pool: str) -> str:
        """The pool's configuration set, created (or pointed back at the pool) as needed."""
        name = self.p.config_set_name(pool)
        self.p._call("GetDedicatedIpPool", pl.ignored, idempotent=True,
                     PoolName=pool)  # NotFound early
        try:
            current = self._set_pool(name)[0]
        except NotFound:
            try:
                self.p._call("CreateConfigurationSet", pl.ignored, idempotent=False,
                             ConfigurationSetName=name,
                             DeliveryOptions={"SendingPoolName": pool})
            except AlreadyExists:
                pass  # made concurrently (or by an ambiguous earlier attempt)
            else:
                return name
            current = self._set_pool(name)[0]
        if current != pool:
            self.p._call("PutConfigurationSetDeliveryOptions", pl.ignored, idempotent=True,
                         ConfigurationSetName=name, SendingPoolName=pool)
            self.p.lookups.forget(f"sending pool:{name}")
        return name

    def _set_pool(self, set_name: str) -> tuple[str | None, Json]:
        """The pool a configuration set sends from, and the set: read once per run (a plan
        asks about every domain, and each domain's set is one of a few)."""
        return self.p.lookups.table(f"sending pool:{set_name}", lambda: self.p._call(
            "GetConfigurationSet", lambda b: (sending_pool(b), b), idempotent=True,
            ConfigurationSetName=set_name))

    def with_config_set(self, pool: str, action: Callable[[str], T]) -> T:
        """``action(the pool's configuration set)``, made sure of once per run. When the
        run's set draws a ``NotFound`` (deleted meanwhile) it is made sure of again, once:
        a ``NotFound`` applied nothing."""
        key = f"config set:{pool}"
        seen = self.p.lookups.read(key, lambda: self.ensure_config_set(pool))
        try:
            return action(seen.value)
        except NotFound:
            if not self.p.lookups.stale(key, seen, pool):
                raise
        return action(self.p.lookups.table(key, lambda: self.ensure_config_set(pool)))

    def _identity_set(self, domain: str) -> str | None:
        """The identity's default configuration set: this run's, or read now."""
        known = self.p.lookups.recall(SETS, domain)
        if known is None:
            known = self.p._call("GetEmailIdentity", identity_config_set, idempotent=True,
                                 EmailIdentity=domain) or ""
            self.p.lookups.remember(SETS, domain, known)
        return str(known) or None

    def assign(self, domain: str, kind: AssignmentKind, target: str) -> Assignment:
        """Send ``domain`` from pool ``target``: the pool's configuration set becomes the
        identity's default. An identity whose default set is not espkit's is left alone
        (``ConflictingState``): that set may carry event destinations."""
        if kind is AssignmentKind.IP:
            raise self.p.unsupported(Capability.ASSIGN_DOMAIN_IP)
        wanted = self.p.config_set_name(target)  # a name SES would refuse: before sending
        current = self._identity_set(domain)
        if current and current != wanted and not current.startswith(self.p.prefix):
            raise ConflictingState(
                f"{domain} already uses configuration set {current!r}; set its "
                f"SendingPoolName to {target!r} in SES instead, or clear it first",
                provider=self.p.name)

        def put(name: str) -> str:
            if current != name:
                self.p._call("PutEmailIdentityConfigurationSetAttributes", pl.ignored,
                             idempotent=True, EmailIdentity=domain, ConfigurationSetName=name)
                self.p.lookups.remember(SETS, domain, name)
            return name

        name = self.with_config_set(target, put)
        return Assignment(domain, kind, target, self.p.name,
                          raw={"ConfigurationSetName": name})

    def unassign(self, domain: str, kind: AssignmentKind, target: str,
                 replacement: str | None) -> None:
        """Stop ``domain`` sending from pool ``target``: clear its default configuration set
        (``replacement`` None or ``"shared"``), or assign pool ``replacement`` instead."""
        if kind is AssignmentKind.IP:
            raise self.p.unsupported(Capability.ASSIGN_DOMAIN_IP)
        if replacement is not None and replacement != "shared" and is_ip(replacement):
            raise ValidationError("replacement", replacement,
                                  "SES takes a pool name (or 'shared'), not an IP")
        current = self.p.list_assignments(domain)
        if not any(a.target == target for a in current):
            raise NotFound(f"{domain} does not send from IP pool {target!r}",
                           provider=self.p.name)
        set_name = str(current[0].raw.get("ConfigurationSetName", ""))
        if not set_name.startswith(self.p.prefix):
            raise ConflictingState(
                f"{domain} sends from {target!r} through configuration set {set_name!r}, "
                "which espkit did not make; change it in SES", provider=self.p.name)
        if replacement is not None and replacement != "shared":
            self.p.assign(domain, AssignmentKind.POOL, replacement)
            return
        # no ConfigurationSetName: the identity has no default set any more
        self.p._call("PutEmailIdentityConfigurationSetAttributes", pl.ignored,
                     idempotent=True, EmailIdentity=domain)
        self.p.lookups.remember(SETS, domain, "")

    def assignments(self, domain: str) -> list[Assignment]:
        set_name = self._identity_set(domain)
        if not set_name:
            return []
        pool, raw = self._set_pool(set_name)
        if not pool:
            return []
        return [Assignment(domain, AssignmentKind.POOL, pool, self.p.name,
                           raw={"ConfigurationSetName": set_name, **raw})]


def sending_pool(config: Json) -> str | None:
    """The pool a configuration set sends from (GetConfigurationSet), if any."""
    options = pl.opt_obj(config.get("DeliveryOptions"), "DeliveryOptions")
    return pl.opt_text(options.get("SendingPoolName"), "SendingPoolName") or None


__all__ = ["SETS", "SesPools", "sending_pool"]
