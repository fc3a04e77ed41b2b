"""Move every customer's mail from one ESP to another over 21 sending days, on the sandbox.

The whole move of docs/cookbook-migration.md, as examples/migration-fleet.yaml declares it:
2,300 customers x 2 streams (marketing, transactional) leave connection ``old`` (a sandbox
playing Mailgun) for ``new`` (a sandbox playing SendGrid).

1. The old side as it runs today; ``apply`` provisions the new side: its pools, the same
   sending domains, and the warmup of its IPs (``warmup: auto``).
2. The DNS records customers publish, exported; they turn valid two days later (the new
   sandbox's ``verify_delay``), and the wait for verification; the new side is then ready.
3. The ramp's capacity check against the new IPs' warmup.
4. 21 sending days. Each morning the guardrails are read from the new side's stats and the
   ramp advances a step, or not. Through the day a sample of each customer's recipients
   (``RECIPIENTS`` per stream) is routed by ``espkit.ramp.router`` and recorded as sent on
   the side it chose; the new IPs bounce a little more while they warm up. On day 8 a
   mailbox provider bounces much of the new IPs' mail: on day 9 ``advance`` is refused, the
   ramp is held and rolled back a step, and it resumes once the bounces are gone.

The sandbox clock moves a day at a time: nothing waits. Along the way the example checks
what the ramp promises: nobody goes back to the old side on an advance, a rollback moves
back exactly the recipients that moved last, the new IPs never send over their warmup cap,
and each side's stats count what was routed to it.

    python examples/migrate_esp.py [customers] [workdir]     # 2,300 customers by default

The fleet file, the ramp state file (every decision, one a line), the DNS records and the
routing export are left in ``workdir`` (a temporary directory by default).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import attrs

import espkit
from espkit import dns, fleet
from espkit.account import Account
from espkit.errors import UnsafePlan
from espkit.fleet import Fleet, apply, plan
from espkit.models import DeliveryStats
from espkit.ramp import (
    Ramp,
    RampState,
    RampStatus,
    Router,
    SendingRoute,
    advance,
    export,
    format_share,
    hold,
    load_export,
    load_state,
    resume,
    rollback,
    route,
    router,
    save_state,
    state_path,
    status,
)
from espkit.ramp import plan as capacity
from espkit.sandbox import FakeClock

FLEET = Path(__file__).resolve().with_name("migration-fleet.yaml")
DAY = 86_400
DAYS = 21
#: sampled recipients per customer and stream: enough to show the split, and fast
RECIPIENTS = 20
#: the day a mailbox provider bounces much of the new IPs' mail
INCIDENT = 8
#: fewer customers send under the guardrails' min_sent on the days that matter
MIN_CUSTOMERS = 150
MAILBOXES = ("gmail.example", "outlook.example", "yahoo.example", "icloud.example")
#: who signs the decisions in the ramp state file
BY = "ramp-job"


def at(day: dt.date, hour: int = 0) -> float:
    """Epoch seconds of ``hour`` o'clock UTC on ``day``: where the sandbox clock is set."""
    return dt.datetime.combine(day, dt.time(hour), dt.timezone.utc).timestamp()


def expect(ok: bool, what: str) -> None:
    """The example's own checks of what the ramp promises."""
    if not ok:
        raise AssertionError(what)


def write_fleet(workdir: Path, customers: int) -> Path:
    """The example's fleet file, with its ``customers.csv`` beside it and no ramp state yet
    (the sandboxes live in memory: every run starts the move from scratch)."""
    path = workdir / FLEET.name
    shutil.copyfile(FLEET, path)
    state_path(path).unlink(missing_ok=True)
    rows = "".join(f"customer{n},customer{n}.example.com\n" for n in range(customers))
    (workdir / "customers.csv").write_text("name,domain\n" + rows)
    return path


def one_side(f: Fleet, connection: str) -> Fleet:
    """The fleet as far as one connection goes: plan reads and changes only that account."""
    return attrs.evolve(f, connections={connection: f.connections[connection]})


@attrs.define
class Move:
    """What the steps share: the fleet and its ramp, both accounts on one clock, the
    sampled recipients (recipient ``k`` of customer ``n`` is number ``n * RECIPIENTS + k``)."""

    f: Fleet
    ramp: Ramp
    accounts: dict[str, Account]
    clock: FakeClock
    workdir: Path
    state_file: Path
    names: list[str]
    recipients: list[list[str]]

    @property
    def streams(self) -> list[str]:
        return [old for old, _ in self.ramp.streams]

    @property
    def new_ips(self) -> list[str]:
        return [ip for pool in self.f.pools_of("new") for ip in pool.ips]

    def pool_ids(self) -> dict[str, dict[str, str]]:
        """Each account's pool ids by name: the options of ESPs that name a pool by id
        (Mailgun's ``o:sending-ip-pool``) need them in the route."""
        return {c: {p.name: p.id for p in a.pools.list() if p.id}
                for c, a in self.accounts.items()}


