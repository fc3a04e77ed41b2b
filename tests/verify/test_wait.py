"""The fleet verification waiter against the sandbox ESP on a fake clock: rounds, backoff,
the deadline, outcomes per domain, fatal errors, validation, the rate limit and scale."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest
from support.hang import HANG

import espkit
from espkit import DnsRecord, RecordStatus
from espkit.account import runner_of
from espkit.bulk import Bulk
from espkit.sandbox import Clock, Emulator, FakeClock
from espkit.testing import emulator
from espkit.verify import (
    VerificationInterrupted,
    VerificationOutcome,
    VerificationReport,
    VerificationResult,
    WaitProgress,
    verify_once,
    wait_until_verified,
)

ZONE = "wait.example"


def names(n: int, prefix: str = "d") -> list[str]:
    return [f"{prefix}{i:04d}.{ZONE}" for i in range(n)]


class Sandbox:
    """A sandbox account on a fake clock, and the waiter's sleep/clock on the same time:
    a waiter's sleep advances the clock the sandbox judges DNS propagation by."""

    def __init__(self, clock: Clock | None = None, **options: Any) -> None:
        self.clock: Any = clock or FakeClock()
        self.acct = espkit.connect("sandbox", path=":memory:", clock=self.clock, **options)
        self.emu: Emulator = emulator(self.acct)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.sleep(seconds)

    def create(self, domains: list[str]) -> None:
        assert Bulk(self.acct).create_domains(domains).ok

    def wait(self, domains: Any, **options: Any) -> VerificationReport:
        return wait_until_verified(self.acct, domains, sleep=self.sleep,
                                   clock=self.clock.monotonic, **options)

    def verifies(self, name: str | None = None) -> int:
        """How many verify requests reached the ESP (for ``name``, or in all)."""
        return sum(1 for method, path, _ in self.emu.history
                   if method == "PUT" and path.endswith("/verify")
                   and (name is None or path == f"/v1/domains/{name}/verify"))


def by_name(report: VerificationReport) -> dict[str, VerificationResult]:
    return {r.domain: r for r in report.results}


# -- rounds, backoff and the deadline ------------------------------------------------------


def test_all_verify_after_some_rounds_with_backoff_between_them() -> None:
    sb = Sandbox(verify_delay=100)
    fleet = names(10)
    sb.create(fleet)
    report = sb.wait(fleet, timeout=600, poll=15)
    # 15, x1.5, x1.5 ...: checks at 0, 15, 37.5, 71.25 and 121.875 s; DNS is there at 100 s
    assert sb.slept == pytest.approx([15, 22.5, 33.75, 50.625])
    assert report.rounds == 5
    assert report.ok
    assert [r.domain for r in report.results] == fleet
    assert {r.outcome for r in report.results} == {VerificationOutcome.VERIFIED}
    assert all(r.verified_after == pytest.approx(121.875) for r in report.results)
    assert all(r.checks == 5 and r.failing == () and r.error is None for r in report.results)
    assert report.elapsed == pytest.approx(121.875)
    assert sb.verifies() == 50
    assert report.requests == 50
    assert report.summary() == "all 10 domain(s) verified (5 rounds, 122 s)"


def test_waits_are_capped_by_max_poll_and_the_last_round_is_at_the_deadline() -> None:
    sb = Sandbox(verify_delay=10_000)
    sb.create(names(3))
    report = sb.wait(names(3), timeout=100, poll=10, backoff=2, max_poll=30)
    # checks at 0, 10, 30, 60, 90 and then at the deadline, not at 120
    assert sb.slept == pytest.approx([10, 20, 30, 30, 10])
    assert report.rounds == 6
    assert report.elapsed == pytest.approx(100)
    assert not report.ok
    assert all(r.outcome is VerificationOutcome.PENDING and r.checks == 6
               for r in report.results)
    assert sb.verifies() == 18


