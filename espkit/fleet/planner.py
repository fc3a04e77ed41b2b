"""Plan: what it takes to make the live accounts match a fleet file.

    from espkit.fleet import model as fleet
    from espkit.fleet import planner as plan
    wanted = fleet.load("fleet.yaml")
    p = plan.plan(wanted)          # reads the accounts; changes nothing
    print(p.summary())
    p.check()                      # TooMuchChange if it deletes/moves too much

The plan is a value: the changes (create, update, delete, assign), each with its reason,
plus what was found but is not the fleet's (``unknown``: reported, never touched unless
``delete_unknown``) and what cannot be resolved by applying (``conflicts``). Like octoDNS,
a plan that would delete or move more than the fleet's safety share of what exists is
refused by ``check`` (and so by ``apply``) unless forced.

Ownership: the fleet owns what it declares, plus what its ``ownership`` patterns match. An
owned domain or pool the file no longer declares is deleted; anything else is unknown.
Only the main account and the subaccounts the file declares are read.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from espkit.account import Account
from espkit.errors import ConfigError, TooMuchChange, Unsupported
from espkit.fleet import warmups
from espkit.fleet.model import DesiredDomain, Fleet, Safety
from espkit.models import AssignmentKind, Capability, Domain, DomainSpec, IpPool, Warmup

log = logging.getLogger("espkit.plan")

#: threads reading domain assignments; the account's rate limiter sets the actual pace
READ_WORKERS = 16


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ASSIGN = "assign"
    START = "start"
    STOP = "stop"

    def __str__(self) -> str:
        return self.value


class Kind(str, enum.Enum):
    POOL = "pool"
    SUBACCOUNT = "subaccount"
    DOMAIN = "domain"
    WARMUP = "warmup"  # an IP's ESP warmup: ``name`` is the IP

    def __str__(self) -> str:
        return self.value


def _target_text(targets: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{kind}:{target}" for kind, target in sorted(targets)) or "-"


@attrs.frozen
class Change:
    """One change. ``name`` is the domain, pool or subaccount name; ``subaccount`` the
    subaccount a domain lives in (``subaccount_id`` once it exists). For assignments,
    ``before``/``after`` are sets of ``(kind, target)``, e.g. ``("pool", "mkt")``."""

    action: Action
    kind: Kind
    name: str
    connection: str
    reason: str
    subaccount: str | None = None
    subaccount_id: str | None = None
    spec: DomainSpec | None = None
    before: frozenset[tuple[str, str]] = frozenset()
    after: frozenset[tuple[str, str]] = frozenset()
    add_ips: tuple[str, ...] = ()
    remove_ips: tuple[str, ...] = ()

    @property
    def moves(self) -> bool:
        """An existing domain that sends from something else now (counts as a reassign)."""
        return self.action is Action.ASSIGN and bool(self.before)

    @property
    def detail(self) -> str:
        if self.kind is Kind.POOL and self.action is not Action.DELETE:
            parts = [f"+{ip}" for ip in self.add_ips] + [f"-{ip}" for ip in self.remove_ips]
            return " ".join(parts)
        if self.action is Action.ASSIGN or (self.action is Action.CREATE and self.after):
            before = f"{_target_text(self.before)} -> " if self.action is Action.ASSIGN else ""
            return before + _target_text(self.after)
        return ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action.value, "kind": self.kind.value, "name": self.name,
            "connection": self.connection, "reason": self.reason,
        }
        if self.subaccount:
            out["subaccount"] = self.subaccount
        if self.before or self.after:
            out["before"] = [f"{k}:{t}" for k, t in sorted(self.before)]
            out["after"] = [f"{k}:{t}" for k, t in sorted(self.after)]
        if self.add_ips or self.remove_ips:
            out["add_ips"] = list(self.add_ips)
            out["remove_ips"] = list(self.remove_ips)
        return out


@attrs.frozen
class Unknown:
    """Something in the account the fleet neither declares nor owns."""

    kind: Kind
    name: str
    connection: str
    subaccount: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind.value, "name": self.name, "connection": self.connection}
        if self.subaccount:
            out["subaccount"] = self.subaccount
        return out


@attrs.frozen
class Plan:
    changes: tuple[Change, ...]
    unknown: tuple[Unknown, ...] = ()
    conflicts: tuple[str, ...] = ()
    #: what exists now, per connection and kind, in the scopes read (the base of the
    #: safety shares, which are checked per connection, as octoDNS checks per zone)
    existing: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)
    safety: Safety = attrs.field(factory=Safety)
    source: str = "<fleet>"

    @property
    def empty(self) -> bool:
        return not self.changes

    def of(self, action: Action, kind: Kind | None = None) -> tuple[Change, ...]:
        return tuple(c for c in self.changes
                     if c.action is action and (kind is None or c.kind is kind))

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for change in self.changes:
            out[change.action.value] += 1
        out["unknown"] = len(self.unknown)
        out["conflicts"] = len(self.conflicts)
        return out

    def check(self, *, force: bool = False) -> None:
        """Raise ``TooMuchChange`` if the plan deletes or moves more than the safety share
        of the existing domains (or pools), once there are ``min_existing`` of them."""
        if force:
            return
        s = self.safety
        for connection, counts in self.existing.items():
            where = f" in {connection}" if len(self.existing) > 1 else ""
            mine = [c for c in self.changes if c.connection == connection]
            for kind in (Kind.DOMAIN, Kind.POOL):
                existing = counts.get(kind.value, 0)
                # none yet (min_existing: 0 on a new account): nothing to delete or move
                if existing == 0 or existing < s.min_existing:
                    continue
                deletes = sum(1 for c in mine if c.action is Action.DELETE and c.kind is kind)
                if deletes / existing > s.max_delete:
                    raise TooMuchChange("delete", f"{kind}s{where}", deletes, existing,
                                        s.max_delete)
                moves = sum(1 for c in mine if c.moves and c.kind is kind)
                if moves / existing > s.max_reassign:
                    raise TooMuchChange("move to another pool or IP", f"{kind}s{where}",
                                        moves, existing, s.max_reassign)

    def safe(self) -> bool:
        try:
            self.check()
        except TooMuchChange:
            return False
        return True

    def summary(self) -> str:
        c = self.counts()
        text = (f"Plan for {self.source}: {c['create']} to create, {c['update']} to update, "
                f"{c['assign']} to assign, {c['delete']} to delete")
        if c["start"] or c["stop"]:
            text += f", {c['start']} warmup(s) to start, {c['stop']} to stop"
        if self.empty:
            text = f"Plan for {self.source}: no changes; the accounts match the fleet"
        if self.unknown:
            kinds = sorted({u.kind.value for u in self.unknown})
            text += (f"; {len(self.unknown)} unknown {'/'.join(kinds)}(s) left alone "
                     "(not declared, not owned)")
        if self.conflicts:
            text += f"; {len(self.conflicts)} conflict(s) applying cannot resolve"
        text += "."
        if not self.empty:
            text += f" Checksum {self.checksum}."
        return text

    @property
    def checksum(self) -> str:
        """A digest of the changes (not of when or where the plan was made): pass it to
        ``apply --checksum`` so that what is applied is exactly the plan that was reviewed,
        as octoDNS's ``--checksum`` does."""
        body = json.dumps([c.to_dict() for c in self.changes], sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "checksum": self.checksum,
            "counts": self.counts(),
            "existing": {name: dict(counts) for name, counts in self.existing.items()},
            "safe": self.safe(),
            "changes": [c.to_dict() for c in self.changes],
            "unknown": [u.to_dict() for u in self.unknown],
            "conflicts": list(self.conflicts),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


# -- reading the live account ----------------------------------------------------------


@attrs.define
class Live:
    """One connection's account as read: what ``plan`` diffs against."""

    pools: dict[str, IpPool] = attrs.field(factory=dict)
    ips: set[str] | None = None  # None: the ESP does not list dedicated IPs
    subaccounts: dict[str, str] = attrs.field(factory=dict)  # name -> id
    #: domain name -> (the subaccount name it lives in or None, the domain)
    domains: dict[str, tuple[str | None, Domain]] = attrs.field(factory=dict)
    assignments: dict[str, frozenset[tuple[str, str]]] = attrs.field(factory=dict)
    #: IP -> its ESP warmup, read when the fleet declares a warmup (None: not read)
    warmups: dict[str, Warmup] | None = None


def read_live(fleet: Fleet, connection: str, acct: Account, *,
              workers: int = READ_WORKERS) -> Live:
    """Read what the plan needs from one account: pools, IPs, the domains of the main
    account and (when the fleet uses subaccounts) of every subaccount, so a removed
    customer's domains are seen, and the assignments of every declared domain that
    exists. Reads run ``workers`` at a time; the account's limiter keeps the pace."""
    caps = acct.capabilities
    live = Live()
    wanted = list(fleet.domains(connection))
    if Capability.IP_POOLS in caps:
        live.pools = {p.name: p for p in acct.pools.list()}
    if Capability.DEDICATED_IPS in caps:
        live.ips = {ip.address for ip in acct.ips.list()}
    declared_subs = {d.subaccount for d in wanted if d.subaccount}
    if declared_subs:
        if Capability.SUBACCOUNTS not in caps:
            raise acct.provider.unsupported(Capability.SUBACCOUNTS)
        live.subaccounts = acct.subaccounts.ids_by_name()
    # one handle per scope, made once: the reads below run per domain
    scoped: dict[str | None, Account] = {None: acct}
    scoped.update((name, acct.on_behalf_of(sub_id))
                  for name, sub_id in sorted(live.subaccounts.items()))

    def domains_in(scope: str | None) -> list[tuple[str | None, Domain]]:
        return [(scope, d) for d in scoped[scope].domains.list()]

    # where the ESP can say which domains each pool serves in a few requests, a domain
    # bound to a pool needs no read of its own: it sends from that pool alone, the declared
    # one or another (main account only: pools are the parent's)
    links = acct.provider.pool_links() if any(d.pool for d in wanted) else None

    def assignments(d: DesiredDomain) -> tuple[str, frozenset[tuple[str, str]]]:
        scope = live.domains[d.name][0]
        if links is not None and scope is None and d.pool and d.name in links:
            return d.name, frozenset({(AssignmentKind.POOL.value, links[d.name])})
        found = scoped[scope].domains.assignments(d.name)
        return d.name, frozenset((a.kind.value, a.target) for a in found)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for found in pool.map(domains_in, list(scoped)):
            for scope, domain in found:
                live.domains.setdefault(domain.name, (scope, domain))
        # a pool named per message (SEND_TIME_POOLS) is no assignment to read
        per_message = acct.provider.SEND_TIME_POOLS and Capability.ASSIGN_DOMAIN_POOL not in caps
        to_read = [d for d in wanted if d.name in live.domains
                   and (d.ips or (d.pool and not per_message))]
        live.assignments = dict(pool.map(assignments, to_read))
    live.warmups = warmups.read(fleet, connection, acct)
    return live


# -- the diff ---------------------------------------------------------------------------


def _wanted_targets(d: DesiredDomain) -> frozenset[tuple[str, str]]:
    if d.pool:
        return frozenset({(AssignmentKind.POOL.value, d.pool)})
    return frozenset((AssignmentKind.IP.value, ip) for ip in d.ips)


def _create_spec(acct: Account, d: DesiredDomain) -> DomainSpec:
    """The spec to create with: pool/ips in the create call where the ESP takes them there,
    otherwise assigned right after (apply does both in the same item)."""
    options = acct.provider.DOMAIN_OPTIONS
    spec = d.spec()
    if spec.pool and "pool" not in options:
        spec = attrs.evolve(spec, pool=None)
    if spec.ips and "ips" not in options:
        spec = attrs.evolve(spec, ips=())
    return acct.domains.check_spec(spec)


def diff(fleet: Fleet, connection: str, acct: Account, live: Live, *,
         delete_unknown: bool = False) -> tuple[list[Change], list[Unknown], list[str]]:
    """The changes for one connection. Every create is checked against the provider's
    rules here, so a plan that is shown can be applied without input errors."""
    changes: list[Change] = []
    unknown: list[Unknown] = []
    conflicts: list[str] = []
    caps = acct.capabilities
    own = fleet.ownership

    for pool in fleet.pools_of(connection):
        if Capability.IP_POOLS not in caps:
            raise acct.provider.unsupported(Capability.IP_POOLS)
        if live.ips is not None:
            for ip in pool.ips:
                if ip not in live.ips:
                    conflicts.append(f"pool {pool.name}: {ip} is not one of the account's "
                                     f"dedicated IPs ({connection})")
        have = live.pools.get(pool.name)
        if have is None:
            changes.append(Change(Action.CREATE, Kind.POOL, pool.name, connection,
                                  "declared, not in the account", add_ips=pool.ips))
            continue
        add = tuple(ip for ip in pool.ips if ip not in have.ips)
        remove = tuple(ip for ip in have.ips if ip not in pool.ips)
        if add or remove:
            changes.append(Change(Action.UPDATE, Kind.POOL, pool.name, connection,
                                  "IPs differ from the fleet file", add_ips=add,
                                  remove_ips=remove))
    declared_pools = {p.name for p in fleet.pools_of(connection)}
    for name in sorted(set(live.pools) - declared_pools):
        if own.owns_pool(name) or delete_unknown:
            why = "owned by the fleet, no longer declared" if own.owns_pool(name) else \
                "not declared (deleting unknowns was asked for)"
            changes.append(Change(Action.DELETE, Kind.POOL, name, connection, why))
        else:
            unknown.append(Unknown(Kind.POOL, name, connection))

    wanted = list(fleet.domains(connection))
    for sub in sorted({d.subaccount for d in wanted if d.subaccount} - set(live.subaccounts)):
        changes.append(Change(Action.CREATE, Kind.SUBACCOUNT, sub, connection,
                              "declared by a customer, not in the account"))

    assign_caps = {AssignmentKind.POOL.value: Capability.ASSIGN_DOMAIN_POOL,
                   AssignmentKind.IP.value: Capability.ASSIGN_DOMAIN_IP}
    declared: set[str] = set()
    send_time = acct.provider.SEND_TIME_POOLS
    for d in wanted:
        declared.add(d.name)
        targets = _wanted_targets(d)
        if send_time and d.pool and Capability.ASSIGN_DOMAIN_POOL not in caps:
            # the pool is named in each message (espkit.ramp.route carries it): nothing to
            # assign; apply makes the pool itself
            targets = frozenset()
        for kind, _ in targets:
            if assign_caps[kind] not in caps:
                hint = ("it binds pools to subaccounts (acct.subaccounts.assign)"
                        if Capability.ASSIGN_SUBACCOUNT_POOL in caps else "")
                raise Unsupported(acct.name, f"stream {d.stream}: sending {d.name} from a "
                                  f"{kind} ({assign_caps[kind]})", hint)
        sub_id = live.subaccounts.get(d.subaccount) if d.subaccount else None
        found = live.domains.get(d.name)
        if found is None:
            spec = _create_spec(acct, d)
            changes.append(Change(Action.CREATE, Kind.DOMAIN, d.name, connection,
                                  f"customer {d.customer}, stream {d.stream}",
                                  subaccount=d.subaccount, subaccount_id=sub_id, spec=spec,
                                  after=targets))
            continue
        scope, _ = found
        if scope != d.subaccount:
            def where(sub: str | None) -> str:
                return f"subaccount {sub}" if sub else "the main account"
            conflicts.append(f"domain {d.name} is declared in {where(d.subaccount)} but lives "
                             f"in {where(scope)}; move it by hand")
            continue
        current = live.assignments.get(d.name, frozenset())
        if targets and current != targets:
            changes.append(Change(Action.ASSIGN, Kind.DOMAIN, d.name, connection,
                                  f"stream {d.stream} sends from {_target_text(targets)}",
                                  subaccount=d.subaccount, subaccount_id=sub_id,
                                  before=current, after=targets))
    for name in sorted(set(live.domains) - declared):
        scope, _ = live.domains[name]
        if own.owns_domain(name) or delete_unknown:
            why = "owned by the fleet, no longer declared" if own.owns_domain(name) else \
                "not declared (deleting unknowns was asked for)"
            changes.append(Change(Action.DELETE, Kind.DOMAIN, name, connection, why,
                                  subaccount=scope,
                                  subaccount_id=live.subaccounts.get(scope) if scope else None))
        else:
            unknown.append(Unknown(Kind.DOMAIN, name, connection, scope))
    for ip, start, why in warmups.wanted(fleet, connection, acct, live.warmups):
        changes.append(Change(Action.START if start else Action.STOP, Kind.WARMUP, ip,
                              connection, why))
    return changes, unknown, conflicts


def plan(
    fleet: Fleet,
    accounts: Mapping[str, Account] | None = None,
    *,
    delete_unknown: bool = False,
    workers: int = READ_WORKERS,
    on_read: Callable[[str], None] | None = None,
) -> Plan:
    """Read every connection's account and diff it against ``fleet``; nothing is changed.

    ``accounts`` maps connection names to open accounts (default: each connection's
    ``connect()``). Each account is read in one run (``Account.batch``); a caller that
    applies the plan in the same run (``apply_fleet``) reuses what it read.
    ``delete_unknown`` plans deleting what the fleet neither declares nor owns.
    ``on_read(connection)`` is called before each account is read."""
    opened: dict[str, Account] = {}
    try:
        changes: list[Change] = []
        unknown: list[Unknown] = []
        conflicts: list[str] = []
        existing: dict[str, dict[str, int]] = {}
        for name, connection in fleet.connections.items():
            if accounts is not None and name in accounts:
                acct = accounts[name]
            elif accounts is not None:
                raise ConfigError(f"no account given for connection {name!r}")
            else:
                acct = opened[name] = connection.connect()
            if on_read is not None:
                on_read(name)
            with run_of(fleet, name, acct):
                live = read_live(fleet, name, acct, workers=workers)
                c, u, x = diff(fleet, name, acct, live, delete_unknown=delete_unknown)
            changes += c
            unknown += u
            conflicts += x
            existing[name] = {Kind.DOMAIN.value: len(live.domains),
                              Kind.POOL.value: len(live.pools)}
    finally:
        for acct in opened.values():
            acct.close()
    return Plan(tuple(changes), tuple(unknown), tuple(conflicts), existing, fleet.safety,
                fleet.source)


def run_of(fleet: Fleet, name: str, acct: Account) -> contextlib.AbstractContextManager[Account]:
    """The run (``acct.batch``) for connection ``name``, sized by the domains the fleet wants
    there: the pools, links and ids its reads need are read once."""
    return acct.batch(size=sum(1 for _ in fleet.domains(name)))


@contextlib.contextmanager
def runs(fleet: Fleet, accounts: Mapping[str, Account]) -> Iterator[None]:
    """One run per account for a plan and the apply after it: what the plan read (pool ids,
    domain ids, links) serves the apply instead of being read again."""
    with contextlib.ExitStack() as stack:
        for name, acct in accounts.items():
            stack.enter_context(run_of(fleet, name, acct))
        yield


__all__ = ["Action", "Change", "Kind", "Live", "Plan", "Unknown", "diff", "plan", "read_live",
           "run_of", "runs"]