def provision(m: Move) -> None:
    """Steps 1 and 2: the new side made, its DNS records out, verified, warming up."""
    old, new = m.accounts["old"], m.accounts["new"]
    # before the move: the platform as it runs today, on the old ESP only
    apply(plan(one_side(m.f, "old"), {"old": old}), {"old": old})
    print(f"before the move: {sum(1 for _ in old.domains.list()):,} domains send from old")

    # the plan of the whole fleet creates only what the new side lacks, warmups included
    p = plan(m.f, m.accounts)
    print(p.summary())
    print(apply(p, m.accounts).summary())

    # the records customers publish for the new ESP, grouped by customer
    domains = list(new.domains.list())
    owners = {d.name: d.customer for d in m.f.domains("new")}
    zone = m.workdir / "new-side.zone"
    zone.write_text(dns.export(domains, "bind", customers=owners))
    records = sum(len(d.dns_records) for d in domains)
    print(f"wrote {zone.name}: {records:,} records of {len(domains):,} domains")
    # customers publish them over the next days; then the ESP is asked to verify. Only the
    # new account is waited for: the old side's domains have the same names, and have been
    # sending all along (wait_for_fleet would wait for both sides' domains)
    m.clock.advance(3 * DAY)
    report = espkit.wait_until_verified(new, [d.name for d in domains], timeout=3600,
                                        sleep=m.clock.sleep, clock=m.clock.monotonic)
    print(report.summary())

    # ready: nothing left to change on the new side, everything verified, the IPs warming
    left = plan(one_side(m.f, "new"), {"new": new})
    expect(report.ok and left.empty, "the new side is not ready: the ramp must not start")
    for ip in m.new_ips:
        w = new.ips.warmup_status(ip)
        print(f"  new IP {ip}: {w.state}, stage {w.stage}/{w.stages}, {w.daily_cap:,} a day")


def decide(ramp: Ramp, state: RampState, today: dt.date, st: RampStatus,
           rows: list[DeliveryStats]) -> tuple[RampState, str, str]:
    """The morning's decisions: the new state, what was done, and the refusal if any."""
    if today == ramp.start:
        return state, "start", ""
    if st.complete:
        return state, "complete", ""
    done = ""
    if st.held:
        if st.breached:
            return state, "held: still breached", ""
        state = resume(ramp, state, today, by=BY, note="bounces back under the guardrail")
        done = "resume, "
    try:
        state = advance(ramp, state, today, stats_rows=rows, by=BY)
        return state, done + "advance", ""
    except UnsafePlan as refused:
        state = hold(ramp, state, today, by=BY, note="new side's bounce rate breached")
        state = rollback(ramp, state, today, by=BY, note="back off while it clears")
        step = state.decisions[-1].step
        return state, f"advance refused: hold, roll back to step {step}", str(refused)


def rates(side: str, day: int) -> tuple[float, float, float]:
    """Hard bounces, soft bounces and complaints as shares of a day's mail on one side: the
    new IPs bounce a little more while they warm up, and a lot on the incident's day."""
    if side == "old":
        return 0.003, 0.004, 0.0002
    warming = 0.004 * (DAYS - day) / (DAYS - 1)
    soft = 0.09 if day == INCIDENT else 0.004 + warming
    return 0.003 + warming, soft, 0.0003


#: a day's mail as routed: (customer's index, the route, messages), per customer, stream
#: and side
Routed = list[tuple[int, SendingRoute, int]]


def route_day(m: Move, send: Router) -> tuple[Routed, dict[str, set[int]]]:
    """Route every sampled message of the day; and who is on the new side, per stream."""
    routed: Routed = []
    on_new: dict[str, set[int]] = {s: set() for s in m.streams}
    for n, name in enumerate(m.names):
        for stream in m.streams:
            moved = on_new[stream]
            counts: dict[str, int] = {}
            routes: dict[str, SendingRoute] = {}
            for k, rcpt in enumerate(m.recipients[n]):
                r = send(name, stream, rcpt)
                if r.side == "new":
                    moved.add(n * RECIPIENTS + k)
                counts[r.side] = counts.get(r.side, 0) + 1
                routes[r.side] = r
            routed += [(n, routes[side], count) for side, count in counts.items()]
    return routed, on_new


