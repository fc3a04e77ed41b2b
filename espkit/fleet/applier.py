"""Apply a plan: pools and subaccounts first, then every domain change through the bulk
engine (rate-limited, concurrent, one typed result per item), then pool deletes.

    from espkit.fleet import applier as apply
    from espkit.fleet import model as fleet
    report = apply.apply_fleet(fleet.load("fleet.yaml"))   # plan, check, apply
    print(report.summary())

Re-running is how an interrupted or partly failed apply is resumed: the next plan reads
the accounts again, so what landed is not repeated (a create whose answer was lost is
found by the read, not sent twice) and only what is left is applied.

Each connection is applied inside one run of its account (``Account.batch``): the name ->
id lookups (pool ids, domain ids, configuration sets) are read once for all its changes,
and ``apply_fleet`` keeps the plan's reads for the apply. Where the ESP has batch calls
(``espkit.providers.batch``), a pool's IP changes go in one request and domains moved to
a pool are linked many per request before the per-domain run, which then only confirms
them: a fleet apply of N domain creates on Mailgun costs N requests plus a few.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from espkit.account import Account
from espkit.bulk import Bulk, ItemResult, Operation, Outcome, Progress, Report
from espkit.errors import AlreadyExists, ConfigError, EspError, NotFound
from espkit.fleet.model import Fleet
from espkit.fleet.planner import Action, Change, Kind, Plan, plan, runs
from espkit.models import AssignmentKind, Capability, DomainSpec
from espkit.providers.batch import LinksDomains

log = logging.getLogger("espkit.apply")


@attrs.frozen
class ApplyReport:
    """What applying a plan did. ``steps``: the pool and subaccount changes, one result
    each; ``domains``: the bulk engine's report per connection; ``skipped``: why a
    connection's domain changes were not attempted."""

    plan: Plan
    steps: tuple[ItemResult, ...] = ()
    domains: Mapping[str, Report] = attrs.field(factory=dict)
    skipped: tuple[str, ...] = ()

    @property
    def failed(self) -> list[ItemResult]:
        out = [s for s in self.steps if s.outcome is Outcome.FAILED]
        for report in self.domains.values():
            out += report.failed
        return out

    @property
    def ok(self) -> bool:
        return (not self.failed and not self.skipped and not self.plan.conflicts
                and all(r.ok for r in self.domains.values()))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.outcome.value] = out.get(step.outcome.value, 0) + 1
        for report in self.domains.values():
            for outcome, n in report.counts.items():
                out[outcome] = out.get(outcome, 0) + n
        return {k: v for k, v in out.items() if v}

    def summary(self) -> str:
        if self.plan.empty:
            return "Nothing to apply: the accounts already match the fleet."
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items())) or "nothing"
        text = f"Applied {len(self.plan.changes)} change(s): {counts}."
        failed = self.failed
        if failed:
            shown = "; ".join(f"{f.key}: {f.error}" for f in failed[:5])
            more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
            text += f" {len(failed)} failed: {shown}{more}. Run apply again to retry them."
        for reason in self.skipped:
            text += f" {reason}"
        if self.plan.conflicts:
            text += f" {len(self.plan.conflicts)} conflict(s) need a hand: " + \
                "; ".join(self.plan.conflicts[:5])
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "steps": [s.to_dict() for s in self.steps],
            "domains": {name: r.to_dict() for name, r in self.domains.items()},
            "skipped": list(self.skipped),
            "conflicts": list(self.plan.conflicts),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


def _targets(values: Any) -> list[tuple[str, str]]:
    return [(str(k), str(t)) for k, t in values]


def _item(change: Change, sub_ids: Mapping[str, str]) -> dict[str, Any]:
    sub_id = change.subaccount_id or (sub_ids.get(change.subaccount) if change.subaccount
                                      else None)
    item: dict[str, Any] = {"action": change.action.value, "name": change.name,
                            "subaccount_id": sub_id,
                            "before": sorted(change.before), "after": sorted(change.after)}
    if change.spec is not None:
        spec = attrs.asdict(change.spec)
        spec["ips"] = list(spec["ips"])
        item["spec"] = {k: v for k, v in spec.items() if v not in (None, [])}
    return item


