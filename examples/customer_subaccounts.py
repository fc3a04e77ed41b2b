"""One subaccount per customer, each with its own sending domain.

    python examples/customer_subaccounts.py [number-of-customers]
"""

from __future__ import annotations

import os
import sys

import espkit


def onboard(acct: espkit.Account, customer: str) -> espkit.Domain:
    sub = next((s for s in acct.subaccounts.list() if s.name == customer), None)
    if sub is None:
        sub = acct.subaccounts.create(customer)
    scoped = acct.on_behalf_of(sub)
    name = f"mail.{customer}.example"
    try:
        return scoped.domains.create(name)
    except espkit.AlreadyExists:
        return scoped.domains.get(name)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    acct = espkit.connect(os.environ.get("ESPKIT_PROVIDER", "sandbox"))
    for i in range(1, count + 1):
        d = onboard(acct, f"customer-{i}")
        print(f"customer-{i}: {d.name} needs {len(d.dns_records)} DNS records")
    print(f"{sum(1 for _ in acct.subaccounts.list())} subaccounts in the account")


if __name__ == "__main__":
    main()