def record_day(m: Move, routed: Routed, day: int, owed: dict[str, list[float]]
               ) -> tuple[Counter[str], Counter[str]]:
    """Tell each side's sandbox what its domains sent, through which IP of their pool, and
    how much of it bounced: spread evenly at the day's rates, ``owed`` carrying fractions of
    a message from one record to the next. Returns the messages per side and per IP."""
    pool_ips = {p.name: p.ips for p in m.f.pools}
    per_side: Counter[str] = Counter()
    per_ip: Counter[str] = Counter()
    for n, r, count in routed:
        figures = []
        room = count  # a message bounces hard or soft, or is delivered (and may complain)
        for i, rate in enumerate(rates(r.side, day)):
            owed[r.side][i] += count * rate
            whole = min(int(owed[r.side][i]), room)
            owed[r.side][i] -= whole
            room -= whole
            figures.append(whole)
        assert r.pool is not None
        ips = pool_ips[r.pool]
        ip = ips[n % len(ips)]
        m.accounts[r.connection].provider.record_sends(  # type: ignore[attr-defined]
            r.from_domain, count, ip=ip, bounced_hard=figures[0], bounced_soft=figures[1],
            complained=figures[2])
        per_side[r.side] += count
        per_ip[ip] += count
    return per_side, per_ip


class Promises:
    """Who is on the new side from day to day: an advance only moves recipients to the new
    side, a rollback moves back exactly the ones that moved last, and the advance after it
    moves those same ones again."""

    def __init__(self, streams: list[str]) -> None:
        self.on_new: dict[str, set[int]] = {s: set() for s in streams}
        self.moved_last: dict[str, set[int]] = {s: set() for s in streams}
        self.to_return: dict[str, set[int]] = {s: set() for s in streams}
        self.step = 0
        self.advances = 0
        self.moved_back = 0
        self.returned = 0

    def day(self, day: int, step: int, on_new: dict[str, set[int]]) -> None:
        for s, now in on_new.items():
            before = self.on_new[s]
            if step > self.step:
                expect(before <= now, f"day {day}: an advance sent {s} mail back to old")
                self.moved_last[s] = now - before
                expect(self.to_return[s] <= now, f"day {day}: {s} recipients that moved "
                                                 "back did not move again first")
                self.returned += len(self.to_return[s])
                self.to_return[s] = set()
            elif step < self.step:
                back = before - now
                expect(now <= before and back == self.moved_last[s],
                       f"day {day}: the rollback moved other {s} recipients than the "
                       "ones that moved last")
                self.to_return[s] = back
                self.moved_back += len(back)
            else:
                expect(now == before, f"day {day}: {s} recipients moved without a decision")
            self.on_new[s] = now
        self.advances += 0 < self.step < step
        self.step = step


def run_ramp(m: Move) -> tuple[Counter[str], Promises]:
    """Step 4: the 21 sending days, one line each; the messages sent per side, and what
    the routing checks found."""
    new = m.accounts["new"]
    pool_ids = m.pool_ids()
    promises = Promises(m.streams)
    sent: Counter[str] = Counter()
    over_cap: list[str] = []
    owed = {side: [0.5, 0.5, 0.5] for side in ("old", "new")}  # counts rounded half up
    print(f"\n{'day':>3}  {'date':10}  {'step':>4}  {'share':>5}  {'sent old':>9}  "
          f"{'sent new':>9}  {'new bounce':>10}  {'guardrail':>9}  decision")
    m.clock.advance(at(m.ramp.start, 12) - m.clock.time())
    for day in range(1, DAYS + 1):
        today = m.ramp.start + dt.timedelta(days=day - 1)
        # the morning: the decisions so far, and the new side's figures over the window
        state = load_state(m.state_file)
        first = today - dt.timedelta(days=m.ramp.guardrails.window_days - 1)
        rows = new.stats.delivery(first, today)
        st = status(m.ramp, state, today, rows)
        state, decision, refusal = decide(m.ramp, state, today, st, rows)
        save_state(m.state_file, state)
        caps = {ip: new.ips.warmup_status(ip).daily_cap for ip in m.new_ips}

        # the day: every message routed, then recorded on the side it went to
        send = router(m.f, on=today, state=state, pool_ids=pool_ids)
        pos = send.positions[m.ramp.name]
        routed, on_new = route_day(m, send)
        per_side, per_ip = record_day(m, routed, day, owed)
        promises.day(day, pos.step, on_new)
        sent.update(per_side)
        over_cap += [f"day {day} {ip}" for ip, most in caps.items()
                     if most is not None and per_ip[ip] > most]

        (row,) = new.stats.delivery(today, today)
        bounce = st.readings[0]
        judged = f"{bounce.rate / 10_000:.2f}%" if bounce.judged and bounce.rate else "-"
        print(f"{day:>3}  {today}  {pos.step:>4}  {format_share(pos.share):>5}  "
              f"{per_side['old']:>9,}  {per_side['new']:>9,}  {row.bounce_rate or 0:>10.2%}"
              f"  {judged:>9}  {decision}")
        if refusal:
            print(f"     {refusal}")
        m.clock.advance(DAY)
    print("new IPs over their warmup cap: " + (", ".join(over_cap) or "never"))
    return sent, promises


