"""The in-memory limiter's edges that mutation testing found unguarded (scripts/mutation.py
ratelimit): the exact error a bad budget, scope or path raises, both sides of each boundary
of a window and of an announcement, and what the registry builds for (or refuses as) a
limiter URL. A Redis limiter or budget sends nothing to Redis until its first call, so the
registry's Redis side is checked here without a redis-server. Every test runs on an
injected clock."""

from __future__ import annotations

import math
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.stepclock import StepClock

from espkit.errors import ConfigError, ValidationError
from espkit.transport.ratelimit import (
    BETA,
    BUDGET_PREFIX,
    ENV_LIMITER_URL,
    Budget,
    RateLimiter,
    RedisLimiter,
    RedisRetryBudget,
    RetryBudget,
    Scope,
    ScopedLimiter,
    parse_rate_limit,
    redis_key,
    requesting,
    resolve_limiter_url,
    shared_budget,
    shared_limiter,
)
from espkit.transport.ratelimit.window import EPSILON, SlidingLog, split_spec

SCOPE_RULE = "a scope is 1-32 of a-z, 0-9, '_' and '-', starting with a letter"
PATHS_RULE = "paths are prefixes such as '/v4/domains'"
COUNT_RULE = "must be a whole number from 1 to 100000"
PER_RULE = "must be seconds from 0.001 to 86400"
#: a Redis limiter or budget connects at its first call, never when made: no test here
#: calls one, so no server is needed (and a loopback address is all it could reach)
REDIS_URL = "redis://127.0.0.1:6399/0"
SCHEMES = ("limiter_url must be memory://, redis://, rediss://, redis+cluster:// or "
           "rediss+cluster://, got a {} URL")
NO_CLIENT = "a redis:// limiter_url needs the redis client: pip install -e '.[redis]'"


def limiter(rate: float | Budget | None, clock: StepClock) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep)


def grants(lim: RateLimiter | ScopedLimiter, most: int = 50) -> int:
    """How many grants go at once, now (at most ``most``)."""
    for n in range(most):
        if lim.try_acquire() > 0.0:
            return n
    return most


# -- Budget and Scope: what they refuse, named exactly ----------------------------------------


@pytest.mark.parametrize("make", [lambda: Budget(1, 1.0, "Bad Scope"),
                                  lambda: Scope("Bad Scope", "/v3/ips")])
