"""Wait until a fleet of domains is verified: trigger, poll with backoff, report per domain.

    from espkit.verify.wait import wait_until_verified
    report = wait_until_verified(acct, ["a.acme.com", "b.acme.com", ...], timeout=1800)
    print(report.summary())
    for r in report.pending:
        print(r.domain, [f"{x.type} {x.host}" for x in r.failing])

How it runs:

* **Round 1 asks the ESP to verify every domain**; each later round re-verifies only the
  ones not settled yet. Rounds are runs of the bulk engine (``espkit.bulk``), so every
  request goes through the account's shared rate limiter, with as many in flight as the
  measured latency needs, retries by the account's policy and 429s waited out. All rounds
  are one run of the account (``Account.batch``): what a check needs besides the verify
  call (an id, a DKIM selector) is read once, not per round.
* **Backoff between rounds**: ``poll`` seconds after round 1, then ``backoff`` times longer
  each time, capped at ``max_poll``, counted from the end of a round. The wait before the
  last round is shortened so that it happens exactly at the deadline, never after it.
* **Never raises for slow DNS.** A domain not verified by the deadline comes back
  ``pending`` with the records the ESP still reports not valid; a domain the ESP refused
  (``NotFound``: it does not exist; any error left after the retry policy) comes back
  ``failed`` with its typed error. Only errors that would fail every domain the same way
  (``AuthError``, ``RegionMismatch``, ``Unsupported``, ``ConfigError``) raise.
* **Checked before anything is sent**: every name, ``timeout``, ``poll``, ``max_poll`` and
  ``backoff``; a ``ValidationError`` names every bad row. Duplicates are verified once.
* **Several scopes of one account in one wait.** An item may say which subaccount (id) it
  lives in (a ``Domain`` whose ``subaccount`` is set, or a mapping with a ``subaccount``
  key); it is verified on behalf of that subaccount, in the same rounds as the others, so
  one limiter paces them all. The same name in two scopes is two domains.
* **A whole fleet**: ``wait_for_fleet(fleet)`` waits for every domain a fleet file declares,
  in its subaccounts and connections (one thread per connection, one deadline), and merges
  the results into one report in fleet order.
* **Ctrl-C** stops at once (between rounds) or after the requests in flight (during one),
  and raises ``VerificationInterrupted`` carrying the report of what is known.

Where it lives: the report values in ``espkit.verify.report``, the rounds in
``espkit.verify.rounds``, the whole-fleet wait in ``espkit.verify.fleet``; this module has
the entry points and re-exports their public names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from espkit import validate
from espkit.account import Account
from espkit.errors import ValidationError
from espkit.models import Domain, DomainSpec
from espkit.verify.report import (
    VerificationInterrupted,
    VerificationReport,
    WaitProgress,
)
from espkit.verify.rounds import (
    SHOW_BAD_ROWS,
    Target,
    Waiter,
    check_options,
    run_rounds,
)


def wait_until_verified(
    account: Account,
    domains: Iterable[str | Domain | DomainSpec | Mapping[str, Any]],
    *,
    timeout: float = 600.0,
    poll: float = 15.0,
    max_poll: float = 300.0,
    backoff: float = 1.5,
    on_progress: Callable[[WaitProgress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> VerificationReport:
    """Verify every domain, re-checking the unverified ones until all are verified or
    ``timeout`` seconds have passed; a ``VerificationReport`` either way.

    ``domains``: names, ``Domain``s, ``DomainSpec``s or mappings with a ``name`` (or
    ``domain``) key, e.g. from ``espkit.bulk.read_items``. A ``Domain`` whose ``subaccount``
    is set, or a mapping with a ``subaccount`` (id) key, is verified on behalf of that
    subaccount, in the same rounds as the rest. Waits ``poll`` seconds after the
    first round, then ``backoff`` times longer after each round up to ``max_poll``; the last
    round happens at the deadline. ``on_progress`` is called from the calling thread at each
    round's start and end and about ten times a second during a round. ``sleep`` and
    ``clock`` (monotonic seconds) may be replaced, e.g. by a test's fake clock.

    Raises ``ValidationError`` (before anything is sent) for bad input, the fatal errors
    (``AuthError``, ``RegionMismatch``, ``Unsupported``, ``ConfigError``) as they come, and
    ``VerificationInterrupted`` on Ctrl-C.
    """
    check_options(timeout, poll, max_poll, backoff)
    targets = _targets(domains, account)
    waiter = Waiter(account, targets, on_progress, clock)
    if not targets:
        return waiter.report()
    try:
        # one run for every round: the ids the checks need are read once, not per round
        with account.batch(size=len(targets)):
            run_rounds(waiter, deadline=waiter.start + timeout, poll=poll,
                       max_poll=max_poll, backoff=backoff, sleep=sleep, clock=clock)
    except KeyboardInterrupt:
        raise VerificationInterrupted(waiter.report(interrupted=True)) from None
    return waiter.report()


def verify_once(
    account: Account,
    domains: Iterable[str | Domain | DomainSpec | Mapping[str, Any]],
    *,
    on_progress: Callable[[WaitProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> VerificationReport:
    """One round of ``wait_until_verified``: ask the ESP to verify every domain now and
    report where each stands (same outcomes, scopes, errors and interruption)."""
    targets = _targets(domains, account)
    waiter = Waiter(account, targets, on_progress, clock)
    if targets:
        try:
            with account.batch(size=len(targets)):
                run_rounds(waiter, deadline=waiter.start, poll=1.0, max_poll=1.0,
                           backoff=1.0, sleep=time.sleep, clock=clock, once=True)
        except KeyboardInterrupt:
            raise VerificationInterrupted(waiter.report(interrupted=True)) from None
    return waiter.report()


# -- input checks --------------------------------------------------------------------------


def _subaccount_of(value: object) -> str | None:
    """A subaccount id from an item (an int such as a Postmark server id read from JSON is
    fine); empty means the account's own scope (a CSV row's empty cell)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validate.identifier(value.strip() if isinstance(value, str) else value,
                               "subaccount")