def test_the_deadline_shortens_the_wait_and_a_short_timeout_still_checks_once() -> None:
    sb = Sandbox(verify_delay=10_000)
    sb.create(names(2))
    report = sb.wait(names(2), timeout=40, poll=15)
    assert sb.slept == pytest.approx([15, 22.5, 2.5])
    assert report.rounds == 4

    sb.slept.clear()
    once = sb.wait(names(2), timeout=0.001, poll=15)
    assert once.rounds == 2  # the first check, then one at the deadline
    assert sb.slept == pytest.approx([0.001])


def test_backoff_1_polls_at_a_steady_interval() -> None:
    sb = Sandbox(verify_delay=60)
    sb.create(names(2))
    report = sb.wait(names(2), poll=20, backoff=1)
    assert sb.slept == [20, 20, 20]
    assert report.ok


# -- outcomes ------------------------------------------------------------------------------


def test_stuck_domains_come_back_pending_with_their_failing_records() -> None:
    sb = Sandbox(verify_delay=1010)
    good, stuck = names(5, "ok"), names(3, "stuck")
    sb.create(good)
    sb.clock.advance(1000)  # the stuck ones are created later: their DNS is far off
    sb.create(stuck)
    report = sb.wait([*good, *stuck], timeout=300, poll=15)

    assert [r.domain for r in report.results] == [*good, *stuck]
    assert [r.domain for r in report.verified] == good
    assert [r.domain for r in report.pending] == stuck
    assert report.failed == ()
    assert not report.ok
    for r in report.verified:
        assert r.verified_after == pytest.approx(15)
        assert r.checks == 2
    for r in report.pending:
        expected = tuple(x for x in sb.acct.domains.get(r.domain).dns_records if not x.valid)
        assert expected  # the sandbox reports every record pending until DNS is seen
        assert r.failing == expected
        assert r.verified_after is None
        assert r.error is None
        assert r.checks == report.rounds
    assert report.elapsed == pytest.approx(300)
    text = report.summary()
    assert text.startswith("5 of 8 domain(s) verified, 3 pending, 0 failed")
    for name in stuck:
        assert name in text
    dkim = report.pending[0].failing[1]
    assert dkim.purpose is espkit.RecordPurpose.DKIM
    assert f"dkim TXT {dkim.host} (pending)" in text
    assert good[0] not in text


def test_failing_lists_exactly_the_records_the_esp_reports_not_valid() -> None:
    sb = Sandbox(verify_delay=10_000)
    fleet = names(3)
    sb.create(fleet)
    real = sb.acct.provider.verify_domain

    def partly_published(name: str) -> espkit.Domain:
        # this ESP sees SPF and MX already; DKIM and tracking not yet (and one invalid)
        d = real(name)
        statuses = {"spf": RecordStatus.VALID, "mx": RecordStatus.VALID,
                    "dkim": RecordStatus.INVALID, "tracking": RecordStatus.PENDING}
        records = tuple(attrs.evolve(r, status=statuses[r.purpose.value])
                        for r in d.dns_records)
        return attrs.evolve(d, dns_records=records)

    sb.acct.provider.verify_domain = partly_published  # type: ignore[method-assign]
    report = sb.wait(fleet, timeout=30)
    for r in report.results:
        assert r.outcome is VerificationOutcome.PENDING
        assert [(x.purpose.value, x.status) for x in r.failing] == [
            ("dkim", RecordStatus.INVALID), ("tracking", RecordStatus.PENDING)]
        assert all(isinstance(x, DnsRecord) and x.host.endswith(r.domain) for x in r.failing)
    dkim = report.results[0].failing[0]
    assert f"{fleet[0]}: dkim TXT {dkim.host} (invalid), tracking CNAME" in report.summary()


