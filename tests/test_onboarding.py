"""The whole onboarding loop of issue 6 on the sandbox: a fleet file of 500 customers x 2
streams is planned, applied and re-planned to zero; its DNS records are exported in every
format; a local DNS server (127.0.0.1) serves them with some missing or wrong, and both the
DNS check and the sandbox's own verification (which looks them up at that server) report
exactly those; the waiter completes once the customer fixes them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import dns.zone
import pytest
import yaml
from support.dnsserver import LocalDns
from support.stepclock import StepClock

from espkit import dns as espdns
from espkit import fleet as fleet_file
from espkit.fleet import apply, plan
from espkit.verify import wait_until_verified


def fleet_text(db: str, nameserver: str, customers: int) -> str:
    rows = "\n".join(f"  - {{name: cust{n}, domain: cust{n}.example.com}}"
                     for n in range(customers))
    return f"""\
version: 1
connections:
  sandbox: {{provider: sandbox, path: "{db}", verify_dns: "{nameserver}"}}
pools:
  mkt: {{ips: [198.51.100.1, 198.51.100.2]}}
  txn: {{ips: [198.51.100.3]}}
streams:
  marketing: {{pool: mkt, domain: "news.{{domain}}"}}
  transactional: {{pool: txn, domain: "mail.{{domain}}"}}
defaults: {{dkim_key_size: 2048}}
customers:
{rows}
"""


@pytest.fixture
def local_dns():
    with LocalDns() as server:
        yield server


def test_onboarding_500_customers_end_to_end(tmp_path: Path, local_dns: LocalDns) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet_text(str(tmp_path / "sandbox.db"), local_dns.nameserver, 500))
    fleet = fleet_file.load(path)
    wanted = [d.name for d in fleet.domains()]
    assert len(wanted) == 1000

    acct = fleet.connections["sandbox"].connect()
    accounts = {"sandbox": acct}
    try:
        # plan, apply, re-plan to zero
        p = plan(fleet, accounts)
        assert p.counts()["create"] == 1002
        assert apply(p, accounts).ok
        assert plan(fleet, accounts).empty

        # export what customers must publish, in every format
        domains = [acct.domains.get(name) for name in wanted]
        customers = {d.name: d.customer for d in fleet.domains()}
        records = sum(len(d.dns_records) for d in domains)
        assert records == 5000

        zone = dns.zone.from_text(espdns.export(domains, "bind", customers=customers),
                                  origin="example.com.", check_origin=False)
        dkim = domains[0].records("dkim")[0]
        txt = zone.find_rdataset(dkim.host + ".", "TXT")
        assert b"".join(next(iter(txt)).strings).decode() == dkim.value  # >255 bytes, split

        rows = list(csv.DictReader(io.StringIO(espdns.export(domains, "csv",
                                                             customers=customers))))
        assert len(rows) == records
        assert {r["customer"] for r in rows} == {f"cust{n}" for n in range(500)}
        as_json = json.loads(espdns.export(domains, "json", customers=customers))
        assert len(as_json) == 1000
        octo = list(yaml.safe_load_all(espdns.export(domains, "octodns",
                                                     customers=customers)))
        assert octo
        assert sum(len(doc) for doc in octo if doc) >= 1000

        # the customer publishes, but not everything, and one record wrong
        for d in domains:
            local_dns.add_domain(d)
        broken = {domains[3].name, domains[10].name, domains[500].name}
        for name in broken:
            host = acct.domains.get(name).records("dkim")[0].host
            local_dns.remove(host, "TXT")
        cname = domains[42].records("tracking")[0]
        local_dns.remove(cname.host, "CNAME")
        local_dns.add(cname.host, "CNAME", "elsewhere.example.net")
        expected = {(name, "dkim") for name in broken} | {(domains[42].name, "tracking")}

        checks = espdns.check(domains, nameservers=[local_dns.nameserver], concurrency=32)
        assert len(checks) == records
        problems = {(c.domain, c.record.purpose.value): c.status.value
                    for c in checks if not c.ok}
        assert set(problems) == expected
        assert problems[(domains[42].name, "tracking")] == "wrong"
        assert {problems[(n, "dkim")] for n in broken} == {"missing"}

        # the sandbox verifies by asking the same server: 996 verify, 4 wait for the fix
        fixed: list[float] = []
        clock = StepClock()  # the deadline on a clock only the waits move, not the real one

        def customer_fixes_dns(seconds: float) -> None:
            if not fixed:
                for name in broken:
                    local_dns.add_record(acct.domains.get(name).records("dkim")[0])
                local_dns.remove(cname.host, "CNAME")
                local_dns.add_record(cname)
            fixed.append(seconds)
            clock.sleep(seconds)

        first = wait_until_verified(acct, wanted, timeout=60, poll=5,
                                    sleep=lambda s: None, clock=_stopped_clock())
        assert {r.domain for r in first.pending} == {n for n, _ in expected}
        stuck = {r.domain: {f.purpose.value for f in r.failing} for r in first.pending}
        assert stuck == {name: {purpose} for name, purpose in expected}

        report = wait_until_verified(acct, wanted, timeout=60, poll=5,
                                     sleep=customer_fixes_dns, clock=clock)
        assert report.ok, report.summary()
        assert len(report.verified) == 1000
        assert fixed  # it waited once for the fix, then everything verified
    finally:
        acct.close()


def _stopped_clock():
    """A clock past the deadline after the first round: one round, then the report."""
    ticks = iter([0.0] + [1e9] * 1_000_000)
    return lambda: next(ticks)