def wrap_up(m: Move, sent: Counter[str], promises: Promises) -> None:
    """Where the move ended, checked against each side's stats; a route; the export."""
    last = m.ramp.start + dt.timedelta(days=DAYS - 1)
    state = load_state(m.state_file)
    final = status(m.ramp, state, last)
    print(f"\n{m.ramp.name} on {last}: step {final.step} of {final.steps}, "
          f"{format_share(final.share)} on the new side"
          + (" (complete)" if final.complete else ""))
    for side, acct in m.accounts.items():
        total = sum(r.sent or 0 for r in acct.stats.delivery(m.ramp.start, last))
        expect(total == sent[side], f"{side}'s stats differ from what was sent there")
        print(f"  {side}: {total:,} messages over the {DAYS} days")
    expect(promises.returned == promises.moved_back > 0, "the rollback was not undone")
    print(f"routing: {promises.advances} advances, none sent a recipient back to old; the "
          f"rollback moved back {promises.moved_back:,} recipients, exactly the ones that "
          "moved last, and the next advance moved them again")
    for ip in m.new_ips:
        w = m.accounts["new"].ips.warmup_status(ip)
        print(f"  new IP {ip}: {w.state}, stage {w.stage}/{w.stages}")

    # one message's complete route: the connection, the domain, the ESP's pool option
    pool_ids = m.pool_ids()
    name, rcpt = m.names[0], m.recipients[0][0]
    for on in (m.ramp.start, last):
        r = route(m.f, name, "marketing", rcpt, on=on, state=state, pool_ids=pool_ids)
        print(f"route of {name}'s marketing to {rcpt} on {on}: {r.connection}, from "
              f"{r.from_domain}, {dict(r.options)}")

    # a sender in another language routes from the export: it agrees with route
    text = export(m.ramp, state)
    (m.workdir / f"{m.ramp.name}.routing.json").write_text(text)
    definition = load_export(text)
    days = (m.ramp.start + dt.timedelta(days=INCIDENT), last)
    agree = all(definition.new_side(s, rcpt, on) == (send(m.names[n], s, rcpt).side == "new")
                for on in days for send in [router(m.f, on=on, state=state)]
                for n in range(0, len(m.names), 50) for s in m.streams
                for rcpt in m.recipients[n])
    print(f"export: {definition.checksum[:19]}...; agrees with route: {agree}")
    print(f"\n{m.state_file.name}:")
    print(m.state_file.read_text(), end="")


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 2300
    if customers < MIN_CUSTOMERS:
        raise SystemExit(f"give at least {MIN_CUSTOMERS} customers: with fewer, the new "
                         "side sends under the guardrails' min_sent and they judge nothing")
    workdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp())
    workdir.mkdir(parents=True, exist_ok=True)
    fleet_path = write_fleet(workdir, customers)
    f = fleet.load(fleet_path)
    ramp = f.ramp("to-sendgrid")
    # one clock for both ESPs, a week before the ramp starts
    clock = FakeClock(at(ramp.start - dt.timedelta(days=7), 9))
    accounts = {name: espkit.connect(c.provider, clock=clock, **c.options)
                for name, c in f.connections.items()}
    # who gets mail: the same sample of each customer's list every day
    names = [c.name for c in f.customers]
    recipients = [[f"r{k}.{name}@{MAILBOXES[k % len(MAILBOXES)]}" for k in range(RECIPIENTS)]
                  for name in names]
    m = Move(f, ramp, accounts, clock, workdir, state_path(fleet_path), names, recipients)
    try:
        provision(m)
        volume = customers * RECIPIENTS
        cap = capacity(f, ramp, days=DAYS, volumes=dict.fromkeys(m.streams, volume))
        print(f"capacity: {len(cap.days)} stream-days of {volume:,} messages against "
              f"{cap.schedule}: {len(cap.over)} over")
        sent, promises = run_ramp(m)
        wrap_up(m, sent, promises)
    finally:
        for acct in accounts.values():
            acct.close()


if __name__ == "__main__":
    main()