def test_a_bad_scope_names_the_field_the_value_and_the_rule(make: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make()  # type: ignore[operator]
    exc = caught.value
    assert (exc.field, exc.value, exc.reason) == ("scope", "Bad Scope", SCOPE_RULE)
    assert str(exc) == f"invalid scope 'Bad Scope': {SCOPE_RULE}"


def test_one_path_may_be_given_as_a_string() -> None:
    assert Budget(300, 60, "domains", paths="/v4/domains").paths == ("/v4/domains",)
    assert Scope("pools", "/v3/ip_pools").paths == ("/v3/ip_pools",)
    assert Scope("pools", ["/a", "/b"]).paths == ("/a", "/b")


@pytest.mark.parametrize("paths", [("/",), ("v4/domains",), ("/a", ""), ("/a", 7)])
def test_a_path_is_a_slash_and_at_least_one_more_character(paths: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        Budget(1, 1.0, "x", paths=paths)  # type: ignore[arg-type]
    exc = caught.value
    assert (exc.field, exc.value, exc.reason) == ("paths", paths, PATHS_RULE)
    assert str(exc) == f"invalid paths {paths!r}: {PATHS_RULE}"
    assert Budget(1, 1.0, "x", paths=("/a", "/b/c")).paths == ("/a", "/b/c")


@pytest.mark.parametrize("count", [0, -1, 100_001, 1.5, 2.0, True, False, "3", None])
def test_a_count_that_is_not_a_whole_number_in_range_is_refused(count: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Budget(count, 60.0)  # type: ignore[arg-type]
    exc = caught.value
    assert exc.field == "count"
    assert exc.value is count
    assert exc.reason == COUNT_RULE
    assert str(exc) == f"invalid count {count!r}: {COUNT_RULE}"


def test_a_count_from_one_to_the_maximum_is_taken() -> None:
    assert Budget(1, 60.0).count == 1
    assert Budget(100_000, 60.0).count == 100_000


@pytest.mark.parametrize("per", [0.0009, 0, -1.0, 86_400.5, math.nan, math.inf, -math.inf,
                                 True, "60", None])
def test_a_window_that_is_not_seconds_in_range_is_refused(per: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Budget(1, per)  # type: ignore[arg-type]
    exc = caught.value
    assert exc.field == "per"
    assert exc.value is per
    assert exc.reason == PER_RULE
    assert str(exc) == f"invalid per {per!r}: {PER_RULE}"


def test_a_window_from_a_millisecond_to_a_day_is_taken() -> None:
    assert Budget(1, 0.001).per == 0.001
    assert Budget(1, 86_400).per == 86_400
    assert Budget(1, 86_400.0).rate == pytest.approx(1 / 86_400)


def test_a_window_faster_than_a_million_a_second_is_refused() -> None:
    assert Budget(1000, 0.001).rate == 1_000_000.0  # exactly the most: taken
    assert Budget(100_000, 0.1).rate == 1_000_000.0
    with pytest.raises(ValidationError) as caught:
        Budget(1001, 0.001)
    exc = caught.value
    assert (exc.field, exc.value, exc.reason) == ("per", 0.001,
                                                  "1001 per 0.001 s is over 1e+06/s")
    assert str(exc) == "invalid per 0.001: 1001 per 0.001 s is over 1e+06/s"


@settings(max_examples=300, deadline=None)
@given(count=st.integers(min_value=-5, max_value=200_000),
       per=st.floats(min_value=0.0, max_value=200_000.0, allow_nan=False))
def test_a_budget_is_taken_exactly_when_every_bound_holds(count: int, per: float) -> None:
    ok = 1 <= count <= 100_000 and 0.001 <= per <= 86_400.0 and count / per <= 1e6
    if ok:
        budget = Budget(count, per)
        assert (budget.count, budget.per, budget.scope, budget.paths) == (count, per,
                                                                          "account", ())
    else:
        with pytest.raises(ValidationError) as caught:
            Budget(count, per)
        assert caught.value.field == ("count" if not 1 <= count <= 100_000 else "per")


def test_a_path_claims_itself_and_what_is_below_it_only() -> None:
    budget = Budget(300, 60, "domains", paths="/v4/domains")
    assert budget.claims("/v4/domains")
    assert budget.claims("/v4/domains/x.example.com")
    assert budget.claims("/v4/domains?limit=100")
    for other in ("/v4/domainsX", "/v4/domainsx", "/v4/domains-x", "/v4/domain", "/v3/domains"):
        assert not budget.claims(other), other


@pytest.mark.parametrize("rate", [0, 0.0009, 1_000_001, math.nan, math.inf, "0", "1000001"])
def test_a_rate_out_of_range_names_the_range(rate: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rate_limit(rate)
    exc = caught.value
    assert exc.field == "rate_limit"
    assert exc.reason == "requests/second must be from 0.001 to 1e+06"
    assert parse_rate_limit(0.001) == 0.001
    assert parse_rate_limit(1_000_000) == 1_000_000.0


HOW = ("must be requests/second (a number) or a count per window: '300/min', '500/10s', "
       "(300, 60)")


@pytest.mark.parametrize("value", [
    True, False,  # a flag is not a number
    "300/week", "300/", "fast", "300/min/2",  # text that is not a count per window
    (1.5, 60), (True, 60), (5, True), ("3", 60), (3, "60"), (1, 2, 3),  # pairs
    {"count": 3}, b"5/s",  # other types
])
def test_what_is_no_rate_limit_at_all_says_what_one_looks_like(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rate_limit(value)
    exc = caught.value
    assert (exc.field, exc.value, exc.reason) == ("rate_limit", value, HOW)
    assert str(exc) == f"invalid rate_limit {value!r}: {HOW}"


# -- split_spec: a declaration as limits per scope ---------------------------------------------


def test_a_single_declaration_is_one_scope_named_by_the_budget() -> None:
    assert split_spec(5.0) == ({"account": 5.0}, [], "account")
    assert split_spec(None) == ({"account": None}, [], "account")
    domains = Budget(3, 1.0, "domains")
    assert split_spec(domains) == ({"domains": domains}, [], "domains")


def test_a_budget_without_paths_is_the_default_scope() -> None:
    domains = Budget(300, 60, "domains", paths="/v4/domains")
    pools = Scope("pools", "/v3/ip_pools")
    rest = Budget(10, 1.0, "rest")
    assert split_spec((domains, pools, rest)) == (
        {"domains": domains, "pools": None, "rest": rest}, [domains, pools], "rest")
    # none free of paths: everything else is learnt from 429s in the account scope
    assert split_spec((domains, pools)) == (
        {"domains": domains, "pools": None, "account": None}, [domains, pools], "account")


def test_a_scope_declared_twice_names_it() -> None:
    with pytest.raises(ValidationError) as caught:
        split_spec((Budget(1, 1, "a", paths="/a"), Scope("a", "/b")))
    exc = caught.value
    assert (exc.field, exc.value, exc.reason) == ("scope", "a", "declared twice")
    assert str(exc) == "invalid scope 'a': declared twice"


# -- the documented window ---------------------------------------------------------------------


def test_a_window_shortfall_within_epsilon_is_no_wait() -> None:
    # an injected clock moved by exactly a computed wait can land a hair short of it
    clock = StepClock()
    lim = limiter(Budget(1, 1.0), clock)
    span = Budget(1, 1.0).span
    lim.acquire()
    clock.now = 1000.0 + span - 2e-9
    assert lim.try_acquire() == pytest.approx(2e-9, abs=1e-12)  # over epsilon: a wait
    clock.now = 1000.0 + span - 5e-10
    assert lim.try_acquire() == 0.0


def test_a_window_shortfall_of_exactly_epsilon_is_no_wait() -> None:
    # times near zero, where a float difference can be exactly EPSILON (the log itself: a
    # limiter holds every caller until 0.0 on its clock, so its clock cannot start below)
    log = SlidingLog(Budget(1, 1.0))
    start = 2e-9 - log.span
    log.record(start)
    now = (start + log.span) - EPSILON
    assert (start + log.span) - now == EPSILON  # what the window computes
    assert log.wait(now) == 0.0
    assert log.wait(now - EPSILON) == pytest.approx(2 * EPSILON)


# -- announced windows: the same window or the next --------------------------------------------


@pytest.mark.parametrize(("reset", "later", "same"), [
    # a short window: the same one while its end moves by at most half its length
    (0.5, 0.25, True), (0.5, 0.375, False),
    # a long one: by at most a second
    (8.0, 1.0, True), (8.0, 1.5, False),
])
def test_an_announced_end_close_to_the_first_is_the_same_window(
    reset: float, later: float, same: bool
) -> None:
    clock = StepClock(0.0)
    lim = limiter(None, clock)
    lim.announce(None, 1, reset)
    clock.advance(later)
    lim.announce(None, 5, reset)  # the end moved on by ``later``
    assert grants(lim) == (1 if same else 5)


def test_a_spent_announced_window_waits_until_its_end_however_near() -> None:
    clock = StepClock(0.0)
    lim = limiter(None, clock)
    lim.announce(10, 0, 0.25)
    assert lim.try_acquire() == 0.25
    clock.advance(0.2)
    assert lim.try_acquire() == pytest.approx(0.05)
    clock.advance(0.05)
    assert grants(lim) == 10


def test_an_announced_window_without_a_limit_ends_at_its_reset() -> None:
    clock = StepClock(0.0)
    lim = limiter(None, clock)
    lim.announce(None, 0, 0.5)
    assert lim.try_acquire() == 0.5
    clock.advance(0.5)
    assert grants(lim) == 50  # nothing said what comes next: not limited (rate unknown)
    assert lim.rate is None


def test_an_announced_window_rolls_on_by_whole_windows_missed() -> None:
    clock = StepClock(0.0)
    lim = limiter(None, clock)
    lim.announce(3, 0, 4.0)
    clock.advance(9.0)  # the window ended 1.25 windows ago: the current one ends at 12
    assert grants(lim) == 3
    assert lim.try_acquire() == 3.0
    clock.advance(3.0)
    assert grants(lim) == 3


def test_a_limit_of_one_is_an_announcement_and_zero_is_not() -> None:
    clock = StepClock(0.0)
    lim = limiter(None, clock)
    lim.announce(1, 0, 5.0)
    assert lim.try_acquire() == 5.0
    assert lim.rate == pytest.approx(1 / 5.0)
    clock.advance(5.0)
    assert grants(lim) == 1  # the next window holds the limit: one
    other = limiter(None, clock)
    other.announce(0, 0, 5.0)
    assert grants(other) == 50
    assert other.rate is None


def test_an_announcement_on_a_thread_that_sent_nothing_counts_no_later_grants() -> None:
    clock = StepClock(0.0)
    lim = limiter(None, clock)
    worker = threading.Thread(target=lambda: [lim.acquire() for _ in range(3)])
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    lim.announce(None, 2, 10.0)  # this thread was granted nothing
    assert grants(lim) == 2
    assert lim.try_acquire() == 10.0


# -- RateLimiter -------------------------------------------------------------------------------


def test_only_the_first_answer_restarts_the_pace_even_before_a_second_grant() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    assert lim.try_acquire() == 0.0
    clock.advance(0.03)
    lim.on_success()  # the first answer: the next grant goes 0.1 s after it
    clock.advance(0.05)
    lim.on_success()  # another answer (no grant since): the pace stays where it was
    clock.advance(0.0499)
    assert lim.try_acquire() == pytest.approx(0.0001)
    clock.advance(0.0001)
    assert lim.try_acquire() == 0.0


def test_the_first_answer_drops_what_the_bucket_refilled_while_it_was_awaited() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    assert lim.try_acquire() == 0.0
    clock.advance(0.05)
    assert lim.try_acquire() == pytest.approx(0.05)  # half a token refilled: not yet
    clock.advance(0.01)
    lim.on_success()  # the pace restarts from the answer, with nothing saved up
    clock.advance(0.0999)
    assert lim.try_acquire() == pytest.approx(0.0001)
    clock.advance(0.0001)
    assert lim.try_acquire() == 0.0


def test_a_token_short_by_at_most_epsilon_is_a_whole_token() -> None:
    # an injected clock moved by exactly a computed wait can leave the bucket a hair short
    clock = StepClock(0.0)
    lim = limiter(1.0, clock)
    assert lim.try_acquire() == 0.0  # the bucket is empty from 0.0
    clock.now = 1.0 - 2 * EPSILON
    assert lim.try_acquire() == pytest.approx(2 * EPSILON, rel=1e-6)  # over epsilon: a wait
    clock.now = 1.0 - EPSILON  # refilled to exactly 1 - EPSILON
    assert lim.try_acquire() == 0.0


def test_repr_names_the_budget_or_the_rate() -> None:
    clock = StepClock()
    assert repr(limiter(5.0, clock)) == "RateLimiter('5.0', rate=5.0)"
    assert repr(limiter(Budget(300, 60.0), clock)) == "RateLimiter('300/60s', rate=5.0)"
    assert repr(limiter(None, clock)) == "RateLimiter(None, rate=None)"


@pytest.mark.parametrize(("gap", "learnt"), [(1.0, BETA * 2 / 2.0), (1.5, None)])
def test_an_unknown_rate_is_measured_over_the_last_two_seconds(
    gap: float, learnt: float | None
) -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    lim.acquire()
    clock.advance(1.0)
    lim.acquire()
    clock.advance(gap)  # the first send is then 2.0 s old (counted) or 2.5 s (not)
    lim.on_throttle()
    assert lim.rate == (None if learnt is None else pytest.approx(learnt))


def test_an_unknown_rate_is_measured_over_the_last_64_sends() -> None:
    clock = StepClock()
    lim = limiter(None, clock)
    for _ in range(100):
        assert lim.try_acquire() == 0.0  # unknown: not paced
    clock.advance(1.0)
    lim.on_throttle()
    assert lim.rate == pytest.approx(64 / 1.0 * BETA)  # 64 of the 100 sends, in 1 s


def test_a_timeout_retry_costs_ten_tokens_by_default() -> None:
    budget = RetryBudget()
    assert (budget.capacity, budget.retry_cost, budget.timeout_cost) == (500, 5, 10)
    assert budget.spend(timeout=True) == 10
    assert budget.available == 490
    assert budget.spend() == 5
    assert budget.available == 485


def test_a_ceiling_lowered_to_a_windows_own_rate_keeps_its_burst() -> None:
    clock = StepClock()
    lim = limiter(Budget(3, 1.0), clock)
    lim.lower_ceiling(3.0)
    assert lim.ceiling == 3.0
    assert grants(lim) == 3
    lower = limiter(Budget(3, 1.0), clock)
    lower.lower_ceiling(2.5)  # under it: paced smoothly
    assert lower.ceiling == lower.rate == 2.5
    assert grants(lower) == 1


def test_a_lowered_ceiling_above_a_cut_pace_keeps_the_cut() -> None:
    clock = StepClock()
    lim = limiter(10.0, clock)
    lim.acquire()
    lim.on_throttle()
    assert lim.rate == pytest.approx(7.0)
    lim.lower_ceiling(8.0)
    assert lim.ceiling == 8.0
    assert lim.rate == pytest.approx(7.0)
    lim.lower_ceiling(6.0)
    assert lim.rate == lim.ceiling == 6.0


# -- ScopedLimiter -----------------------------------------------------------------------------


def _scoped(clock: StepClock) -> ScopedLimiter:
    domains = limiter(Budget(3, 60.0), clock)
    other = limiter(None, clock)
    routes = [Budget(3, 60.0, "domains", paths="/v4/domains")]
    return ScopedLimiter({"domains": domains, "account": other}, routes, "account", "domains")


def test_a_pause_reaches_the_scope_of_the_request_only() -> None:
    clock = StepClock()
    lim = _scoped(clock)
    with requesting("/v4/domains"):
        lim.pause_for(5.0)
        assert lim.try_acquire() == 5.0
    with requesting("/v3/ips"):
        assert lim.try_acquire() == 0.0


def test_an_announcement_reaches_the_scope_of_the_request_with_its_limit() -> None:
    clock = StepClock()
    lim = _scoped(clock)
    with requesting("/v3/ips"):
        lim.announce(4, 0, 2.0)
        assert lim.rate == pytest.approx(2.0)  # 4 per 2 s
        assert lim.try_acquire() == 2.0
        clock.advance(2.0)
        assert grants(lim) == 4
    assert lim.rate == pytest.approx(3 / 60)  # the primary scope's own
    with requesting("/v4/domains"):
        assert grants(lim) == 3


# -- the registry: Redis URLs (nothing connects) and refusals --------------------------------


def test_the_limiter_url_given_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_limiter_url(None) is None
    assert resolve_limiter_url("memory://") == "memory://"
    monkeypatch.setenv(ENV_LIMITER_URL, REDIS_URL)
    assert resolve_limiter_url(None) == REDIS_URL
    assert resolve_limiter_url("memory://") == "memory://"
    monkeypatch.setenv(ENV_LIMITER_URL, "")
    assert resolve_limiter_url(None) is None


def test_a_redis_url_gets_a_redis_limiter_of_its_own_per_account() -> None:
    key = ("mailgun", "fp-1", "us")
    lim = shared_limiter(key, 5.0, url=REDIS_URL)
    assert isinstance(lim, RedisLimiter)
    assert lim.redis_key == redis_key(key) + ":account"
    assert lim.scope == "account"
    assert lim.ceiling == pytest.approx(5.0 * 0.98)  # paced just under the number
    assert repr(lim) == f"RedisLimiter({lim.redis_key!r}, url={REDIS_URL!r}, limit='4.9')"
    assert shared_limiter(key, 5.0, url=f" {REDIS_URL} ") is lim
    assert isinstance(shared_limiter(key, 5.0), RateLimiter)  # in memory: another one
    window = shared_limiter(("other",), Budget(300, 60.0), url=REDIS_URL)
    assert isinstance(window, RedisLimiter)
    assert window.budget == Budget(300, 60.0)
    assert window.redis_key == redis_key(("other",)) + ":account"


def test_a_redis_url_gets_one_redis_limiter_per_scope() -> None:
    spec = (Budget(300, 60, "domains", paths="/v4/domains"), Scope("pools", "/v3/ip_pools"))
    router = shared_limiter(("p", "acct"), spec, url=REDIS_URL)
    assert isinstance(router, ScopedLimiter)
    assert set(router.limiters) == {"domains", "pools", "account"}
    for scope, lim in router.limiters.items():
        assert isinstance(lim, RedisLimiter)
        assert lim.scope == scope
        assert lim.redis_key == f"{redis_key(('p', 'acct'))}:{scope}"
    domains, pools = router.limiters["domains"], router.limiters["pools"]
    assert isinstance(domains, RedisLimiter)
    assert domains.budget == spec[0]
    assert pools.ceiling is None


def test_a_redis_url_gets_a_redis_retry_budget() -> None:
    budget = shared_budget(("p", "acct"), url=REDIS_URL)
    assert isinstance(budget, RedisRetryBudget)
    assert budget.redis_key == BUDGET_PREFIX + redis_key(("p", "acct")).rpartition(":")[2]
    assert shared_budget(("p", "acct"), url=REDIS_URL) is budget
    memory = shared_budget(("p", "acct"))
    assert type(memory) is RetryBudget


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6399/0", "REDIS://127.0.0.1:6399/0",
                                 "rediss://127.0.0.1:6399/0", "redis+cluster://127.0.0.1:7000",
                                 "rediss+cluster://127.0.0.1:7000"])
def test_every_redis_scheme_is_taken(url: str) -> None:
    assert isinstance(shared_limiter(("k", url), 5.0, url=url), RedisLimiter)
    assert isinstance(shared_budget(("k", url), url=url), RedisRetryBudget)


@pytest.mark.parametrize(("url", "scheme"), [
    ("http://user:hunter2@127.0.0.1:6379/0", "http"),
    ("ftp://127.0.0.1/?next=redis://127.0.0.1", "ftp"),
    ("Memcached://127.0.0.1", "memcached"),
    ("127.0.0.1:6379", "bare"),
])
def test_a_url_that_is_not_a_limiter_is_refused_naming_only_its_scheme(
    url: str, scheme: str
) -> None:
    for make in (lambda: shared_limiter("k", 5.0, url=url), lambda: shared_budget("k", url)):
        with pytest.raises(ConfigError) as caught:
            make()
        assert type(caught.value) is ConfigError
        assert str(caught.value) == SCHEMES.format(repr(scheme))
        assert "hunter2" not in str(caught.value)


def test_without_the_redis_client_a_redis_url_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis: ModuleNotFoundError
    for make in (lambda: shared_limiter("k", 5.0, url=REDIS_URL),
                 lambda: shared_budget("k", REDIS_URL)):
        with pytest.raises(ConfigError) as caught:
            make()
        assert str(caught.value) == NO_CLIENT


def test_a_broken_redis_client_is_not_reported_as_a_missing_one(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis.connection", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        shared_limiter("k", 5.0, url=REDIS_URL)
    assert caught.value.name == "redis.connection"
