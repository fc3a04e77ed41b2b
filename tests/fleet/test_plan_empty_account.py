"""``min_existing: 0`` on an account that has nothing yet: the safety shares have nothing to
be a share of, and the plan is safe (before: ZeroDivisionError out of ``Plan.check``)."""

from __future__ import annotations

import espkit
from espkit import fleet

TEXT = """version: 1
connections:
  main: {provider: sandbox, path: ':memory:'}
safety: {max_delete: 0%, max_reassign: 0, min_existing: 0}
pools:
  mkt: {ips: [192.0.2.10]}
streams:
  marketing: {pool: mkt, domain: 'news.{domain}'}
customers:
  - {name: acme, domain: acme.example}
"""


def test_a_plan_for_an_empty_account_with_min_existing_zero_is_safe() -> None:
    wanted = fleet.loads(TEXT)
    acct = espkit.connect("sandbox", path=":memory:")
    try:
        p = fleet.plan(wanted, {"main": acct})
        assert p.changes                       # a pool and a domain to create
        assert p.safe()
        p.check()                              # raises nothing, typed or not
    finally:
        acct.close()
