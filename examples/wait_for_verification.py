"""Create domains, show their records, and wait until the ESP sees them: one, then a fleet.

On the sandbox records become valid a few seconds after creation (``verify_delay``), the way
real ESPs see DNS changes only after they propagate.

    python examples/wait_for_verification.py [domain]
"""

from __future__ import annotations

import sys

import espkit


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "receipts.acme.example"
    zone = name.split(".", 1)[1]
    fleet = [f"{label}.{zone}" for label in ("news", "billing", "support")]
    acct = espkit.connect("sandbox", path=":memory:", verify_delay=2.0)
    d = acct.domains.create(name)
    for other in fleet:
        acct.domains.create(other)
    print(f"{d.name}: publish these records")
    for r in d.dns_records:
        print(f"  {r.type:<5} {r.host} -> {r.value[:50]}  [{r.status}]")

    # one domain: returns it once verified, raises VerificationTimeout if not in time
    try:
        d = acct.domains.wait_until_verified(name, timeout=30, poll=0.5)
    except espkit.VerificationTimeout as exc:
        raise SystemExit(str(exc)) from None
    print(f"{d.name} is {d.state}; {sum(r.valid for r in d.dns_records)} records valid")

    # a fleet: never raises for late DNS; every domain comes back with its outcome
    typo = f"suport.{zone}"  # never created: fails with NotFound, the others are unaffected
    report = espkit.wait_until_verified(acct, [*fleet, typo], timeout=30, poll=0.5)
    for result in report.results:
        print(f"  {result.domain}: {result.outcome}"
              + (f" ({type(result.error).__name__})" if result.error else ""))
    print(report.summary())


if __name__ == "__main__":
    main()