def _target_of(item: object, own_scope: str | None) -> Target:
    sub: str | None = None
    if isinstance(item, Domain):
        name = validate.domain_name(item.name)
        sub = _subaccount_of(item.subaccount)
    elif isinstance(item, DomainSpec):
        name = validate.domain_name(item.name)
    elif isinstance(item, Mapping):
        for field in ("name", "domain"):
            if item.get(field):
                name = validate.domain_name(item[field])
                break
        else:
            raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
        sub = _subaccount_of(item.get("subaccount"))
    else:
        name = validate.domain_name(item)
    if sub is not None and sub == own_scope:
        sub = None  # the account already acts in it
    return Target(name, sub)


def _targets(domains: object, account: Account) -> list[Target]:
    """The distinct (scope, canonical name) pairs in input order; every bad row named at
    once."""
    if isinstance(domains, (str, bytes)) or not isinstance(domains, Iterable):
        raise ValidationError("domains", domains, "must be an iterable of domain names, not "
                              "one name (Domains.wait_until_verified takes one name)")
    seen: dict[str, Target] = {}
    bad: list[str] = []
    bad_count = 0
    own = account.subaccount
    for number, item in enumerate(domains, 1):
        try:
            target = _target_of(item, own)
        except ValidationError as exc:
            bad_count += 1
            if len(bad) < SHOW_BAD_ROWS:
                bad.append(f"item {number}: {exc}")
            continue
        seen.setdefault(target.key, target)
    if bad_count:
        more = f" (and {bad_count - len(bad)} more)" if bad_count > len(bad) else ""
        raise ValidationError("domains", f"{bad_count} bad item(s)",
                              "nothing was sent; fix these and run again:\n  "
                              + "\n  ".join(bad) + more)
    return list(seen.values())


__all__ = ["verify_once", "wait_until_verified"]
