"""Apply: a plan made real through the bulk engine, on the sandbox. Faults are injected at
the sandbox's simulated network; re-running apply must converge without duplicates."""

from __future__ import annotations

import json
from collections import Counter

import attrs
import pytest
from support.fleets import CONN

import espkit
from espkit.bulk import Outcome
from espkit.fleet import (
    Connection,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    Ownership,
    PoolSpec,
    apply,
    apply_fleet,
    plan,
)


def fleet(acct: espkit.Account, customers: int, *, every_sub: int = 0) -> Fleet:
    ips = [ip.address for ip in acct.ips.list() if ":" not in ip.address]
    specs = []
    for n in range(customers):
        name = f"cust{n}"
        sub = name if every_sub and n % every_sub == 0 else None
        specs.append(CustomerSpec(name, (
            DesiredDomain(f"news.{name}.example.com", name, "marketing", subaccount=sub,
                          pool="mkt", options={"dkim_key_size": 2048}),
            DesiredDomain(f"mail.{name}.example.com", name, "transactional", subaccount=sub,
                          pool="txn"),
        ), subaccount=sub))
    return Fleet(CONN, pools=(PoolSpec("mkt", ips=(ips[0], ips[1])),
                              PoolSpec("txn", ips=(ips[2],))),
                 customers=tuple(specs), ownership=Ownership(domains=("*.example.com",)))


def creates_sent(acct: espkit.Account) -> Counter[str]:
    """How many create requests reached the sandbox's application, per domain."""
    history = acct.provider.emulator.history  # type: ignore[attr-defined]
    return Counter(path for method, path, status in history
                   if method == "POST" and path == "/v1/domains" and isinstance(status, int))


def test_fleet_of_500_customers_by_2_streams_applies_and_replans_to_zero(acct) -> None:
    f = fleet(acct, 500, every_sub=50)
    p = plan(f, {"default": acct})
    assert p.counts()["create"] == 2 + 10 + 1000
    report = apply(p, {"default": acct})
    assert report.ok, report.summary()
    assert report.counts() == {"created": 1012}
    assert report.domains["default"].counts["created"] == 1000

    main = {d.name for d in acct.domains.list()}
    assert len(main) == 1000 - 20
    sub_ids = {s.name: s.id for s in acct.subaccounts.list()}
    assert set(sub_ids) == {f"cust{n}" for n in range(0, 500, 50)}
    in_sub = {d.name for d in acct.on_behalf_of(sub_ids["cust50"]).domains.list()}
    assert in_sub == {"news.cust50.example.com", "mail.cust50.example.com"}
    assert [(a.kind.value, a.target) for a in acct.domains.assignments(
        "news.cust7.example.com")] == [("pool", "mkt")]
    assert acct.domains.get("news.cust7.example.com").records("dkim")

    again = plan(f, {"default": acct})
    assert again.empty, again.summary()
    second = apply(again, {"default": acct})
    assert second.ok
    assert second.summary() == "Nothing to apply: the accounts already match the fleet."


def test_faults_then_rerun_converges_with_no_duplicate_creates(acct) -> None:
    f = fleet(acct, 60, every_sub=20)
    emulator = acct.provider.emulator  # type: ignore[attr-defined]
    # planned before the faults start: a plan is reads, and a read that fails five times
    # running (0.3 ** 5, 0.24 % a read) rightly raises; what is under test is the apply
    p = plan(f, {"default": acct})
    emulator.faults = 0.3
    first = apply(p, {"default": acct})
    emulator.faults = 0.0
    for _ in range(3):
        p = plan(f, {"default": acct})
        if p.empty:
            break
        apply(p, {"default": acct})
    assert plan(f, {"default": acct}).empty
    names = {d.name for d in acct.domains.list()}
    for sub in acct.subaccounts.list():
        names |= {d.name for d in acct.on_behalf_of(sub.id).domains.list()}
    assert len(names) == 120
    # a create whose answer was lost was read back, never sent twice to be refused
    statuses = [s for m, p, s in emulator.history if m == "POST" and p == "/v1/domains"]
    assert 409 not in statuses
    assert first.counts()  # the first run did real work despite the faults


def test_timeouts_after_commit_are_read_back_not_recreated(acct) -> None:
    f = fleet(acct, 5)
    emulator = acct.provider.emulator  # type: ignore[attr-defined]
    emulator.inject("timeout_after_commit", method="POST", path="/v1/domains", times=3)
    report = apply(plan(f, {"default": acct}), {"default": acct})
    assert report.ok, report.summary()
    assert len(list(acct.domains.list())) == 10
    assert plan(f, {"default": acct}).empty


def test_a_failed_pool_step_skips_that_connections_domains_and_says_why(acct) -> None:
    f = fleet(acct, 3)
    emulator = acct.provider.emulator  # type: ignore[attr-defined]
    emulator.inject("503", method="POST", path="/v1/pools", times=20)
    report = apply(plan(f, {"default": acct}), {"default": acct})
    assert not report.ok
    failed = [s for s in report.steps if s.outcome is Outcome.FAILED]
    assert failed
    assert all(f.key.startswith("create pool") for f in failed)
    assert "domain changes not attempted" in report.summary()
    assert list(acct.domains.list()) == []
    data = json.loads(report.to_json())
    assert data["ok"] is False
    assert data["skipped"]
    emulator.clear_faults()  # the outage is over: apply again finishes the job
    assert apply(plan(f, {"default": acct}), {"default": acct}).ok
    assert plan(f, {"default": acct}).empty


def test_forced_delete_of_removed_customers_including_their_subaccount_domains(acct) -> None:
    f = fleet(acct, 20, every_sub=5)
    apply(plan(f, {"default": acct}), {"default": acct})
    shrunk = attrs.evolve(f, customers=f.customers[:12])
    p = plan(shrunk, {"default": acct})
    deleted = {c.name for c in p.changes if c.action.value == "delete"}
    assert deleted == {f"{s}.cust{n}.example.com" for n in range(12, 20)
                       for s in ("news", "mail")}
    assert {c.subaccount for c in p.changes if c.name.endswith("cust15.example.com")} == {
        "cust15"}
    with pytest.raises(espkit.errors.TooMuchChange):
        apply(p, {"default": acct})
    report = apply(p, {"default": acct}, force=True)
    assert report.ok
    assert report.counts() == {"deleted": 16}
    assert plan(shrunk, {"default": acct}).empty


def test_apply_fleet_connects_plans_and_applies(tmp_path, sleeps) -> None:
    db = str(tmp_path / "sandbox.db")
    with espkit.connect("sandbox", path=db) as a:
        f = attrs.evolve(fleet(a, 4), connections={
            "default": Connection("default", "sandbox", {"path": db})})
    report = apply_fleet(f)
    assert report.ok
    with espkit.connect("sandbox", path=db) as a:
        assert len(list(a.domains.list())) == 8
    assert apply_fleet(f).plan.empty