class _DomainOp:
    """The bulk operation behind a plan's domain changes. Each item is one change."""

    def __init__(self, acct: Account) -> None:
        self.acct = acct
        self._scoped: dict[str, Account] = {}
        self._lock = threading.Lock()

    def operation(self) -> Operation:
        return Operation("apply", self.prepare, self.run, Capability.DOMAINS)

    @staticmethod
    def prepare(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
        return f"{item['action']} {item['name']}", dict(item)

    def scope(self, sub_id: str | None) -> Account:
        if not sub_id:
            return self.acct
        with self._lock:
            if sub_id not in self._scoped:
                self._scoped[sub_id] = self.acct.on_behalf_of(sub_id)
            return self._scoped[sub_id]

    def run(self, _acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
            ) -> ItemResult:
        acct = self.scope(payload.get("subaccount_id"))
        name = payload["name"]
        before = _targets(payload["before"])
        after = _targets(payload["after"])
        action = payload["action"]
        if action == Action.DELETE.value:
            try:
                acct.domains.delete(name)
            except NotFound:
                return ItemResult(key, Outcome.DELETED if resumed else Outcome.ABSENT)
            return ItemResult(key, Outcome.DELETED)
        outcome = Outcome.ASSIGNED
        if action == Action.CREATE.value:
            data = dict(payload["spec"])
            data["ips"] = tuple(data.get("ips", ()))
            spec = DomainSpec(**data)
            outcome = Outcome.CREATED
            try:
                acct.domains.create(spec)
            except AlreadyExists:
                outcome = Outcome.EXISTED
            # what the create call itself set needs no separate assignment
            given = {(AssignmentKind.POOL.value, spec.pool)} if spec.pool else set()
            given |= {(AssignmentKind.IP.value, ip) for ip in spec.ips}
            after = [t for t in after if t not in given]
        self.reassign(acct, name, before, after)
        return ItemResult(key, outcome)

    @staticmethod
    def reassign(acct: Account, name: str, before: list[tuple[str, str]],
                 after: list[tuple[str, str]]) -> None:
        """Assign the new targets first, then drop the old ones, so the domain never falls
        back to the ESP's shared IPs in between."""
        for kind, target in after:
            if (kind, target) in before:
                continue
            if kind == AssignmentKind.POOL.value:
                acct.domains.assign(name, pool=target)
            else:
                acct.domains.assign(name, ip=target)
        replacement = after[0][1] if after else None
        for kind, target in before:
            if (kind, target) in after:
                continue
            try:
                if kind == AssignmentKind.POOL.value:
                    acct.domains.unassign(name, pool=target, replacement=replacement)
                else:
                    acct.domains.unassign(name, ip=target)
            except NotFound:
                pass  # already gone: the goal is reached


def _step(key: str, fn: Callable[[], Outcome]) -> ItemResult:
    try:
        return ItemResult(key, fn())
    except EspError as exc:
        log.warning("%s failed: %s", key, exc)
        return ItemResult(key, Outcome.FAILED, error=exc)


def _pool_change(acct: Account, change: Change) -> Callable[[], Outcome]:
    def run() -> Outcome:
        if change.action is Action.CREATE:
            acct.pools.create(change.name, ips=change.add_ips)
            return Outcome.CREATED
        if change.action is Action.DELETE:
            try:
                acct.pools.delete(change.name)
            except NotFound:
                return Outcome.ABSENT
            return Outcome.DELETED
        acct.pools.update_ips(change.name, add=change.add_ips, remove=change.remove_ips)
        return Outcome.UPDATED
    return run


def _link_first(op: _DomainOp, items: list[dict[str, Any]]) -> None:
    """Where the ESP links many domains to a pool per request (``LinksDomains``), link the
    domains the plan moves to a pool that way, before the per-domain run: each item then
    finds its domain linked (its account's run knows) and only drops what it sent from
    before. Whatever fails here is left to its item, which reports its own error."""
    groups: dict[tuple[str | None, str], list[str]] = {}
    for item in items:
        if item["action"] != Action.ASSIGN.value:
            continue
        before = _targets(item["before"])
        for kind, target in _targets(item["after"]):
            if kind == AssignmentKind.POOL.value and (kind, target) not in before:
                groups.setdefault((item["subaccount_id"], target), []).append(item["name"])
    for (sub_id, pool), names in groups.items():
        acct = op.scope(sub_id)
        if len(names) < 2 or not isinstance(acct.provider, LinksDomains):
            continue  # one by one is as cheap
        try:
            results = acct.domains.assign_many(names, pool=pool)
        except EspError as exc:
            log.info("linking %d domain(s) to pool %s in batches failed (%s); each is "
                     "linked on its own", len(names), pool, exc)
            continue
        failed = sum(1 for error in results.values() if error is not None)
        log.info("linked %d domain(s) to pool %s in batches; %d left to link on their own",
                 len(names) - failed, pool, failed)


def _warmup_change(acct: Account, change: Change) -> Callable[[], Outcome]:
    def run() -> Outcome:
        if change.action is Action.START:
            acct.ips.start_warmup(change.name)
        else:
            acct.ips.stop_warmup(change.name)
        return Outcome.UPDATED
    return run


def _sub_create(acct: Account, name: str, ids: dict[str, str]) -> Callable[[], Outcome]:
    def run() -> Outcome:
        ids[name] = acct.subaccounts.create(name).id
        return Outcome.CREATED
    return run


def apply(
    plan: Plan,
    accounts: Mapping[str, Account],
    *,
    force: bool = False,
    max_concurrency: int = 256,
    on_progress: Callable[[str, Progress], None] | None = None,
) -> ApplyReport:
    """Apply ``plan`` to ``accounts`` (connection name -> account). Refuses an unsafe plan
    (``TooMuchChange``) unless ``force``. Each connection in turn: pool creates and
    updates, subaccount creates, then its domain changes through the bulk engine, then
    warmup starts and stops, then pool deletes. A failed pool or subaccount step skips
    that connection's domain changes (they would fail the same way); everything else runs
    on past failures and reports."""
    plan.check(force=force)
    missing = sorted({c.connection for c in plan.changes} - set(accounts))
    if missing:
        raise ConfigError(f"no account given for connection(s) {', '.join(missing)}")
    steps: list[ItemResult] = []
    reports: dict[str, Report] = {}
    skipped: list[str] = []
    for connection in dict.fromkeys(c.connection for c in plan.changes):
        acct = accounts[connection]
        mine = [c for c in plan.changes if c.connection == connection]
        # one run per connection: its lookups are read once for all of its changes
        with acct.batch(size=sum(1 for c in mine if c.kind is Kind.DOMAIN)):
            first: list[ItemResult] = []
            for change in mine:
                if change.kind is Kind.POOL and change.action is not Action.DELETE:
                    first.append(_step(f"{change.action} pool {change.name}",
                                       _pool_change(acct, change)))
            sub_ids: dict[str, str] = {}
            for change in mine:
                if change.kind is Kind.SUBACCOUNT:
                    first.append(_step(f"create subaccount {change.name}",
                                       _sub_create(acct, change.name, sub_ids)))
            steps += first
            if any(s.outcome is Outcome.FAILED for s in first):
                skipped.append(f"{connection}: domain changes not attempted because a pool "
                               "or subaccount change failed; fix it and apply again.")
                continue
            items = [_item(c, sub_ids) for c in mine if c.kind is Kind.DOMAIN]
            if items:
                progress = (None if on_progress is None
                            else lambda p, name=connection: on_progress(name, p))
                op = _DomainOp(acct)
                _link_first(op, items)
                bulk = Bulk(acct, max_concurrency=max_concurrency, on_progress=progress)
                reports[connection] = bulk.run(op.operation(), items)
            for change in mine:
                if change.kind is Kind.WARMUP:
                    steps.append(_step(f"{change.action} warmup {change.name}",
                                       _warmup_change(acct, change)))
            for change in mine:
                if change.kind is Kind.POOL and change.action is Action.DELETE:
                    steps.append(_step(f"delete pool {change.name}",
                                       _pool_change(acct, change)))
    return ApplyReport(plan, tuple(steps), reports, tuple(skipped))


def apply_fleet(
    fleet: Fleet,
    *,
    force: bool = False,
    delete_unknown: bool = False,
    accounts: Mapping[str, Account] | None = None,
    max_concurrency: int = 256,
) -> ApplyReport:
    """Plan ``fleet`` against its accounts and apply the plan (see ``apply``), each account
    in one run: what the plan read (pools, domain ids, links) serves the apply too."""
    opened: dict[str, Account] = {}
    try:
        if accounts is None:
            accounts = opened = {n: c.connect() for n, c in fleet.connections.items()}
        with runs(fleet, accounts):
            current = plan(fleet, accounts, delete_unknown=delete_unknown)
            return apply(current, accounts, force=force, max_concurrency=max_concurrency)
    finally:
        for acct in opened.values():
            acct.close()


__all__ = ["ApplyReport", "apply", "apply_fleet"]
