"""SendGrid's legacy IP pools (``/v3/ips/pools``) behind the common ``IpPool`` model.
``SendGridProvider`` delegates its pool calls here; kept apart so ``sendgrid.py`` stays the
mapping of domains, IPs and the provider's requests.

Source: ``../shared/specs/sendgrid/tsg_ips_v3.yaml`` (``/v3/ips/pools``,
``/v3/ips/pools/{pool_name}``, ``/v3/ips/pools/{pool_name}/ips``).

SendGrid keys these pools by name, so a pool's ``id`` is its name. An IP may be in several
pools at once: adding one never takes it out of another (``EXCLUSIVE_POOLS = False``), and
the pool listing, which names pools only, takes their members from the IP listing (each IP
names its pools). SendGrid never binds a pool to a domain: the pool is chosen per message
(``ip_pool_name``) or per subuser (``espkit.providers.sendgrid_subusers``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from espkit.errors import AlreadyExists, NotFound, Unsupported, ValidationError
from espkit.models import IpPool
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.sendgrid import SendGridProvider

Json = dict[str, Any]


class Pools:
    """The IP pools of one ``SendGridProvider`` (one scope of the account)."""

    def __init__(self, provider: SendGridProvider) -> None:
        self.p = provider

    def create(self, name: str, ips: tuple[str, ...], description: str | None) -> IpPool:
        if description is not None:
            raise Unsupported(self.p.name, "pool description",
                              "SendGrid IP pools have only a name; create it without one")
        # SendGrid keys pools by name; check first so a taken name is a clear AlreadyExists
        # whatever the wording of SendGrid's 400.
        if self.get_or_none(name) is not None:
            raise AlreadyExists(f"an IP pool named {name!r} already exists",
                                provider=self.p.name)

        def decode(body: Any) -> Json:
            answer = pl.need_obj(body, "the answer")
            if pl.need_str(answer.get("name"), "name") != name:
                raise pl.Malformed("the answer names another pool than the one asked for")
            return answer

        body = self.p.call("POST", "/v3/ips/pools", decode, json={"name": name})
        for ip in ips:
            self._add_ip(name, ip)
        return IpPool(name=name, provider=self.p.name, id=name, ips=ips, raw=body)

    def listing(self) -> Iterator[IpPool]:
        # The pool list has names only; the members come from the IP list (each IP names
        # its pools): two requests instead of one per pool. Made now, so errors surface here.
        names = self.p.call("GET", "/v3/ips/pools", lambda b: [
            pl.need_str(p.get("name"), "name")
            for p in pl.objects(b, "the answer", required=True)])
        members: dict[str, list[str]] = {n: [] for n in names}
        if names:
            for ip in self.p.list_ips():
                for pool in ip.raw.get("pools") or []:
                    if pool in members:
                        members[pool].append(ip.address)
        return iter([IpPool(name=n, provider=self.p.name, id=n, ips=tuple(members[n]),
                            raw={"name": n}) for n in names])

    def get(self, name: str) -> IpPool:
        return self.p.call("GET", f"/v3/ips/pools/{self.p.seg(name)}",
                           lambda b: self._pool(b, name))

    def get_or_none(self, name: str) -> IpPool | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def _pool(self, raw: Any, asked: str) -> IpPool:
        raw = pl.need_obj(raw, "the answer")
        answered = pl.opt_text(raw.get("pool_name") or raw.get("name"), "pool_name")
        if answered and answered != asked:
            raise pl.Malformed("the answer names another pool than the one asked for")
        return IpPool(name=asked, provider=self.p.name, id=asked, ips=tuple(_members(raw)),
                      raw=raw)

    def add_ip(self, pool: str, ip: str) -> IpPool:
        current = self.get(pool)
        if ip in current.ips:
            return current
        # An IP may be in several pools: nothing to take it out of.
        self._add_ip(pool, ip)
        return IpPool(name=current.name, provider=self.p.name, id=current.id,
                      ips=(*current.ips, ip), raw=current.raw)

    def _add_ip(self, pool: str, ip: str) -> None:
        # "Ensure member" is safe to repeat: let the transport retry a 5xx; an
        # AlreadyExists is a retried add that had landed.
        with contextlib.suppress(AlreadyExists):
            self.p.call("POST", f"/v3/ips/pools/{self.p.seg(pool)}/ips", pl.ignored,
                        json={"ip": ip}, idempotent=True)

    def remove_ip(self, pool: str, ip: str) -> IpPool:
        current = self.get(pool)
        if ip not in current.ips:
            return current
        self.p.call("DELETE", f"/v3/ips/pools/{self.p.seg(pool)}/ips/{self.p.seg(ip)}",
                    pl.ignored)
        return IpPool(name=current.name, provider=self.p.name, id=current.id,
                      ips=tuple(i for i in current.ips if i != ip), raw=current.raw)

    def delete(self, name: str, replacement: str | None) -> None:
        if replacement is not None:
            raise ValidationError(
                "replacement", replacement, "SendGrid deletes a pool outright: no domain "
                "sends from it (messages name their pool), so there is nothing to move",
            )
        self.p.call("DELETE", f"/v3/ips/pools/{self.p.seg(name)}", pl.ignored)


def _members(pool: Json) -> list[str]:
    """A pool's IPs: strings in the spec, ``{"ip": ...}`` objects in what SendGrid sends."""
    items = pool.get("ips")
    if items is not None and not isinstance(items, list):
        raise pl.Malformed(f"ips is {pl.kind(items)}, not a list")
    return [pl.ip(item.get("ip") if isinstance(item, dict) else item, f"ips[{n}]")
            for n, item in enumerate(items or []) if item is not None]


__all__ = ["Pools"]
