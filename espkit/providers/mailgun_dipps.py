"""Mailgun's DIPPs (dedicated IP pools) for one scope of an account: the pools, their IPs and
the domains linked to them. ``MailgunProvider`` delegates its pool calls here.

Mailgun keys a DIPP by an opaque ``pool_id`` and links a domain to it by the domain's *id*,
while users name both. Inside a run (``Account.batch``, ``espkit.providers.lookups``) the
pool listing, each pool's details (its linked domains) and domain ids are read once and kept
correct by the writes made here; an id Mailgun no longer knows makes them be read again
once. Outside a run every call reads afresh, as before. In a run:

* a create with a pool sends ``pool_id`` from the run's listing: one request per domain;
* assigning a pool skips the PATCH for a domain already linked, and takes the domain id from
  this run's creates, reads or listing. The listing (1000 a page) is read on only while the
  pages its first page says are left are fewer than the run's items (its size hint);
  otherwise ids are read a domain at a time;
* ``link_domains`` links ``LINK_BATCH`` domains per ``PATCH`` (``link_domain`` x n) and
  ``set_ips`` moves many IPs per ``PATCH``: the fleet applier uses both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from espkit.errors import (
    AlreadyExists,
    AuthError,
    ConflictingState,
    EspError,
    NotFound,
    Rejected,
    ValidationError,
)
from espkit.models import Assignment, AssignmentKind, Domain, IpPool
from espkit.providers import payload as pl
from espkit.providers.lookups import Seen

if TYPE_CHECKING:
    from espkit.providers.mailgun import MailgunProvider

Json = dict[str, Any]
Form = list[tuple[str, str]]
T = TypeVar("T")

#: how many domains one ``PATCH /v3/ip_pools/{id}`` links (``link_domain`` x n). Mailgun
#: documents no limit; 100 ids keep the form under 4 KB
LINK_BATCH = 100
#: ``GET /v4/domains`` pages of this many when reading domain ids (Mailgun's maximum)
ID_PAGE = 1000
POOLS = "pools"
IDS = "domain ids"
LISTING = "domain listing"


def _details_key(pool_id: str) -> str:
    return f"details:{pool_id}"


class Dipps:
    """The DIPPs of one ``MailgunProvider`` (one scope of the account)."""

    name = "mailgun"  # the provider errors name

    def __init__(self, provider: MailgunProvider) -> None:
        self.p = provider

    # -- the pool listing --------------------------------------------------------------------

    def _read_pools(self) -> list[IpPool]:
        def decode(body: Any) -> list[IpPool]:
            body = pl.need_obj(body, "the answer")
            if "ip_pools" not in body:
                raise pl.Malformed("the answer has no 'ip_pools' list")
            return [self.pool(p) for p in pl.objects(body["ip_pools"], "ip_pools")]

        return self.p.call("GET", "/v3/ip_pools", decode)  # unpaginated

    def _seen(self) -> Seen[list[IpPool]]:
        return self.p.lookups.read(POOLS, self._read_pools)

    def pools(self) -> list[IpPool]:  # read now, or the run's listing
        return self._seen().value

    def pools_if_enabled(self) -> list[IpPool]:
        """The DIPPs, or none when the account lacks the DIPPs feature (a 403), so that
        listing IPs or a domain's assignments does not fail for want of it."""
        try:
            return self.pools()
        except AuthError as exc:
            if exc.status != 403:  # 401 (bad key) and RegionMismatch still surface
                raise
            return []

    def find(self, name: str) -> IpPool:
        """The DIPP called ``name``. A name the run's listing lacks makes it be read again
        once: the pool may be newer than the listing."""
        return self._found(self._seen(), name)[0]

    def _found(self, seen: Seen[list[IpPool]], name: str) -> tuple[IpPool, Seen[list[IpPool]]]:
        try:
            return self._pick(seen.value, name), seen
        except NotFound:
            if not self.p.lookups.stale(POOLS, seen, name):
                raise
        seen = self._seen()
        return self._pick(seen.value, name), seen

    def _with_all(self, name: str) -> tuple[IpPool, list[IpPool]]:
        """The DIPP called ``name`` (as ``find``) and the listing it was found in."""
        pool, seen = self._found(self._seen(), name)
        return pool, seen.value

    def _pick(self, pools: list[IpPool], name: str) -> IpPool:
        """Mailgun does not keep names unique, and allows names espkit will not take
        (spaces), so a pool_id is accepted as well."""
        found = [p for p in pools if p.name == name] or [p for p in pools if p.id == name]
        if not found:
            raise NotFound(f"no IP pool named {name!r}", provider=self.name)
        if len(found) > 1:
            ids = ", ".join(str(p.id) for p in found)
            raise ConflictingState(
                f"{len(found)} IP pools are named {name!r} (pool ids {ids}); "
                "rename one or pass a pool id", provider=self.name,
            )
        return found[0]

    def with_pool(self, name: str, action: Callable[[IpPool], T]) -> T:
        """``action(the DIPP called name)``. When the pool came from the run's listing and
        Mailgun says its id is unknown (it went stale: deleted and re-made elsewhere), the
        listing is read again once and ``action`` tried once more: such a refusal applied
        nothing, so this is safe for creates too."""
        pool, seen = self._found(self._seen(), name)
        try:
            return action(pool)
        except (NotFound, Rejected) as exc:
            if not _stale_pool(exc) or not self.p.lookups.stale(POOLS, seen, name):
                raise
        return action(self.find(name))

    def pool(self, raw: Json, known_id: str | None = None) -> IpPool:
        """A DIPP from a list item or a details answer (``known_id``: the pool asked for)."""
        pool_id = pl.opt_ident(raw.get("pool_id"), "pool_id")
        if known_id is not None and pool_id not in (None, known_id):
            raise pl.Malformed("the answer is about another pool than the one asked for")
        pool_id = pool_id or known_id
        if pool_id is None:
            raise pl.Malformed("a pool has no pool_id")
        return IpPool(
            name=pl.opt_text(raw.get("name"), "pool name") or pool_id,
            provider=self.name,
            id=pool_id,
            ips=tuple(pl.ips(raw.get("ips"), "pool ips")),
            description=pl.str_or_none(raw.get("description")),
            raw=raw,
        )

    def _replace(self, pool: IpPool | None, drop: str | None = None) -> None:
        """Keep the run's listing true after a write: ``pool`` replaces the one with its
        id (or joins), ``drop`` (a pool id) leaves."""
        def change(pools: list[IpPool]) -> list[IpPool]:
            gone = {drop, None if pool is None else pool.id}
            return [p for p in pools if p.id not in gone] + ([pool] if pool else [])
        self.p.lookups.edit(POOLS, change)

    # -- details: the domains linked to a pool -----------------------------------------------

    def _read_details(self, pool_id: str) -> tuple[IpPool, set[str]]:
        def decode(body: Any) -> tuple[IpPool, set[str]]:
            details = pl.need_obj(pl.need_obj(body, "the answer").get("details"), "details")
            # The spec's example says linked_domains; its prose says linked_domain.
            key = "linked_domains" if "linked_domains" in details else "linked_domain"
            linked = {pl.domain(n, key) for n in pl.strings(details.get(key), key)}
            return self.pool(details, pool_id), linked

        return self.p.call("GET", f"/v3/ip_pools/{self.p.seg(pool_id)}", decode)

    def details(self, pool_id: str) -> tuple[IpPool, set[str]]:
        """A DIPP as its details answer has it, and the domains linked to it (the set is
        the run's: take what you need from it at once)."""
        return self.p.lookups.table(_details_key(pool_id),
                                    lambda: self._read_details(pool_id))

    def _linked(self, domain: str, pool_id: str | None) -> None:
        """``domain`` now sends from DIPP ``pool_id`` (None: from none): keep the run's
        details and listing true. A domain is linked to one DIPP at a time."""
        lookups = self.p.lookups
        for p in lookups.peek(POOLS) or ():
            if p.id != pool_id:
                lookups.edit(_details_key(str(p.id)), _with(domain, linked=False))
        if pool_id is None:
            return
        lookups.edit(_details_key(pool_id), _with(domain))

        def flag(pools: list[IpPool]) -> list[IpPool]:
            return [_flagged(p) if p.id == pool_id else p for p in pools]
        lookups.edit(POOLS, flag)

    # -- domain ids ------------------------------------------------------------------------

    def remember(self, domain: Domain) -> None:
        """Keep a domain's id for the run (from a create, read or verify answer)."""
        if domain.id is not None:
            self.p.lookups.remember(IDS, domain.name, domain.id)

    def forget(self, name: str) -> None:
        """A domain was deleted: its id and links are gone."""
        self.p.lookups.drop(IDS, name)
        self._linked(name, None)

    def domain_id(self, name: str) -> tuple[str, bool]:
        """The domain's id and whether it came from the run (this run's creates, reads or
        listing) rather than a read made now."""
        lookups = self.p.lookups
        known = lookups.recall(IDS, name)
        if known is None and (lookups.size or 0) > 1 and not lookups.afresh:
            lookups.table(LISTING, self._read_ids)
            known = lookups.recall(IDS, name)
        if known is not None:
            return str(known), True
        found = self.p.get_domain(name)  # remembers the id
        if found.id is None:
            raise NotFound(f"Mailgun returned no id for domain {name}", provider=self.name)
        return found.id, False

    def _read_ids(self) -> bool:
        """Domain ids from ``GET /v4/domains`` while that costs fewer requests than a read
        per item of the run: the first page's total says how many pages are left, and they
        are read only if fewer than the run's items. True when the listing was read whole."""
        size = self.p.lookups.size or 0

        def decode(body: Any) -> tuple[list[tuple[str, str | None]], int | None]:
            body = pl.need_obj(body, "the answer")
            if "items" not in body:
                raise pl.Malformed("the answer has no 'items' list")
            items = [(pl.domain(i.get("name"), "items[].name"),
                      pl.opt_ident(i.get("id"), "items[].id"))
                     for i in pl.objects(body["items"], "items")]
            return items, pl.opt_whole(body.get("total_count"), "total_count")

        skip = pages = 0
        while True:
            items, total = self.p.call("GET", "/v4/domains", decode,
                                       params=[("limit", ID_PAGE), ("skip", skip)])
            pages += 1
            for domain, ident in items:
                if ident is not None:
                    self.p.lookups.remember(IDS, domain, ident)
            skip += len(items)
            if len(items) < ID_PAGE or (total is not None and skip >= total):
                return True
            left = None if total is None else -(-(total - skip) // ID_PAGE)
            if left is None or left >= size - pages:
                return False  # reading on costs as much as the reads it would save

    # -- pool lifecycle --------------------------------------------------------------------

    def create(self, name: str, ips: tuple[str, ...], description: str | None) -> IpPool:
        # Mailgun would happily create a second pool with the same name, which would make the
        # name (espkit's key) ambiguous; refuse up front (against the run's listing, in one).
        if any(p.name == name for p in self.pools()):
            raise AlreadyExists(f"an IP pool named {name!r} already exists", provider=self.name)
        # The spec marks description as required; an empty one is what "none" means.
        form: Form = [("name", name), ("description", description or "")]
        form += [("ip", address) for address in ips]

        def decode(body: Any) -> IpPool:
            body = pl.need_obj(body, "the answer")  # {"message", "pool_id"}: the id matters
            return IpPool(name=name, provider=self.name,
                          id=pl.ident(body.get("pool_id"), "pool_id"),
                          ips=ips, description=description, raw=body)

        made = self.p.call("POST", "/v3/ip_pools", decode, data=form)
        self._moved(made, ips)
        self._replace(made)
        return made

    def get(self, name: str) -> IpPool:
        return self.details(self.find(name).id or "")[0]

    def set_ips(self, pool: str, add: Sequence[str] = (), remove: Sequence[str] = ()
                ) -> IpPool:
        """Make ``add`` members of ``pool`` and ``remove`` not, in one ``PATCH`` per pool
        touched: each other pool holding some of ``add`` loses them first (an IP is in at
        most one DIPP), then ``pool`` gains and loses its IPs together."""
        target, pools = self._with_all(pool)
        adding = [ip for ip in dict.fromkeys(add) if ip not in target.ips]
        removing = [ip for ip in dict.fromkeys(remove) if ip in target.ips and ip not in add]
        for other in pools:
            moving = [ip for ip in adding if ip in other.ips]
            if other is not target and moving:
                self.patch(other, [("remove_ip", ip) for ip in moving])
                self._replace(_with_ips(other, tuple(i for i in other.ips if i not in moving)))
        if not adding and not removing:
            return target  # Mailgun refuses a PATCH that changes nothing
        self.patch(target, [("add_ip", ip) for ip in adding]
                   + [("remove_ip", ip) for ip in removing])
        # PATCH answers only {"message"}; the membership is what we just set.
        updated = _with_ips(target, tuple(i for i in (*target.ips, *adding)
                                          if i not in removing))
        self._replace(updated)
        return updated

    def _moved(self, target: IpPool, ips: Iterable[str]) -> None:
        """``ips`` joined ``target``: the run's listing drops them from other pools."""
        moved = set(ips)
        for other in self.p.lookups.peek(POOLS) or ():
            if other.id != target.id and moved & set(other.ips):
                self._replace(_with_ips(other, tuple(i for i in other.ips if i not in moved)))

    def patch(self, pool: IpPool, form: Form) -> None:
        self.p.call("PATCH", f"/v3/ip_pools/{self.p.seg(pool.id or '')}", pl.ignored,
                    data=form)

    def delete(self, name: str, replacement: str | None) -> None:
        target, pools = self._with_all(name)
        if replacement is None and target.ips:
            raise ValidationError(
                "replacement", None, "Mailgun deletes a pool that still has IPs only with a "
                "replacement for its domains: an IP, another pool's name, or 'shared'",
            )
        params = self.replacement(replacement, pools)
        self.p.call("DELETE", f"/v3/ip_pools/{self.p.seg(target.id or '')}", pl.ignored,
                    params=params)
        self._replace(None, drop=target.id)
        self.p.lookups.forget(_details_key(str(target.id)))
        # its domains were relinked by Mailgun: what they send from now is not known here
        for other in pools:
            self.p.lookups.forget(_details_key(str(other.id)))

    def replacement(self, replacement: str | None, pools: list[IpPool]) -> list[tuple[str, str]]:
        """Mailgun's replacement query: ``ip=<ip|shared>`` or ``pool_id=<id>``, never both."""
        if replacement is None:
            return []
        if replacement == "shared" or pl.is_ip(replacement):
            return [("ip", replacement)]
        return [("pool_id", self._pick(pools, replacement).id or "")]

    # -- linking domains -------------------------------------------------------------------

    def create_in(self, pool: str, create: Callable[[str], Domain]) -> Domain:
        """``create(pool_id)``: a domain created linked to DIPP ``pool`` (Mailgun's
        ``pool_id`` on create), which the run then knows is linked."""
        made = self.with_pool(pool, lambda p: (create(p.id or ""), p))
        domain, target = made
        self._linked(domain.name, target.id)
        return domain

    def assign(self, domain: str, target: str) -> Assignment:
        """Link ``domain`` to DIPP ``target`` (``PATCH link_domain=<domain id>``), skipped
        when it already is: Mailgun refuses a PATCH that changes nothing, and re-runs must
        work."""
        def link(pool: IpPool) -> Assignment | NotFound:
            key = _details_key(pool.id or "")
            seen = self.p.lookups.read(key, lambda: self._read_details(pool.id or ""))
            details, linked = seen.value
            if domain not in linked:
                try:
                    ident = self.domain_id(domain)
                except NotFound as exc:
                    return exc  # the domain is what is missing, not the pool: no re-read
                failed = self._link(pool, {domain: ident}).get(domain)
                if isinstance(failed, Rejected) and not seen.fresh:
                    # "nothing to change": linked since the run read the pool? read again
                    self.p.lookups.forget(key)
                    details, linked = self.details(pool.id or "")
                    failed = None if domain in linked else failed
                if failed is not None:
                    raise failed
            return Assignment(domain, AssignmentKind.POOL, pool.name, self.name,
                              raw=details.raw)

        done = self.with_pool(target, link)
        if isinstance(done, NotFound):
            raise done
        return done

    def link_domains(self, pool: str, domains: Sequence[str]) -> dict[str, EspError | None]:
        """Link every domain of ``domains`` to DIPP ``pool``, ``LINK_BATCH`` per request;
        what happened to each (None: linked, or was already). A failed batch leaves its
        domains to be linked one by one (``assign``), each with its own error."""
        target = self.find(pool)
        _, linked = self.details(target.id or "")
        out: dict[str, EspError | None] = {d: None for d in domains if d in linked}
        ids: dict[str, tuple[str, bool]] = {}
        for name in dict.fromkeys(domains):
            if name not in out:
                try:
                    ids[name] = self.domain_id(name)
                except EspError as exc:
                    out[name] = exc
        out.update(self._link(target, ids))
        return out

    def _link(self, pool: IpPool, ids: dict[str, tuple[str, bool]]
              ) -> dict[str, EspError | None]:
        """PATCH ``link_domain`` for each (name -> (id, from the run)), ``LINK_BATCH`` at a
        time. A ``NotFound`` says the pool (or an id the run kept) went stale: the ids are
        dropped, and for one domain it is raised so that ``with_pool`` reads both again."""
        out: dict[str, EspError | None] = {}
        names = list(ids)
        for start in range(0, len(names), LINK_BATCH):
            chunk = names[start:start + LINK_BATCH]
            try:
                self.patch(pool, [("link_domain", ids[n][0]) for n in chunk])
            except NotFound as exc:
                for n in chunk:
                    self.p.lookups.drop(IDS, n)
                if len(chunk) == 1:
                    raise
                out.update(dict.fromkeys(chunk, exc))  # each is tried alone later
                continue
            except EspError as exc:
                if exc.maybe_applied:  # some may be linked: the next look reads afresh
                    self.p.lookups.forget(_details_key(str(pool.id)))
                out.update(dict.fromkeys(chunk, exc))
                continue
            for name in chunk:
                self._linked(name, pool.id)
                out[name] = None
        return out

    def unassign(self, domain: str, target: str, replacement: str) -> None:
        """Unlink ``domain`` from ``target`` with ``DELETE .../ips/ip_pool`` and a
        replacement rather than PATCH unlink_domain, because only the former lets us say
        what the domain sends from next (the spec requires ip=<ip|shared> or pool_id=);
        Mailgun relinks it in one step."""
        pool, pools = self._with_all(target)
        # The call unlinks whatever pool is linked; make sure it is the one we were asked to.
        if domain not in self.details(pool.id or "")[1]:
            raise NotFound(f"{domain} is not linked to IP pool {target!r}", provider=self.name)
        params = self.replacement(replacement, pools)
        self.p.call("DELETE", f"/v3/domains/{self.p.seg(domain)}/ips/ip_pool", pl.ignored,
                    params=params)
        self._linked(domain, dict(params).get("pool_id"))

    def pool_of(self, domain: str) -> tuple[IpPool, Mapping[str, Any]] | None:
        """The DIPP ``domain`` is linked to (the domain object does not say; the linked
        pools' details do), with its details answer."""
        for pool in self.pools_if_enabled():
            if pool.raw.get("is_linked"):
                details, linked = self.details(pool.id or "")
                if domain in linked:
                    return pool, details.raw
        return None

    def links(self) -> dict[str, str]:
        """Domain name -> the DIPP it is linked to: one list of DIPPs plus one detail read
        per linked DIPP, for the whole account."""
        links: dict[str, str] = {}
        for pool in self.pools_if_enabled():
            if pl.opt_bool(pool.raw.get("is_linked")):
                for name in sorted(self.details(pool.id or "")[1]):
                    links.setdefault(name, pool.name)
        return links

    def pool_of_ips(self) -> dict[str, str]:
        """IP -> the name of the DIPP it is in."""
        return {member: p.name for p in self.pools_if_enabled() for member in p.ips}


def _stale_pool(exc: EspError) -> bool:
    """Whether a refusal may mean a pool id is unknown: a 404 on a pool call, or a 400 about
    a pool (what a create answers for a ``pool_id`` it does not know: "a 400 will be
    returned" when the request cannot be fulfilled, says the spec)."""
    return isinstance(exc, NotFound) or (isinstance(exc, Rejected)
                                         and "pool" in exc.message.lower())


def _with_ips(pool: IpPool, members: tuple[str, ...]) -> IpPool:
    return IpPool(name=pool.name, provider=pool.provider, id=pool.id, ips=members,
                  description=pool.description, raw={**pool.raw, "ips": list(members)})


def _flagged(pool: IpPool) -> IpPool:
    """``pool`` as the listing shows it once a domain is linked to it."""
    if pool.raw.get("is_linked") is True:
        return pool
    return IpPool(name=pool.name, provider=pool.provider, id=pool.id, ips=pool.ips,
                  description=pool.description, raw={**pool.raw, "is_linked": True})


def _with(domain: str, linked: bool = True
          ) -> Callable[[tuple[IpPool, set[str]]], tuple[IpPool, set[str]]]:
    """An edit of a pool's details: ``domain`` linked to it, or (``linked=False``) not."""
    def change(value: tuple[IpPool, set[str]]) -> tuple[IpPool, set[str]]:
        # in place, under the lookups' lock: the set can hold every domain of the account
        (value[1].add if linked else value[1].discard)(domain)
        return value
    return change


__all__ = ["LINK_BATCH", "Dipps"]