def test_a_missing_domain_fails_with_not_found_and_the_others_are_unaffected() -> None:
    sb = Sandbox(verify_delay=20)
    fleet = names(4)
    sb.create(fleet)
    missing = f"missing.{ZONE}"
    report = sb.wait([fleet[0], missing, *fleet[1:]], poll=15)
    assert [r.domain for r in report.results] == [fleet[0], missing, *fleet[1:]]
    failed = by_name(report)[missing]
    assert failed.outcome is VerificationOutcome.FAILED
    assert isinstance(failed.error, espkit.NotFound)
    assert failed.checks == 0
    assert [r.domain for r in report.verified] == fleet
    assert sb.verifies(missing) == 1  # asked once: a missing domain will not appear
    assert report.rounds == 3
    data = report.to_dict()
    row = next(r for r in data["results"] if r["domain"] == missing)
    assert row["outcome"] == "failed"
    assert row["error"]["type"] == "NotFound"
    assert row["error"]["status"] == 404
    assert f"Failed: {missing}: NotFound" in report.summary()


def test_an_esp_error_past_the_retry_policy_fails_the_domain_but_is_asked_again() -> None:
    sb = Sandbox(verify_delay=20, retry=espkit.RetryPolicy(max_attempts=1))
    fleet = names(3)
    sb.create(fleet)
    flaky, broken = fleet[0], fleet[1]
    # flaky: the first round (and the engine's extra passes over it) get 503s, then it heals
    sb.emu.inject("503", method="PUT", path=f"/v1/domains/{flaky}/verify", times=3)
    sb.emu.inject("503", method="PUT", path=f"/v1/domains/{broken}/verify", times=1000)
    report = sb.wait(fleet, timeout=100, poll=15)
    results = by_name(report)
    assert results[flaky].outcome is VerificationOutcome.VERIFIED
    assert results[flaky].error is None
    assert results[broken].outcome is VerificationOutcome.FAILED
    assert isinstance(results[broken].error, espkit.ServerError)
    assert results[fleet[2]].outcome is VerificationOutcome.VERIFIED
    assert sb.verifies(broken) > report.rounds  # re-tried each round, not given up on


def test_duplicates_and_spellings_are_verified_once() -> None:
    sb = Sandbox(verify_delay=0)
    sb.create(names(2))
    a, b = names(2)
    d = sb.acct.domains.get(b)
    report = sb.wait([a, a.upper(), f"{a}.", d, {"name": b}, espkit.DomainSpec(a)])
    assert [r.domain for r in report.results] == [a, b]
    assert report.ok
    assert report.rounds == 1
    assert sb.verifies() == 2
    assert report[a.upper()].verified
    with pytest.raises(KeyError):
        report[f"other.{ZONE}"]


# -- errors that stop everything ------------------------------------------------------------


def test_bad_credentials_raise() -> None:
    sb = Sandbox()
    sb.create(names(5))
    sb.emu.revoke_key("sandbox")
    with pytest.raises(espkit.AuthError):
        sb.wait(names(5))


def test_credentials_revoked_between_rounds_raise_in_the_next_round() -> None:
    sb = Sandbox(verify_delay=100)
    sb.create(names(5))

    def revoke_then_sleep(seconds: float) -> None:
        sb.emu.revoke_key("sandbox")
        sb.sleep(seconds)

    with pytest.raises(espkit.AuthError):
        wait_until_verified(sb.acct, names(5), sleep=revoke_then_sleep,
                            clock=sb.clock.monotonic)
    assert sb.slept == [15]


def test_unsupported_provider_raises_before_anything_is_sent() -> None:
    class NoVerify(type(espkit.connect("sandbox", path=":memory:").provider)):  # type: ignore[misc]
        SUPPORTS = frozenset(espkit.Capability) - {espkit.Capability.DOMAIN_VERIFY}

    sb = Sandbox()
    sb.create(names(1))
    sb.acct.provider.__class__ = NoVerify
    before = len(sb.emu.history)
    with pytest.raises(espkit.Unsupported):
        sb.wait(names(1))
    assert len(sb.emu.history) == before


# -- validation before any request ----------------------------------------------------------


