"""A connection's ``rate_limit`` in a fleet file takes what ``espkit.connect`` takes: requests
per second, or a count per window (``"300/min"``). A budget espkit cannot read is a problem
with its line, found when the file is loaded, before any connection is made."""

from __future__ import annotations

import pytest

from espkit import fleet
from espkit.errors import FleetFileError
from espkit.transport.ratelimit import Budget


def text(value: str) -> str:
    return ("version: 1\nconnections:\n  m:\n    provider: sandbox\n    path: ':memory:'\n"
            f"    rate_limit: {value}\n")


@pytest.mark.parametrize(("value", "expected"), [
    ("'300/min'", "300/min"), ("'500/10s'", "500/10s"), ("'5/s'", "5/s"), ("12.5", 12.5),
])
def test_a_count_per_window_or_a_rate_is_taken_as_written(value: str, expected: object) -> None:
    loaded = fleet.loads(text(value))
    assert loaded.connections["m"].options["rate_limit"] == expected


def test_the_budget_reaches_the_connection_limiter() -> None:
    acct = fleet.loads(text("'30/6s'")).connections["m"].connect()
    try:
        limiter = acct.provider.transport.limiter  # type: ignore[attr-defined]
        assert limiter.budget == Budget(30, 6)
    finally:
        acct.close()


@pytest.mark.parametrize(("value", "reason"), [
    ("'300/fortnight'", "count per window"),
    ("'0/min'", ""),
    ("'abc'", "count per window"),
    ("'20000'", "must be at most"),    # a rate written as text: held to the number's bounds
    ("'0.001'", "must be at least"),
])
def test_a_budget_espkit_cannot_read_is_a_problem_with_its_line(value: str, reason: str) -> None:
    with pytest.raises(FleetFileError) as info:
        fleet.loads(text(value))
    [problem] = info.value.problems
    assert problem.line == 6
    assert problem.path == "connections.m.rate_limit"
    assert reason in problem.message


@pytest.mark.parametrize("value", ["'10000'", "'0.01'"])
def test_a_rate_written_as_text_at_its_bounds_is_taken(value: str) -> None:
    assert fleet.loads(text(value)).connections["m"].options["rate_limit"] == value.strip("'")


@pytest.mark.parametrize("scheme", ["redis+cluster", "rediss+cluster"])
def test_a_cluster_limiter_url_defaults_to_the_redis_port(scheme: str) -> None:
    """An opt-in for host:6379 covers a Redis Cluster URL that names no port, as it covers
    redis://; another port is still refused."""
    body = ("version: 1\nconnections:\n  m:\n    provider: mailgun\n"
            f"    limiter_url: {scheme}://cache.internal/0\n")
    allowed = fleet.Trust(hosts=["cache.internal:6379"])
    assert "m" in fleet.loads(body, trust=allowed).connections
    with pytest.raises(FleetFileError, match=r"cache\.internal:7000"):
        fleet.loads(body.replace("/0", ":7000/0"), trust=allowed)
