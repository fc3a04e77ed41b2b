"""What every manager of an account shares: the base class, safe creates, the retry runner.

Managers (``acct.domains``, ``acct.pools``, ...) validate every input, raising
``ValidationError`` before anything is sent, check the provider's capabilities, and make
creates safe: after an ambiguous failure they read back and adopt the existing object
instead of re-sending blindly (``create_safely``). Providers stay thin translators.

The small argument helpers at the bottom are shared by more than one manager module (and by
``Account``); they are public here so the sibling modules need no private imports, but the
package does not re-export them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from espkit import validate
from espkit.errors import AlreadyExists, ConflictingState, EspError, NotFound, ValidationError
from espkit.models import Capability, Subaccount
from espkit.providers.base import Provider
from espkit.transport import RetryRunner

if TYPE_CHECKING:
    from espkit.account.account import Account

log = logging.getLogger("espkit")
T = TypeVar("T")


def create_safely(
    what: str,
    create: Callable[[], T],
    read_back: Callable[[], T | None],
    matches: Callable[[T], bool],
    attempts: int | None = None,
    runner: RetryRunner | None = None,
) -> T:
    """Run ``create`` without ever re-sending it blind.

    After an ambiguous failure (``maybe_applied``) read back: adopt the object if it matches,
    report a conflict if it differs, re-send only if it is absent. An ``AlreadyExists`` on such
    a re-send means the first attempt landed late: read back and adopt it.

    With the account's ``runner``, re-sends follow its retry policy: as many attempts, the
    same jittered back-off, and the same retry budget (an ESP failing everything stops
    being re-sent to). ``attempts`` defaults to the policy's, or 3.
    """
    if attempts is None:
        attempts = runner.retry.max_attempts if runner is not None else 3
    resent = False
    last: EspError | None = None
    for attempt in range(1, attempts + 1):
        if resent and runner is not None:
            assert last is not None
            if not runner.should_retry(last, True):
                break
            runner.pause(attempt - 1)
        try:
            return create()
        except AlreadyExists as exc:
            if not resent:
                raise
            found = read_back()
            if found is not None and matches(found):
                log.info("%s: adopted the copy an earlier ambiguous attempt created", what)
                return found
            if found is not None:
                raise ConflictingState(
                    f"{what} exists but differs from what was requested: {found!r}",
                    provider=exc.provider,
                ) from exc
            raise
        except EspError as exc:
            if not exc.maybe_applied:
                raise
            last = exc
            log.warning("%s: %s; reading back before deciding to re-send", what, exc)
            found = read_back()
            if found is not None:
                if matches(found):
                    log.info("%s: the ambiguous attempt did apply; using it", what)
                    return found
                raise ConflictingState(
                    f"{what} exists but differs from what was requested: {found!r}",
                    provider=exc.provider,
                ) from exc
            resent = True
    assert last is not None
    raise last


def runner_of(provider: Provider) -> RetryRunner | None:
    """The provider's retry runner (``Provider.runner``): its policy, budget, limiter,
    counters and measured latency; None when the provider has none. Kept as the public way
    for the layers above (bulk runs, verification waits) to reach it."""
    return provider.runner


class Manager:
    """Base of the managers: holds the provider and its runner, and checks capabilities."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self._provider = account.provider
        self._runner = runner_of(account.provider)

    def _require(self, capability: Capability) -> None:
        if capability not in self._provider.SUPPORTS:
            raise self._provider.unsupported(capability)


# -- argument helpers shared by several managers ------------------------------------------------


def or_none(fn: Callable[[], T]) -> T | None:
    """``fn()``, or None when it raises ``NotFound``: a create's read-back."""
    try:
        return fn()
    except NotFound:
        return None


def read_back(provider: Provider, fn: Callable[[], T | None]) -> Callable[[], T | None]:
    """``fn`` as a create's read-back: what it reads is read afresh even inside a run
    (``Account.batch``), because a stale "absent" would re-send the create."""
    def fresh() -> T | None:
        with provider.lookups.fresh():
            return fn()
    return fresh


def check_replacement(value: str | None) -> str | None:
    """A validated ``replacement=``: where traffic goes instead, an IP, a pool name, or
    ``"shared"``."""
    if value is None or value == "shared":
        return value
    try:
        return validate.ip_address(value, "replacement")
    except ValidationError:
        return validate.resource_name(value, "replacement")


def subaccount_id(subaccount: str | Subaccount) -> str:
    """The id of a ``Subaccount``, or a validated id given as a string."""
    if isinstance(subaccount, Subaccount):
        return subaccount.id
    return validate.identifier(subaccount, "subaccount")


__all__ = [
    "Manager",
    "check_replacement",
    "create_safely",
    "or_none",
    "read_back",
    "runner_of",
    "subaccount_id",
]
