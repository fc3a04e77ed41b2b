"""``create_safely`` decision by decision: how many times a create is sent, when the object
is read back, adopted or reported as a conflict, and how the account's retry policy and
budget bound the re-sends.

Every test counts the creates and read-backs it expects, so an extra or a missing request
fails. Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import pytest

from espkit.account.manager import check_replacement, create_safely, or_none, subaccount_id
from espkit.errors import (
    AlreadyExists,
    ConflictingState,
    EspError,
    NotFound,
    Rejected,
    ServerError,
    TransportError,
    ValidationError,
)
from espkit.models import Subaccount
from espkit.transport import RetryPolicy, RetryRunner
from espkit.transport.ratelimit import RetryBudget


def ambiguous(n: int = 0) -> ServerError:
    return ServerError(f"502 #{n}", provider="esp", maybe_applied=True)


class Script:
    """A create that fails as scripted, then returns "made"; a read-back that answers from a
    list. Counts both."""

    def __init__(self, failures: list[EspError], found: list[str | None]) -> None:
        self.failures = list(failures)
        self.found = list(found)
        self.creates = 0
        self.reads = 0

    def create(self) -> str:
        self.creates += 1
        if self.failures:
            raise self.failures.pop(0)
        return "made"

    def read_back(self) -> str | None:
        self.reads += 1
        return self.found.pop(0) if self.found else None


def run(script: Script, *, attempts: int | None = None, runner: RetryRunner | None = None,
        wanted: str = "wanted") -> str:
    return create_safely("domain a.example.com", script.create, script.read_back,
                         lambda found: found == wanted, attempts=attempts, runner=runner)


def sleepless(policy: RetryPolicy, budget: RetryBudget | None = None) -> tuple[RetryRunner,
                                                                               list[float]]:
    slept: list[float] = []
    return RetryRunner("esp", retry=policy, budget=budget, sleep=slept.append), slept


def test_a_first_success_is_sent_once_and_never_read_back() -> None:
    s = Script([], [])
    assert run(s) == "made"
    assert (s.creates, s.reads) == (1, 0)


def test_an_unambiguous_failure_is_raised_at_once_without_a_read_back() -> None:
    s = Script([Rejected("bad name", provider="esp")], [])
    with pytest.raises(Rejected):
        run(s)
    assert (s.creates, s.reads) == (1, 0)


def test_already_exists_on_the_first_send_is_the_callers_to_handle() -> None:
    s = Script([AlreadyExists("exists", provider="esp")], ["wanted"])
    with pytest.raises(AlreadyExists):
        run(s)
    assert (s.creates, s.reads) == (1, 0)


def test_an_ambiguous_failure_that_did_apply_is_adopted_without_a_resend() -> None:
    s = Script([ambiguous()], ["wanted"])
    assert run(s) == "wanted"
    assert (s.creates, s.reads) == (1, 1)


def test_an_ambiguous_failure_that_made_something_else_is_a_conflict() -> None:
    s = Script([ambiguous()], ["other"])
    with pytest.raises(ConflictingState) as info:
        run(s)
    assert str(info.value.message) == ("domain a.example.com exists but differs from what was "
                                       "requested: 'other'")
    assert info.value.provider == "esp"
    assert isinstance(info.value.__cause__, ServerError)
    assert (s.creates, s.reads) == (1, 1)


def test_absent_after_an_ambiguous_failure_is_resent() -> None:
    s = Script([ambiguous()], [None])
    assert run(s) == "made"
    assert (s.creates, s.reads) == (2, 1)


def test_a_late_landing_first_attempt_is_adopted_after_already_exists() -> None:
    s = Script([ambiguous(), AlreadyExists("exists", provider="esp")], [None, "wanted"])
    assert run(s) == "wanted"
    assert (s.creates, s.reads) == (2, 2)


def test_a_late_landing_different_object_is_a_conflict() -> None:
    s = Script([ambiguous(), AlreadyExists("exists", provider="mailgun")], [None, "other"])
    with pytest.raises(ConflictingState) as info:
        run(s)
    assert info.value.message == ("domain a.example.com exists but differs from what was "
                                  "requested: 'other'")
    assert info.value.provider == "mailgun"
    assert isinstance(info.value.__cause__, AlreadyExists)
    assert (s.creates, s.reads) == (2, 2)


def test_already_exists_with_nothing_to_read_back_is_raised() -> None:
    s = Script([ambiguous(), AlreadyExists("exists", provider="esp")], [None, None])
    with pytest.raises(AlreadyExists):
        run(s)
    assert (s.creates, s.reads) == (2, 2)


@pytest.mark.parametrize("attempts", [1, 2, 3, 4])
def test_attempts_bound_the_sends_and_the_last_failure_is_raised(attempts: int) -> None:
    failures = [ambiguous(n) for n in range(1, 10)]
    s = Script(failures, [])
    with pytest.raises(ServerError) as info:
        run(s, attempts=attempts)
    assert (s.creates, s.reads) == (attempts, attempts)
    assert info.value.message == f"502 #{attempts}"


def test_three_attempts_without_a_runner() -> None:
    s = Script([ambiguous(n) for n in range(1, 10)], [])
    with pytest.raises(ServerError):
        run(s)
    assert s.creates == 3


@pytest.mark.parametrize("max_attempts", [1, 2, 4])
def test_the_runners_policy_sets_the_attempts_and_each_resend_backs_off(
    max_attempts: int,
) -> None:
    runner, slept = sleepless(RetryPolicy(max_attempts=max_attempts, base_delay=1.0,
                                          max_backoff=8.0))
    s = Script([ambiguous(n) for n in range(1, 10)], [])
    with pytest.raises(ServerError) as info:
        run(s, runner=runner)
    assert s.creates == max_attempts
    assert info.value.message == f"502 #{max_attempts}"
    assert len(slept) == max_attempts - 1
    assert runner.stats["retries"] == max_attempts - 1
    # the n-th re-send waits up to base_delay * 2 ** (n - 1)
    assert all(0 <= wait <= 2 ** n for n, wait in enumerate(slept))


def test_an_explicit_attempts_overrides_the_runners_policy() -> None:
    runner, slept = sleepless(RetryPolicy(max_attempts=5))
    s = Script([ambiguous(n) for n in range(1, 10)], [])
    with pytest.raises(ServerError):
        run(s, attempts=2, runner=runner)
    assert (s.creates, len(slept)) == (2, 1)


def test_an_exhausted_retry_budget_stops_the_resends() -> None:
    # one retry's worth of tokens: the first re-send is paid for, the second is not
    budget = RetryBudget(capacity=5, retry_cost=5)
    runner, slept = sleepless(RetryPolicy(max_attempts=5), budget)
    s = Script([ambiguous(n) for n in range(1, 10)], [])
    with pytest.raises(ServerError) as info:
        run(s, runner=runner)
    assert s.creates == 2
    assert len(slept) == 1
    assert info.value.message == "502 #2"
    assert budget.available == 0


def test_an_ambiguous_transport_failure_is_read_back_too() -> None:
    s = Script([TransportError("reset", provider="esp", maybe_applied=True)], ["wanted"])
    assert run(s) == "wanted"
    assert (s.creates, s.reads) == (1, 1)


# -- the argument helpers ----------------------------------------------------------------------


def test_or_none_turns_only_not_found_into_none() -> None:
    def missing() -> str:
        raise NotFound("gone", provider="esp")

    def broken() -> str:
        raise ServerError("502", provider="esp")

    assert or_none(missing) is None
    assert or_none(lambda: "x") == "x"
    with pytest.raises(ServerError):
        or_none(broken)


@pytest.mark.parametrize(
    ("value", "checked"),
    [(None, None), ("shared", "shared"), ("10.0.0.1", "10.0.0.1"), ("2001:DB8::1", "2001:db8::1"),
     ("pool-a", "pool-a")],
)
def test_check_replacement_accepts(value: str | None, checked: str | None) -> None:
    assert check_replacement(value) == checked


def test_check_replacement_refuses_a_bad_name_as_the_replacement() -> None:
    with pytest.raises(ValidationError) as info:
        check_replacement("-bad")
    assert (info.value.field, info.value.value) == ("replacement", "-bad")


def test_subaccount_id_of_an_object_or_a_checked_string() -> None:
    assert subaccount_id(Subaccount(id="s-1", name="one", provider="esp")) == "s-1"
    assert subaccount_id("s-2") == "s-2"
    with pytest.raises(ValidationError) as info:
        subaccount_id("a/b")
    assert (info.value.field, info.value.value) == ("subaccount", "a/b")