BAD_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("timeout", {"timeout": 0}),
    ("timeout", {"timeout": -5}),
    ("timeout", {"timeout": "60"}),
    ("timeout", {"timeout": True}),
    ("timeout", {"timeout": math.nan}),
    ("timeout", {"timeout": math.inf}),
    ("poll", {"poll": 0}),
    ("poll", {"poll": None}),
    ("max_poll", {"max_poll": -1}),
    ("max_poll", {"poll": 60, "max_poll": 30}),
    ("backoff", {"backoff": 0.5}),
    ("backoff", {"backoff": "2"}),
]


@pytest.mark.parametrize(("field", "options"), BAD_OPTIONS)
def test_bad_options_are_refused_before_any_request(field: str, options: dict[str, Any]
                                                    ) -> None:
    sb = Sandbox()
    with pytest.raises(espkit.ValidationError) as info:
        sb.wait(names(3), **options)
    assert info.value.field == field
    assert len(sb.emu.history) == 0


def test_bad_names_are_all_named_and_nothing_is_sent() -> None:
    sb = Sandbox()
    sb.create(names(2))
    before = len(sb.emu.history)
    with pytest.raises(espkit.ValidationError) as info:
        sb.wait([*names(2), "bad/name.example", "localhost", 42, {"pool": "p"}])
    text = str(info.value)
    assert "4 bad item(s)" in text
    for number in (3, 4, 5, 6):
        assert f"item {number}:" in text
    assert "nothing was sent" in text
    assert len(sb.emu.history) == before
    with pytest.raises(espkit.ValidationError, match="not one name"):
        sb.wait(names(1)[0])
    assert len(sb.emu.history) == before


def test_an_empty_list_is_an_empty_report() -> None:
    sb = Sandbox()
    report = sb.wait([])
    assert report.results == ()
    assert report.ok
    assert report.rounds == 0
    assert report.summary() == "no domains to verify"
    assert sb.slept == []
    assert len(sb.emu.history) == 0


# -- the rate budget ------------------------------------------------------------------------


def test_verifies_go_through_the_account_limiter_at_its_rate() -> None:
    rate = 5.0
    sb = Sandbox(verify_delay=12, rate_limit=rate)
    fleet = names(20)
    sb.create(fleet)
    runner = runner_of(sb.acct.provider)
    assert runner is not None
    granted: list[float] = []
    lock = threading.Lock()
    acquire = runner.limiter.acquire

    def counted() -> float:
        waited = acquire()
        with lock:
            granted.append(sb.clock.monotonic())
        return waited

    runner.limiter.acquire = counted  # type: ignore[method-assign]
    history = len(sb.emu.history)
    report = sb.wait(fleet, poll=1, backoff=1, timeout=60)

    assert report.ok
    assert len(granted) == sb.verifies() == report.requests
    assert sb.verifies() >= 2 * len(fleet)  # the first round of 20 takes 4 s: not ready yet
    # a token bucket of one: any k grants in a row span at least (k - 1) / rate seconds
    granted.sort()
    for i in range(len(granted) - 5):
        assert granted[i + 5] - granted[i] >= 5 / rate - 1e-6
    statuses = [status for _, _, status in list(sb.emu.history)[history:]]
    assert 429 not in statuses  # the ESP never had to push back
    assert report.throttled == 0


# -- scale ---------------------------------------------------------------------------------


def test_a_thousand_domains_with_three_stuck_name_the_three() -> None:
    sb = Sandbox(verify_delay=1010)
    good, stuck = names(997), names(3, "stuck")
    sb.create(good)
    sb.clock.advance(1000)
    sb.create(stuck)
    report = sb.wait([*good, *stuck], timeout=600, poll=15)
    assert report.counts() == {"verified": 997, "pending": 3, "failed": 0}
    assert [r.domain for r in report.pending] == stuck
    assert all(len(r.failing) == 5 for r in report.pending)
    assert report.rounds > 2
    # rounds after the second one only ask about the three
    assert sb.verifies() == 2 * 997 + 3 * report.rounds
    text = report.summary()
    assert all(name in text for name in stuck)
    assert len(text) < 2000


