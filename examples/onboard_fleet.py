"""Onboard customers from a fleet file on the sandbox: plan, apply, re-plan, export the DNS
records customers must publish, and wait for the whole fleet to verify (subaccounts too).

    python examples/onboard_fleet.py [customers] [workdir]

Writes ``fleet.yaml`` and the exports into ``workdir`` (a temporary directory by default).
The same steps from the shell are in docs/cookbook-onboarding.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import espkit
from espkit import dns, fleet
from espkit.fleet import applier as apply
from espkit.fleet import planner as plan

FLEET = """\
version: 1
connections:
  sandbox: {{provider: sandbox}}      # the sandbox file in $ESPKIT_SANDBOX_DB or the default
ownership:
  domains: ["*.example.com"]         # the fleet owns these: removed ones get deleted
pools:
  mkt: {{ips: [198.51.100.1, 198.51.100.2]}}
  txn: {{ips: [198.51.100.3]}}
streams:
  marketing:     {{pool: mkt, domain: "news.{{domain}}"}}
  transactional: {{pool: txn, domain: "mail.{{domain}}"}}
defaults:
  dkim_key_size: 2048
templates:
  enterprise: {{streams: [marketing, transactional], subaccount: "{{customer}}"}}
customers:
{customers}
"""


def write_fleet(workdir: Path, customers: int) -> Path:
    rows = []
    for n in range(customers):
        # every tenth customer is an enterprise one, in a subaccount of its own
        template = ", template: enterprise" if n % 10 == 0 else ""
        rows.append(f"  - {{name: customer{n}, domain: customer{n}.example.com{template}}}")
    path = workdir / "fleet.yaml"
    path.write_text(FLEET.format(customers="\n".join(rows)))
    return path


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    workdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp())
    workdir.mkdir(parents=True, exist_ok=True)
    wanted = fleet.load(write_fleet(workdir, customers))
    acct = wanted.connections["sandbox"].connect()
    accounts = {"sandbox": acct}
    try:
        first = plan.plan(wanted, accounts)
        print(first.summary())
        report = apply.apply(first, accounts)
        print(report.summary())
        print(plan.plan(wanted, accounts).summary())  # right after: nothing left to do

        # the records each customer must publish, read from the account (subaccount
        # domains inside their subaccount)
        subs = {s.name: s for s in acct.subaccounts.list()}
        domains, owners = [], {}
        for d in wanted.domains():
            scope = acct.on_behalf_of(subs[d.subaccount]) if d.subaccount else acct
            domains.append(scope.domains.get(d.name))
            owners[d.name] = d.customer
        for fmt, suffix in (("bind", "zone"), ("csv", "csv"), ("json", "json")):
            out = workdir / f"records.{suffix}"
            out.write_text(dns.export(domains, fmt, customers=owners))
            print(f"wrote {out}")

        # every declared domain, each verified in its subaccount, in rounds paced by the
        # account's rate limit; the sandbox verifies at once (give its connection
        # verify_dns: IP:PORT to have it look the records up in a DNS server you run, as a
        # real ESP does)
        waited = espkit.wait_for_fleet(wanted, accounts, timeout=60, poll=5)
        print(waited.summary())
        for stuck in waited.pending:
            print(f"  {stuck.domain} ({stuck.scope or 'main account'}):",
                  [f"{r.type} {r.host}" for r in stuck.failing])
    finally:
        acct.close()


if __name__ == "__main__":
    main()
