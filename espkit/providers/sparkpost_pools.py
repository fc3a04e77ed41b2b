"""SparkPost's sending IPs and IP pools for one scope of an account. ``SparkPostProvider``
delegates its IP and pool calls here; kept apart so ``sparkpost.py`` stays the mapping of
domains, subaccounts and the provider's requests.

Sources (``../shared/specs/sparkpost``): ``ip-pools.apib`` (``/v1/ip-pools``,
``/v1/ip-pools/{id}``) and ``sending-ips.apib`` (``/v1/sending-ips``,
``PUT /v1/sending-ips/{external_ip}`` with ``ip_pool``).

Pools are keyed by an ``id`` SparkPost derives from the name; users pass the *name* (an id is
accepted too), resolved here from the pool listing, which a run (``Account.batch``) reads
once and every pool write here forgets. Every sending IP is in exactly one pool
(``default`` always exists): membership lives on the IP, so adding an IP to a pool moves it,
and removing it moves it back to ``default``. The answers are decoded by
``espkit.providers.sparkpost_decode``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from espkit import validate
from espkit.errors import AlreadyExists, NotFound, Unsupported, ValidationError
from espkit.models import DedicatedIp, IpPool
from espkit.providers import payload as pl
from espkit.providers.sparkpost_decode import _ip, _items, _named_pool, _pool

if TYPE_CHECKING:
    from espkit.providers.sparkpost import SparkPostProvider

Json = dict[str, Any]

DEFAULT_POOL = "default"


class SparkPostPools:
    """The sending IPs and IP pools of one ``SparkPostProvider`` (one scope of the account)."""

    def __init__(self, provider: SparkPostProvider) -> None:
        self.p = provider

    # -- sending IPs --------------------------------------------------------------------

    def list_ips(self) -> Iterator[DedicatedIp]:
        found = self.p._call("GET", "/sending-ips", lambda r: [  # unpaginated
            _ip(i) for i in _items(r)])
        names = self.names()
        return iter([_named_pool(ip, names) for ip in found])

    def get_ip(self, address: str) -> DedicatedIp:
        found = self.p._call("GET", f"/sending-ips/{self.p.seg(address)}",
                             lambda r: _ip(r, address))
        return _named_pool(found, self.names())

    # -- IP pools -----------------------------------------------------------------------

    def table(self) -> list[IpPool]:
        # unpaginated; in a run read once (every pool write below forgets it)
        return self.p.lookups.table("pools", lambda: self.p._call(
            "GET", "/ip-pools", lambda r: [_pool(p) for p in _items(r)]))

    def names(self) -> dict[str, str]:
        return {str(p.id): p.name for p in self.table()}

    def find(self, name: str, pools: list[IpPool] | None = None) -> IpPool:
        """The pool called ``name``, or whose id is ``name``."""
        pools = self.table() if pools is None else pools
        found = [p for p in pools if p.name == name] or [p for p in pools if p.id == name]
        if found:
            return found[0]
        raise NotFound(f"no IP pool named {name!r}", provider=self.p.name)

    def read(self, pool_id: str) -> IpPool:
        return self.p._call("GET", f"/ip-pools/{self.p.seg(pool_id)}",
                            lambda r: _pool(r, pool_id))

    def create(self, name: str, ips: tuple[str, ...], description: str | None) -> IpPool:
        if description is not None:
            raise Unsupported(self.p.name, "pool description",
                              "SparkPost pools have a name only; create it without one")
        pools = self.table()
        # SparkPost derives the id from the name; a second pool of the same name would make
        # the name ambiguous. Refuse up front.
        if any(name in (p.name, p.id) for p in pools):
            raise AlreadyExists(f"an IP pool named {name!r} already exists",
                                provider=self.p.name)
        # {"id": ...}: the id SparkPost derived is what every later call needs
        def decode(results: Any) -> tuple[str, Json]:
            results = pl.need_obj(results, "results")
            return pl.ident(results.get("id"), "id"), results

        try:
            pool_id, results = self.p._call("POST", "/ip-pools", decode, json={"name": name})
        finally:
            self.p.lookups.forget("pools")
        for ip in ips:  # membership lives on the IP: move each one in
            self.move_ip(ip, pool_id)
        return IpPool(name=name, provider=self.p.name, id=pool_id, ips=ips,
                      raw={"id": pool_id, "name": name,
                           "ips": [{"external_ip": ip} for ip in ips], **results})

    def update(
        self,
        name: str,
        *,
        new_name: str | None,
        signing_domain: str | None,
        fbl_signing_domain: str | None,
        auto_warmup_overflow_pool: str | None,
    ) -> IpPool:
        """PUT a pool's settings (``""`` removes a domain setting). The overflow pool takes a
        pool name, or ``"shared pool"`` (SparkPost's shared pool)."""
        pools = self.table()
        pool = self.find(validate.pool_name(name), pools)
        payload: Json = {"name": validate.pool_name(new_name) if new_name is not None
                         else pool.name}
        for key, value in (("signing_domain", signing_domain),
                           ("fbl_signing_domain", fbl_signing_domain)):
            if value is not None:
                payload[key] = validate.domain_name(value, key) if value else ""
        if auto_warmup_overflow_pool is not None:
            payload["auto_warmup_overflow_pool"] = (
                auto_warmup_overflow_pool if auto_warmup_overflow_pool == "shared pool"
                else str(self.find(validate.pool_name(auto_warmup_overflow_pool),
                                   pools).id))
        pool_id = str(pool.id)
        self.write("PUT", f"/ip-pools/{self.p.seg(pool_id)}", json=payload)
        return self.read(pool_id)

    def add_ip(self, pool: str, ip: str) -> IpPool:
        target = self.find(pool)
        if ip not in target.ips:
            # An IP is in exactly one pool: this moves it out of its current one.
            self.move_ip(ip, str(target.id))
        return self.read(str(target.id))

    def remove_ip(self, pool: str, ip: str) -> IpPool:
        target = self.find(pool)
        if ip not in target.ips:
            return target
        if target.id == DEFAULT_POOL:
            raise ValidationError("pool", pool, "every SparkPost IP is in exactly one pool; "
                                  "move it out of 'default' by adding it to another pool")
        self.move_ip(ip, DEFAULT_POOL)
        return self.read(str(target.id))

    def move_ip(self, ip: str, pool_id: str) -> None:
        self.write("PUT", f"/sending-ips/{self.p.seg(ip)}", json={"ip_pool": pool_id})

    def write(self, method: str, path: str, json: Json | None = None) -> None:
        """A write that changes the pools; the run's pool listing is read again after it
        (after: a read meanwhile must not keep what the write changed)."""
        try:
            self.p._call(method, path, pl.ignored, json=json)
        finally:
            self.p.lookups.forget("pools")

    def delete(self, name: str, replacement: str | None) -> None:
        """SparkPost moves a deleted pool's IPs to ``default``; with another pool's name as
        ``replacement`` they are moved there first."""
        pools = self.table()
        target = self.find(name, pools)
        if replacement not in (None, DEFAULT_POOL):
            if replacement == "shared" or pl.is_ip(replacement):
                raise ValidationError("replacement", replacement, "SparkPost moves a deleted "
                                      "pool's IPs to another pool: give a pool name")
            other = self.find(replacement, pools)
            for ip in target.ips:
                self.move_ip(ip, str(other.id))
        self.write("DELETE", f"/ip-pools/{self.p.seg(str(target.id))}")


__all__ = ["DEFAULT_POOL", "SparkPostPools"]