def test_summary_of_thousands_stuck_stays_short() -> None:
    record = DnsRecord(espkit.RecordPurpose.DKIM, "TXT", "k1._domainkey.x.example", "v",
                       status=RecordStatus.INVALID)
    results = tuple(VerificationResult(f"d{i}.example", VerificationOutcome.PENDING,
                                       failing=(record,) * 6, checks=3)
                    for i in range(5000))
    failed = VerificationResult("gone.example", VerificationOutcome.FAILED,
                                error=espkit.NotFound("domain not found", provider="sandbox"))
    report = VerificationReport((*results, failed), rounds=9, elapsed=600)
    text = report.summary()
    assert text.startswith("0 of 5001 domain(s) verified, 5000 pending, 1 failed (9 rounds,")
    assert "and 4990 more" in text
    assert "(+3 more)" in text
    assert "Failed: gone.example: NotFound" in text
    assert len(text) < 2500
    data = json.loads(report.to_json())
    assert data["counts"] == {"verified": 0, "pending": 5000, "failed": 1}
    assert len(data["results"]) == 5001
    assert data["results"][0]["failing"][0]["status"] == "invalid"


# -- progress and Ctrl-C --------------------------------------------------------------------


def test_progress_reports_rounds_waits_and_counts() -> None:
    sb = Sandbox(verify_delay=40)
    sb.create(names(6))
    seen: list[WaitProgress] = []
    report = sb.wait(names(6), on_progress=seen.append)
    assert report.ok
    waits = [p.next_check_in for p in seen if p.next_check_in is not None]
    assert waits == sb.slept == pytest.approx([15, 22.5, 33.75])
    assert sorted({p.round for p in seen if p.checking}) == [1, 2, 3, 4]
    assert all(p.checked <= p.to_check == 6 for p in seen if p.checking and p.round == 1)
    assert all(p.total == 6 and p.verified + p.pending + p.failed == 6 for p in seen)
    assert [p.verified for p in seen] == sorted(p.verified for p in seen)
    last = seen[-1]
    assert (last.verified, last.checking, last.next_check_in) == (6, False, None)
    assert last.elapsed == pytest.approx(71.25)


def _interrupt(when: Callable[[WaitProgress], bool]) -> Callable[[WaitProgress], None]:
    def hook(p: WaitProgress) -> None:
        if when(p):
            raise KeyboardInterrupt
    return hook


def test_ctrl_c_between_rounds_returns_what_is_known() -> None:
    sb = Sandbox(verify_delay=20)
    fleet = names(4)
    sb.create(fleet[:2])
    sb.clock.advance(10)
    sb.create(fleet[2:])
    with pytest.raises(VerificationInterrupted) as info:
        sb.wait([*fleet, f"missing.{ZONE}"],
                on_progress=_interrupt(lambda p: p.round == 2 and p.next_check_in is not None))
    assert isinstance(info.value, KeyboardInterrupt)
    report = info.value.report
    assert report.interrupted
    assert not report.ok
    assert report.rounds == 2
    assert report.counts() == {"verified": 2, "pending": 2, "failed": 1}
    assert "stopped by Ctrl-C in round 2: 2 of 5 domain(s) verified" in str(info.value)
    assert report.summary().startswith("interrupted: 2 of 5")


def test_ctrl_c_during_a_round_finishes_the_requests_in_flight() -> None:
    # progress is reported every 0.1 s of real time, so the round must last until a report
    # has come: the verifies past the first 20 are held until the Ctrl-C (it lands inside
    # the round however busy the machine is), then the ones in flight are answered
    sb = Sandbox(verify_delay=0)
    fleet = names(400)
    sb.create(fleet)
    pressed = threading.Event()
    lock = threading.Lock()
    verifies = [0]
    exchange = sb.emu.exchange

    def held(method: str, path: str, query: str, headers: Mapping[str, str],
             body: bytes | None) -> Any:
        if method == "PUT" and path.endswith("/verify"):
            with lock:
                verifies[0] += 1
                later = verifies[0] > 20
            if later:
                pressed.wait(HANG)  # a bound on a hang: the Ctrl-C comes long before
        return exchange(method, path, query, headers, body)

    sb.emu.exchange = held  # type: ignore[method-assign]

    def ctrl_c(p: WaitProgress) -> None:
        if p.checking and p.checked >= 10:
            pressed.set()
            raise KeyboardInterrupt

    with pytest.raises(VerificationInterrupted) as info:
        sb.wait(fleet, on_progress=ctrl_c)
    assert pressed.is_set()
    report = info.value.report
    assert report.interrupted
    assert report.rounds == 1
    verified = len(report.verified)
    assert 10 <= verified < 400
    assert verified == sb.verifies()  # every answered request is in the report


