"""Provision one customer's two streams, each on its own pool of dedicated IPs.

Runs unchanged on any provider that supports pools and domain assignment:

    python examples/provision_streams.py                 # the embedded sandbox
    ESPKIT_PROVIDER=mailgun python examples/provision_streams.py acme.com

It prints the DNS records the customer must publish, then what each domain sends from.
"""

from __future__ import annotations

import contextlib
import os
import sys

import espkit


def provision(acct: espkit.Account, customer_domain: str) -> dict[str, espkit.Domain]:
    ips = [ip.address for ip in acct.ips.list()]
    if len(ips) < 2:
        raise SystemExit(f"need at least two dedicated IPs, the account has {len(ips)}")
    half = len(ips) // 2
    pools = {"marketing": ips[:half], "transactional": ips[half:]}
    streams = {"marketing": f"news.{customer_domain}", "transactional": f"mail.{customer_domain}"}

    for pool, members in pools.items():
        with contextlib.suppress(espkit.AlreadyExists):  # provisioning is re-runnable
            acct.pools.create(pool, ips=members)

    domains = {}
    for stream, name in streams.items():
        try:
            domains[stream] = acct.domains.create(name)
        except espkit.AlreadyExists:
            domains[stream] = acct.domains.get(name)
        acct.domains.assign(name, pool=stream)
    return domains


def main() -> None:
    customer = sys.argv[1] if len(sys.argv) > 1 else "acme.example"
    acct = espkit.connect(os.environ.get("ESPKIT_PROVIDER", "sandbox"))
    for stream, domain in provision(acct, customer).items():
        print(f"== {stream}: {domain.name} ({domain.state})")
        for r in domain.dns_records:
            prio = f"{r.priority} " if r.priority is not None else ""
            print(f"   {r.purpose!s:<9} {r.type:<5} {r.host:<45} {prio}{r.value}")
        for a in acct.domains.assignments(domain.name):
            print(f"   sends from {a.kind} {a.target}")


if __name__ == "__main__":
    main()
