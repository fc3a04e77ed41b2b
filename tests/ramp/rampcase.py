"""What the ramp tests share: a small fleet moving stream ``news`` from connection ``old``
(a sandbox like Mailgun) to ``new`` (a sandbox like SendGrid), read the way the fleet loader
will read it: the fleet by ``espkit.fleet.loads``, the ``ramps:`` section by the fleet's
own reader (for its lines) and ``parse_ramps``."""

from __future__ import annotations

from pathlib import Path

from espkit import fleet as fleet_file
from espkit.fleet import Fleet
from espkit.fleet.reader import Reader
from espkit.ramp import Ramp, parse_ramps

SALT = "test-salt-0123456789"

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
  news-new: {connection: new, pool: mkt-new, domain: "news2.{domain}"}
  mail: {connection: old, domain: "mail.{domain}"}
customers:
  - {name: acme, domain: acme.com}
  - {name: globex, domain: globex.com}
"""

RAMP = """\
ramps:
  move:
    from: old
    to: new
    streams: {news: news-new}
    steps: [1%, 5%, 25%, 50%, 100%]
    start: 2026-03-02
    salt: "test-salt-0123456789"
    daily_volume: {news: 10000}
"""


def load(fleet_text: str = FLEET, ramps_text: str = RAMP
         ) -> tuple[Fleet, tuple[Ramp, ...], list[tuple[str, str, int | None]]]:
    """The fleet, its ramps and the problems, as the loader will get them (the lines are
    those of ``fleet_text + ramps_text``)."""
    fleet = fleet_file.loads(fleet_text)
    reader = Reader("<test>", Path("."))
    data = reader.parse(fleet_text + ramps_text)
    assert reader.problems == [], reader.problems
    ramps, problems = parse_ramps(data.get("ramps"), reader.line_of, fleet)
    return fleet, ramps, problems


def ramp_of(ramps_text: str = RAMP, fleet_text: str = FLEET) -> tuple[Fleet, Ramp]:
    fleet, ramps, problems = load(fleet_text, ramps_text)
    assert problems == [], problems
    return fleet, ramps[0]