# -- one round, and the account method ------------------------------------------------------


def test_verify_once_checks_each_domain_once() -> None:
    sb = Sandbox(verify_delay=30)
    sb.create(names(3))
    first = verify_once(sb.acct, names(3), clock=sb.clock.monotonic)
    assert first.rounds == 1
    assert first.counts() == {"verified": 0, "pending": 3, "failed": 0}
    sb.clock.advance(30)
    assert verify_once(sb.acct, names(3)).ok
    assert sb.verifies() == 6


def test_domains_wait_until_verified_waits_for_one_name() -> None:
    sb = Sandbox(verify_delay=30)
    sb.create(names(3))
    one = sb.acct.domains.wait_until_verified(names(1)[0], poll=10, sleep=sb.sleep,
                                              clock=sb.clock.monotonic)
    assert isinstance(one, espkit.Domain)
    assert one.verified
    assert sb.slept == [10, 10, 10]


def test_domains_wait_until_verified_option_checks() -> None:
    sb = Sandbox()
    sb.create(names(1))
    with pytest.raises(espkit.ValidationError, match="old name of poll"):
        sb.acct.domains.wait_until_verified(names(1)[0], poll=5, interval=10)
    # many names are the fleet wait's job; the error names it, and nothing is sent
    with pytest.raises(espkit.ValidationError, match=r"espkit\.wait_until_verified"):
        sb.acct.domains.wait_until_verified(names(2))  # type: ignore[arg-type]
    with pytest.raises(espkit.ValidationError) as info:
        sb.acct.domains.wait_until_verified(names(1)[0], poll=0)
    assert info.value.field == "poll"
    assert sb.verifies() == 0


# -- several scopes of one account ----------------------------------------------------------


def test_items_in_subaccounts_are_verified_in_their_scope_in_the_same_rounds() -> None:
    sb = Sandbox(verify_delay=20)
    main = names(3, "main")
    sb.create(main)
    subs = [sb.acct.subaccounts.create(f"cust{i}") for i in range(2)]
    inside = {s.id: names(2, f"{s.name}-") for s in subs}
    for sub_id, domains in inside.items():
        assert Bulk(sb.acct.on_behalf_of(sub_id)).create_domains(domains).ok
    items: list[Any] = [main[0], {"name": inside[subs[0].id][0], "subaccount": subs[0].id}]
    listed = list(sb.acct.on_behalf_of(subs[1].id).domains.list())  # Domains carry their scope
    items += listed
    items += [{"domain": inside[subs[0].id][1], "subaccount": subs[0].id}, *main[1:]]
    rounds: list[int] = []
    report = sb.wait(items, on_progress=lambda p: rounds.append(p.round))

    assert report.ok
    assert report.rounds == 3  # all seven in each round: one bulk job a round
    expected = [(main[0], None), (inside[subs[0].id][0], subs[0].id),
                *((d.name, subs[1].id) for d in listed),
                (inside[subs[0].id][1], subs[0].id), *((n, None) for n in main[1:])]
    assert [(r.domain, r.subaccount) for r in report.results] == expected
    assert sb.verifies() == report.requests == 3 * 7
    # every verify found its domain: a subaccount's domain is not visible from the main scope
    assert all(status == 200 for method, path, status in sb.emu.history
               if method == "PUT" and path.endswith("/verify"))
    row = report.to_dict()["results"]
    assert row[0].keys() == {"domain", "outcome", "checks", "verified_after_s", "failing"}
    assert row[1]["subaccount"] == subs[0].id
    assert list(row[1])[:2] == ["domain", "subaccount"]


