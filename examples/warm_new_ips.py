"""Warm up two new dedicated IPs, day by day, on the sandbox.

Each day: read where each IP is in its warmup (its stage and today's cap), send no more
than the cap from it, and let the day end. After the last day, read the delivery figures of
the pool per day and chart them against the cap. The sandbox's clock moves a day at a time
(no real waiting) and it records what it is told was sent; on a real ESP the sends are the
platform's own and only the reads remain:

    python examples/warm_new_ips.py          # 14 days
    python examples/warm_new_ips.py 30       # until the IPs are warm
"""

from __future__ import annotations

import datetime as dt
import sys

import espkit
from espkit.cli.chart import bars
from espkit.sandbox import FakeClock

DAY = 86_400.0
DOMAIN = "news.acme.example"
POOL = "warming"
#: what the platform would send from the pool if nothing held it back
DEMAND = 40_000


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 14
    clock = FakeClock()
    with espkit.connect("sandbox", path=":memory:", clock=clock) as acct:
        acct.domains.create(DOMAIN)
        ips = [ip.address for ip in acct.ips.list() if ":" not in ip.address][:2]
        acct.pools.create(POOL, ips=ips)
        acct.domains.assign(DOMAIN, pool=POOL)
        for ip in ips:
            acct.ips.start_warmup(ip)
        first = dt.datetime.fromtimestamp(clock.time(), dt.timezone.utc).date()

        caps: list[int | None] = []
        for day in range(1, days + 1):
            today = 0
            for ip in ips:
                warmup = acct.ips.warmup_status(ip)
                cap = warmup.daily_cap
                send = DEMAND // len(ips) if cap is None else min(cap, DEMAND // len(ips))
                # the sandbox is told what went out; a real platform just sends
                acct.provider.record_sends(  # type: ignore[attr-defined]
                    DOMAIN, send, ip=ip, pool=POOL,
                    rates={"bounced_hard": 0.004, "bounced_soft": 0.01, "complained": 0.0003})
                today += send
            pool_cap = None if warmup.daily_cap is None else warmup.daily_cap * len(ips)
            caps.append(pool_cap)
            stage = (f"stage {warmup.stage}/{warmup.stages}" if warmup.stage is not None
                     else str(warmup.state))
            print(f"day {day:2}: {stage:12} cap {pool_cap or 'none':>7}  sent {today:,}")
            clock.advance(DAY)

        last = first + dt.timedelta(days=days - 1)
        rows = acct.stats.delivery(first, last, pool=POOL)
        sent = sum(r.sent or 0 for r in rows)
        bounced = sum(r.bounced or 0 for r in rows)
        print(f"\n{len(rows)} days, {sent:,} sent, bounce rate {bounced / sent:.2%}")
        for line in bars([(r.period.strftime("%m-%d"), r.sent, cap)
                          for r, cap in zip(rows, caps, strict=True)], width=30):
            print(line)
        states = {ip: str(acct.ips.warmup_status(ip).state) for ip in ips}
        print("now:", ", ".join(f"{ip} {state}" for ip, state in states.items()))


if __name__ == "__main__":
    main()
