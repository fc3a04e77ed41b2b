"""``acct.domains`` argument checks and the verification wait, on both sides of each
boundary, with the requests counted in the sandbox's history.

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import math

import pytest
from support.stepclock import StepClock

import espkit
from espkit import Account
from espkit.errors import Unsupported, ValidationError, VerificationTimeout
from espkit.testing import SandboxFactory, emulator

NAME = "news.example.com"


@pytest.fixture
def unverified(espkit_sandbox_factory: SandboxFactory) -> Account:
    """A sandbox whose domains stay unverified for a day of its own time."""
    acct = espkit_sandbox_factory(verify_delay=86_400.0)
    acct.domains.create(NAME)
    return acct


def verifies(acct: Account) -> int:
    return sum(1 for method, path, _ in emulator(acct).history
               if method in ("PUT", "POST") and path.endswith("/verify"))


def sent(acct: Account) -> int:
    return len(emulator(acct).history)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_list_refuses_a_page_size_that_is_not_a_positive_integer(espkit_sandbox: Account,
                                                                  bad: object) -> None:
    before = sent(espkit_sandbox)
    with pytest.raises(ValidationError) as info:
        espkit_sandbox.domains.list(page_size=bad)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value, info.value.reason) == (
        "page_size", bad, "must be a positive integer")
    assert sent(espkit_sandbox) == before


@pytest.mark.parametrize("size", [None, 1, 2])
def test_list_takes_a_page_size_of_one_and_up(espkit_sandbox: Account, size: int | None) -> None:
    for n in range(3):
        espkit_sandbox.domains.create(f"d{n}.example.com")
    names = [d.name for d in espkit_sandbox.domains.list(page_size=size)]
    assert sorted(names) == ["d0.example.com", "d1.example.com", "d2.example.com"]


@pytest.mark.parametrize(("timeout", "checks"), [(29.9, 2), (30.0, 3), (30.1, 3), (0.0, 1)])
def test_the_wait_checks_while_the_next_check_is_within_the_timeout(
    unverified: Account, timeout: float, checks: int,
) -> None:
    clock = StepClock()
    with pytest.raises(VerificationTimeout) as info:
        unverified.domains.wait_until_verified(NAME, timeout=timeout, poll=15,
                                               sleep=clock.sleep, clock=clock)
    assert verifies(unverified) == checks
    assert clock.slept == [15.0] * (checks - 1)
    assert info.value.waited == 15.0 * (checks - 1)


def test_the_wait_returns_the_verified_domain_at_once(espkit_sandbox: Account) -> None:
    espkit_sandbox.domains.create(NAME)
    clock = StepClock()
    domain = espkit_sandbox.domains.wait_until_verified(NAME, timeout=0, sleep=clock.sleep,
                                                        clock=clock)
    assert domain.verified
    assert domain.name == NAME
    assert clock.slept == []


def test_the_wait_polls_every_15_seconds_by_default(unverified: Account) -> None:
    clock = StepClock()
    with pytest.raises(VerificationTimeout):
        unverified.domains.wait_until_verified(NAME, timeout=45, sleep=clock.sleep,
                                               clock=clock)
    assert clock.slept == [15.0, 15.0, 15.0]


def test_the_default_timeout_is_600_seconds(unverified: Account) -> None:
    clock = StepClock()
    with pytest.raises(VerificationTimeout) as info:
        unverified.domains.wait_until_verified(NAME, poll=1, sleep=clock.sleep, clock=clock)
    # checks at 0, 1, ... 600 s: the next one (601 s) would be past the timeout
    assert verifies(unverified) == 601
    assert info.value.waited == 600.0


def test_interval_is_the_old_name_of_poll(unverified: Account) -> None:
    clock = StepClock()
    with pytest.raises(VerificationTimeout):
        unverified.domains.wait_until_verified(NAME, timeout=10, interval=5,
                                               sleep=clock.sleep, clock=clock)
    assert clock.slept == [5.0, 5.0]
    clock = StepClock()
    with pytest.raises(VerificationTimeout):
        unverified.domains.wait_until_verified(NAME, timeout=10, interval=5, poll=5,
                                               sleep=clock.sleep, clock=clock)
    assert clock.slept == [5.0, 5.0]


def test_poll_and_interval_that_differ_are_refused_before_any_request(
    unverified: Account,
) -> None:
    before = sent(unverified)
    with pytest.raises(ValidationError) as info:
        unverified.domains.wait_until_verified(NAME, interval=5, poll=6)
    assert (info.value.field, info.value.value, info.value.reason) == (
        "interval", 5, "is the old name of poll; give one (poll=6)")
    assert sent(unverified) == before


@pytest.mark.parametrize("bad", [0, 0.0, -1, math.nan])
def test_a_poll_that_is_not_more_than_zero_is_refused(unverified: Account, bad: float) -> None:
    before = sent(unverified)
    with pytest.raises(ValidationError) as info:
        unverified.domains.wait_until_verified(NAME, poll=bad)
    assert info.value.field == "poll"
    assert info.value.value is bad
    assert info.value.reason == "must be more than 0 seconds"
    assert sent(unverified) == before
    with pytest.raises(ValidationError):
        unverified.domains.wait_until_verified(NAME, interval=bad)


def test_a_tiny_poll_is_a_poll(unverified: Account) -> None:
    clock = StepClock()
    with pytest.raises(VerificationTimeout):
        unverified.domains.wait_until_verified(NAME, timeout=0.002, poll=0.001,
                                               sleep=clock.sleep, clock=clock)
    assert verifies(unverified) == 3


def test_many_names_are_sent_to_the_many_domain_wait(unverified: Account) -> None:
    before = sent(unverified)
    with pytest.raises(ValidationError) as info:
        unverified.domains.wait_until_verified([NAME])  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == ("name", "list")
    assert info.value.reason == ("is not one domain name; wait for many with "
                                 "espkit.wait_until_verified(account, names)")
    assert sent(unverified) == before


def test_assign_needs_exactly_one_target(espkit_sandbox: Account) -> None:
    espkit_sandbox.domains.create(NAME)
    before = sent(espkit_sandbox)
    for kwargs in ({}, {"pool": "p", "ip": "10.0.0.1"}):
        with pytest.raises(ValidationError) as info:
            espkit_sandbox.domains.assign(NAME, **kwargs)  # type: ignore[arg-type]
        assert (info.value.field, info.value.reason) == ("pool/ip",
                                                         "give exactly one of pool= or ip=")
        assert info.value.value == (kwargs.get("pool"), kwargs.get("ip"))
        with pytest.raises(ValidationError):
            espkit_sandbox.domains.unassign(NAME, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as bad_pool:
        espkit_sandbox.domains.assign(NAME, pool="-p")
    assert bad_pool.value.field == "pool"
    with pytest.raises(ValidationError) as bad_ip:
        espkit_sandbox.domains.assign(NAME, ip="10.0.0.256")
    assert bad_ip.value.field == "ip"
    assert sent(espkit_sandbox) == before


@pytest.mark.parametrize("option", [{"dkim_key_size": 2048}, {"pool": "p"}, {"ips": ["10.0.0.1"]}])
def test_an_option_the_esp_does_not_take_is_refused_before_any_request(option: dict) -> None:
    with espkit.connect("sandbox", path=":memory:", like="postmark") as acct:
        before = sent(acct)
        with pytest.raises(Unsupported) as info:
            acct.domains.create(NAME, **option)
        (key,) = option
        assert info.value.capability == f"domain option {key!r}"
        assert info.value.hint == "create the domain without it"
        assert sent(acct) == before