def test_the_same_name_in_two_scopes_is_two_domains() -> None:
    sb = Sandbox(verify_delay=0)
    sub = sb.acct.subaccounts.create("globex")
    name = f"mail.globex.{ZONE}"
    sb.acct.on_behalf_of(sub).domains.create(name)
    report = sb.wait([name, {"name": name, "subaccount": sub.id}, name.upper(),
                      {"name": name, "subaccount": sub.id, "pool": "ignored"}])
    assert [(r.domain, r.subaccount, r.outcome.value) for r in report.results] == [
        (name, None, "failed"), (name, sub.id, "verified")]
    assert isinstance(report.results[0].error, espkit.NotFound)  # not in the main account
    assert sb.verifies() == 2
    assert report[name] is report.results[0]  # the first one
    text = report.summary()
    assert text.startswith("1 of 2 domain(s) verified, 0 pending, 1 failed")
    assert f"Failed: {name}: NotFound" in text


def test_a_stuck_domain_in_a_subaccount_says_its_scope() -> None:
    sb = Sandbox(verify_delay=10_000)
    sub = sb.acct.subaccounts.create("initech")
    scoped = sb.acct.on_behalf_of(sub)
    scoped.domains.create(f"news.initech.{ZONE}")
    report = sb.wait([{"name": f"news.initech.{ZONE}", "subaccount": sub.id}], timeout=30)
    stuck = report.pending[0]
    assert stuck.subaccount == sub.id
    assert stuck.scope == sub.id
    assert stuck.failing == tuple(
        r for r in scoped.domains.get(stuck.domain).dns_records if not r.valid)
    assert f"news.initech.{ZONE} (subaccount {sub.id}): spf TXT" in report.summary()


def test_an_account_already_in_the_subaccount_treats_the_item_as_its_own() -> None:
    sb = Sandbox(verify_delay=0)
    sub = sb.acct.subaccounts.create("hooli")
    scoped = sb.acct.on_behalf_of(sub)
    scoped.domains.create(f"a.hooli.{ZONE}")
    listed = list(scoped.domains.list())
    assert listed[0].subaccount == sub.id
    report = wait_until_verified(scoped, listed, sleep=sb.sleep, clock=sb.clock.monotonic)
    assert report.ok
    assert report.results[0].subaccount is None  # as before: the account's own scope
    assert "subaccount" not in report.to_dict()["results"][0]


def test_a_bad_subaccount_is_named_before_anything_is_sent() -> None:
    sb = Sandbox()
    sb.create(names(1))
    before = len(sb.emu.history)
    with pytest.raises(espkit.ValidationError) as info:
        sb.wait([*names(1), {"name": names(1)[0], "subaccount": "../etc"},
                 {"name": names(1)[0], "subaccount": ["x"]},
                 {"name": names(1)[0], "subaccount": ""}])
    text = str(info.value)
    assert "2 bad item(s)" in text
    assert "item 2:" in text
    assert "item 3:" in text
    assert len(sb.emu.history) == before


def test_subaccount_items_on_a_provider_without_subaccount_scope_raise_before_sending() -> None:
    class NoScope(type(espkit.connect("sandbox", path=":memory:").provider)):  # type: ignore[misc]
        SUPPORTS = frozenset(espkit.Capability) - {espkit.Capability.SUBACCOUNT_SCOPE}

    sb = Sandbox()
    sb.create(names(1))
    sb.acct.provider.__class__ = NoScope
    before = len(sb.emu.history)
    with pytest.raises(espkit.Unsupported):
        sb.wait([*names(1), {"name": f"x.{ZONE}", "subaccount": "sub_1"}])
    assert len(sb.emu.history) == before
    assert sb.wait(names(1)).ok  # items without a scope need none
