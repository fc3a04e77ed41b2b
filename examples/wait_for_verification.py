"""Create a domain, show its records, and wait until the ESP sees them.

On the sandbox records become valid a few seconds after creation (``verify_delay``), the way
real ESPs see DNS changes only after they propagate.

    python examples/wait_for_verification.py [domain]
"""

from __future__ import annotations

import sys

import espkit


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "receipts.acme.example"
    acct = espkit.connect("sandbox", path=":memory:", verify_delay=2.0)
    d = acct.domains.create(name)
    print(f"{d.name}: publish these records")
    for r in d.dns_records:
        print(f"  {r.type:<5} {r.host} -> {r.value[:50]}  [{r.status}]")
    try:
        d = acct.domains.wait_until_verified(name, timeout=30, interval=0.5)
    except espkit.VerificationTimeout as exc:
        raise SystemExit(str(exc)) from None
    print(f"{d.name} is {d.state}; {sum(r.valid for r in d.dns_records)} records valid")


if __name__ == "__main__":
    main()
