"""The fleet file's ``ramps:`` section as the loader reads it: ramps on the ``Fleet``, their
problems with the fleet file's lines, and a domain that lives on both sides of a move."""

from __future__ import annotations

import datetime as dt

import pytest

from espkit import fleet
from espkit.errors import ConfigError, FleetFileError
from espkit.ramp import route

FLEET = """\
version: 1
default_connection: old
connections:
  old: {provider: sandbox, path: ":memory:", like: mailgun}
  new: {provider: sandbox, path: ":memory:", like: sendgrid}
pools:
  mkt-old: {connection: old, ips: [198.51.100.1]}
  mkt-new: {connection: new, ips: [198.51.100.10, 198.51.100.11]}
streams:
  news: {connection: old, pool: mkt-old, domain: "news.{domain}"}
  news-new: {connection: new, pool: mkt-new, domain: "news.{domain}"}
customers:
  - {name: acme, domain: acme.com, streams: [news, news-new]}
"""  # 13 lines

RAMP = """\
ramps:
  move:
    from: old
    to: new
    streams: {news: news-new}
    steps: [10%, 50%, 100%]
    start: 2026-03-02
    salt: "test-salt-0123456789"
"""


def test_ramps_load_onto_the_fleet_and_route() -> None:
    f = fleet.loads(FLEET + RAMP)
    (ramp,) = f.ramps
    assert f.ramp("move") is ramp
    assert ramp.from_connection == "old"
    assert ramp.to_connection == "new"
    got = route(f, "acme", "news", "ana@example.com", on=dt.date(2026, 3, 2))
    assert got.connection in {"old", "new"}
    assert got.from_domain == "news.acme.com"  # the same domain on both sides
    with pytest.raises(ConfigError, match=r"no ramp 'nope'.*ramps: move"):
        f.ramp("nope")


def test_a_fleet_without_ramps_has_none() -> None:
    f = fleet.loads(FLEET)
    assert f.ramps == ()
    with pytest.raises(ConfigError, match="ramps: none"):
        f.ramp("move")


def test_a_ramp_problem_names_its_line_in_the_fleet_file() -> None:
    bad = RAMP.replace("to: new", "to: newer")
    with pytest.raises(FleetFileError) as info:
        fleet.loads(FLEET + bad)
    (problem,) = info.value.problems
    assert problem.line == 17  # the `to:` line
    assert "newer" in problem.message
    assert problem.path.startswith("ramps.move")


def test_ramps_must_be_a_mapping() -> None:
    with pytest.raises(FleetFileError) as info:
        fleet.loads(FLEET + "ramps: [move]\n")
    assert any(p.line == 14 for p in info.value.problems)


def test_one_domain_may_live_on_two_connections_but_not_twice_on_one() -> None:
    f = fleet.loads(FLEET)
    assert [d.connection for d in f.domains()] == ["old", "new"]
    assert {d.name for d in f.domains()} == {"news.acme.com"}
    same = FLEET.replace('news-new: {connection: new,', 'news-new: {connection: old,') \
                .replace("mkt-new: {connection: new,", "mkt-new: {connection: old,")
    with pytest.raises(FleetFileError, match="produced twice"):
        fleet.loads(same)


SEND_TIME = """\
version: 1
connections:
  sg: {provider: sandbox, path: ":memory:", like: sendgrid}
pools:
  mkt: {ips: [198.51.100.10]}
streams:
  news: {pool: mkt, domain: "news.{domain}"}
customers:
  - {name: acme, domain: acme.com}
"""


@pytest.mark.parametrize("like", ["sendgrid", "sparkpost"])
def test_a_stream_pool_on_an_esp_that_picks_pools_per_message_is_a_send_time_binding(
        like: str) -> None:
    import espkit
    from espkit.fleet import Action, Kind, apply, plan
    from espkit.ramp import route

    f = fleet.loads(SEND_TIME.replace("sendgrid", like))
    with espkit.connect("sandbox", path=":memory:", like=like) as acct:
        p = plan(f, {"sg": acct})
        kinds = sorted((c.action.value, c.kind.value) for c in p.changes)
        assert kinds == [("create", "domain"), ("create", "pool")]
        (domain,) = p.of(Action.CREATE, Kind.DOMAIN)
        assert domain.after == frozenset()  # nothing assigned: the message names the pool
        assert apply(p, {"sg": acct}).ok
        assert plan(f, {"sg": acct}).empty
    got = route(f, "acme", "news", "ana@example.com", on=dt.date(2026, 3, 2))
    assert got.options  # the pool travels with each message
    assert "mkt" in str(got.payload())


def test_an_esp_that_binds_pools_per_domain_still_assigns() -> None:
    import espkit
    from espkit.fleet import Action, Kind, plan

    f = fleet.loads(SEND_TIME.replace("sendgrid", "mailgun"))
    with espkit.connect("sandbox", path=":memory:", like="mailgun") as acct:
        (domain,) = plan(f, {"sg": acct}).of(Action.CREATE, Kind.DOMAIN)
        assert domain.after == frozenset({("pool", "mkt")})
