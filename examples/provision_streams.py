"""Provision one customer's two streams, each on its own pool of dedicated IPs.

The same script runs on every provider. Where an ESP cannot do a step natively (Postmark has
no dedicated IPs; SendGrid and SparkPost bind pools per subaccount or per message, not per
domain) espkit raises ``Unsupported`` before sending anything, and the script prints the hint:

    python examples/provision_streams.py                 # the embedded sandbox
    ESPKIT_PROVIDER=mailgun python examples/provision_streams.py acme.com

It prints the DNS records the customer must publish, then what each domain sends from.
"""

from __future__ import annotations

import contextlib
import os
import sys

import espkit

STREAMS = {"marketing": "news", "transactional": "mail"}


def provision(acct: espkit.Account, customer_domain: str) -> dict[str, espkit.Domain]:
    """Domains for both streams; pools and assignments where the ESP has them."""
    domains = {}
    for stream, label in STREAMS.items():
        name = f"{label}.{customer_domain}"
        try:
            domains[stream] = acct.domains.create(name)
        except espkit.AlreadyExists:  # provisioning is re-runnable
            domains[stream] = acct.domains.get(name)

    try:
        ips = [ip.address for ip in acct.ips.list()]
        half = len(ips) // 2
        for (stream, members) in (("marketing", ips[:half]), ("transactional", ips[half:])):
            with contextlib.suppress(espkit.AlreadyExists):
                acct.pools.create(stream, ips=members)
        for stream, domain in domains.items():
            acct.domains.assign(domain.name, pool=stream)
    except espkit.Unsupported as exc:
        print(f"note: {exc}")
    return domains


def main() -> None:
    customer = sys.argv[1] if len(sys.argv) > 1 else "acme.example"
    acct = espkit.connect(os.environ.get("ESPKIT_PROVIDER", "sandbox"))
    for stream, domain in provision(acct, customer).items():
        print(f"== {stream}: {domain.name} ({domain.state})")
        for r in domain.dns_records:
            prio = f"{r.priority} " if r.priority is not None else ""
            print(f"   {r.purpose!s:<9} {r.type:<5} {r.host:<45} {prio}{r.value}")
        with contextlib.suppress(espkit.Unsupported):
            for a in acct.domains.assignments(domain.name):
                print(f"   sends from {a.kind} {a.target}")


if __name__ == "__main__":
    main()
