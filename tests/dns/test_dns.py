"""espkit.dns: exports checked by parsing them back, live checks against a real DNS server on
127.0.0.1 (tests/support/dnsserver.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator

import attrs
import dns.rdatatype
import dns.zone
import pytest
import yaml
from support import dnsserver
from support.dnsserver import LocalDns, closed_port

import espkit
from espkit import dns as edns
from espkit.dns import CheckStatus, DnsExportError
from espkit.errors import ConfigError
from espkit.models import DnsRecord, Domain, RecordPurpose
from espkit.sandbox import records as sandbox_records

dns_server = dnsserver.dns_server  # the fixture

P = RecordPurpose


def sandbox_domain(name: str, *, key_size: int = 2048, selector: str = "s1") -> Domain:
    """A domain with the sandbox ESP's records (SPF, 2048-bit DKIM TXT, 2 MX, CNAME), built
    the way the sandbox builds them, without an account."""
    recs = sandbox_records.generate(name, selector=selector, key_size=key_size,
                                    web_prefix="email")
    return Domain(name, "sandbox", dns_records=tuple(
        DnsRecord(P(r["purpose"]), r["type"], r["host"], r["value"], r["priority"])
        for r in recs))


def ses_domain(name: str) -> Domain:
    tokens = ("abcdefghijklmnop1", "abcdefghijklmnop2", "abcdefghijklmnop3")
    return Domain(name, "ses", dns_records=(
        *(DnsRecord(P.DKIM, "CNAME", f"{t}._domainkey.{name}", f"{t}.dkim.amazonses.com")
          for t in tokens),
        DnsRecord(P.MX, "MX", f"bounce.{name}", "feedback-smtp.eu-west-1.amazonses.com", 10),
        DnsRecord(P.SPF, "TXT", f"bounce.{name}", "v=spf1 include:amazonses.com ~all"),
    ))


def postmark_domain(name: str) -> Domain:
    key = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC" + "x" * 180
    return Domain(name, "postmark", dns_records=(
        DnsRecord(P.DKIM, "TXT", f"20240101pm._domainkey.{name}", f"k=rsa;p={key}"),
        DnsRecord(P.RETURN_PATH, "CNAME", f"pm-bounces.{name}", "pm.mtasv.net"),
        DnsRecord(P.SPF, "TXT", name, "v=spf1 a mx include:spf.mtasv.net ~all"),
    ))


@pytest.fixture
def acme() -> Domain:
    return sandbox_domain("news.acme.example")


@pytest.fixture
def server(acme: Domain) -> Iterator[LocalDns]:
    with LocalDns([acme]) as running:
        yield running


def one(checks: list[edns.RecordCheck], host: str, rtype: str = "TXT") -> edns.RecordCheck:
    [found] = [c for c in checks if c.record.host == host and c.record.type == rtype]
    return found


def statuses(checks: list[edns.RecordCheck]) -> list[str]:
    return [str(c.status) for c in checks]


# -- export: BIND -----------------------------------------------------------------------------


def rdatas_of(zone: dns.zone.Zone, host: str, rtype: str) -> list[object]:
    rdataset = zone.get_rdataset(host + ".", rtype)
    assert rdataset is not None, f"{host} {rtype} missing from the zone"
    return list(rdataset)


def assert_zone_holds(zone: dns.zone.Zone, domains: list[Domain], ttl: int = 3600) -> None:
    """Every record of every domain is in the parsed zone, with the value DNS would serve."""
    for d in domains:
        for r in d.dns_records:
            rdataset = zone.get_rdataset(r.host + ".", r.type)
            assert rdataset is not None
            assert rdataset.ttl == ttl
            if r.type == "TXT":
                joined = {b"".join(x.strings).decode() for x in rdataset}
                assert r.value in joined
                for x in rdataset:
                    assert all(len(s) <= 255 for s in x.strings)
            elif r.type == "MX":
                assert (r.priority, r.value + ".") in {
                    (x.preference, x.exchange.to_text()) for x in rdataset}
            elif r.type == "CNAME":
                assert [x.target.to_text() for x in rdataset] == [r.value + "."]
    total = sum(len(rds) for _, rds in zone.iterate_rdatasets())
    assert total == sum(len(d.dns_records) for d in domains)


def test_bind_parses_with_an_origin_and_keeps_every_record(acme: Domain) -> None:
    text = edns.to_bind([acme])
    zone = dns.zone.from_text(text, origin="news.acme.example.", relativize=False,
                              check_origin=False)
    assert_zone_holds(zone, [acme])
    # the 2048-bit DKIM key is over 255 octets: several character-strings, joined back whole
    [dkim] = acme.records("dkim")
    assert len(dkim.value) > 255
    [rdata] = rdatas_of(zone, dkim.host, "TXT")
    assert len(rdata.strings) == 2
    assert b"".join(rdata.strings).decode() == dkim.value
    assert "$ORIGIN" not in text
    assert "news.acme.example.\t3600\tIN\tMX\t10 mxa.sandbox.espkit.invalid." in text


def test_bind_for_many_domains_and_esps_parses_under_the_root() -> None:
    domains = [sandbox_domain("news.acme.example"),
               sandbox_domain("a.globex.example", key_size=4096),
               ses_domain("ses.initech.example"), postmark_domain("pm.initech.example")]
    text = edns.to_bind(domains, ttl=600)
    zone = dns.zone.from_text(text, origin=".", relativize=False, check_origin=False)
    assert_zone_holds(zone, domains, ttl=600)


def test_bind_escapes_quotes_backslashes_and_splits_long_values_at_255_octets() -> None:
    values = {
        "q.example": 'say "hi" \\ and; more',
        "at255.example": "a" * 255,
        "at256.example": "b" * 256,
        "long.example": ('x"\\;' * 200),  # 800 octets, escapes across chunk edges
        "utf8.example": "café " * 60,       # 360 octets: a split may fall inside a character
        "empty.example": "",
    }
    domain = Domain("txt.example", "x", dns_records=tuple(
        DnsRecord(P.OTHER, "TXT", host, value) for host, value in values.items()))
    text = edns.to_bind([domain])
    zone = dns.zone.from_text(text, origin="example.", relativize=False, check_origin=False)
    for host, value in values.items():
        [rdata] = rdatas_of(zone, host, "TXT")
        assert b"".join(rdata.strings) == value.encode()
        assert all(len(s) <= 255 for s in rdata.strings)
    assert len(rdatas_of(zone, "at255.example", "TXT")[0].strings) == 1
    assert len(rdatas_of(zone, "at256.example", "TXT")[0].strings) == 2
    # every quoted string on its own is at most 255 octets once unescaped
    assert edns.quote_character_string(b'a"b\\c') == '"a\\"b\\\\c"'
    assert edns.quote_character_string("é".encode()) == '"\\195\\169"'
    with pytest.raises(DnsExportError):
        edns.quote_character_string(b"x" * 256)


def test_bind_groups_by_customer() -> None:
    a1, g, a2 = (sandbox_domain("news.acme.example"), sandbox_domain("globex.example"),
                 sandbox_domain("mail.acme.example"))
    text = edns.to_bind([(a1, "acme"), (g, "globex"), (a2, "acme")])
    lines = [line for line in text.splitlines() if line.startswith("; ")]
    assert lines == ["; ==== customer: acme", "; news.acme.example (sandbox, 5 records)",
                     "; mail.acme.example (sandbox, 5 records)", "; ==== customer: globex",
                     "; globex.example (sandbox, 5 records)"]
    # a customers mapping labels bare domains (and wins over a pair's label)
    labelled = edns.labelled([a1, (g, "x")], customers={"globex.example": "globex"})
    assert [c for _, c in labelled] == [None, "globex"]


# -- export: CSV and JSON ---------------------------------------------------------------------


def test_csv_round_trip_one_row_per_record_values_whole() -> None:
    domains = [(sandbox_domain("news.acme.example"), "acme"), (ses_domain("ses.example"), None)]
    text = edns.export(domains, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == edns.CSV_COLUMNS
    expected = [
        {"customer": c or "", "domain": d.name, "purpose": str(r.purpose), "type": r.type,
         "host": r.host, "value": r.value,
         "priority": "" if r.priority is None else str(r.priority)}
        for d, c in domains for r in d.dns_records
    ]
    assert rows == expected
    assert any(len(row["value"]) > 255 for row in rows)


def test_json_round_trip_with_stable_keys() -> None:
    d = sandbox_domain("news.acme.example")
    data = json.loads(edns.export([(d, "acme")], "json"))
    assert list(data[0]) == ["customer", "domain", "provider", "state", "records"]
    assert data[0]["customer"] == "acme"
    back = tuple(DnsRecord(P(r["purpose"]), r["type"], r["host"], r["value"], r["priority"])
                 for r in data[0]["records"])
    assert back == tuple(attrs.evolve(r) for r in d.dns_records)
    assert list(data[0]["records"][0]) == ["purpose", "type", "host", "value", "priority",
                                           "status"]
    assert edns.export([d], "json") == edns.to_json([d])


def test_unknown_format() -> None:
    with pytest.raises(DnsExportError, match="unknown format"):
        edns.export([], "tinydns")


# -- export: octoDNS --------------------------------------------------------------------------


def test_octodns_one_document_per_zone_relative_names_and_escaped_semicolons() -> None:
    news, mail = sandbox_domain("news.acme.example"), sandbox_domain("mail.acme.example")
    globex = sandbox_domain("globex.example")
    items = [(news, "acme"), (mail, "acme"), (globex, "globex")]
    docs = edns.to_octodns(items, zones={"acme": "acme.example"})
    assert list(docs) == ["acme.example", "globex.example"]
    acme = yaml.safe_load(docs["acme.example"])
    assert list(acme) == ["email.mail", "email.news", "mail", "news", "s1._domainkey.mail",
                          "s1._domainkey.news"]
    assert acme["email.news"] == {"ttl": 3600, "type": "CNAME",
                                  "value": "track.sandbox.espkit.invalid."}
    assert acme["news"] == [
        {"ttl": 3600, "type": "MX", "values": [
            {"exchange": "mxa.sandbox.espkit.invalid.", "preference": 10},
            {"exchange": "mxb.sandbox.espkit.invalid.", "preference": 10}]},
        {"ttl": 3600, "type": "TXT", "value": "v=spf1 include:spf.sandbox.espkit.invalid ~all"},
    ]
    [dkim] = news.records("dkim")
    value = acme["s1._domainkey.news"]["value"]
    assert value == dkim.value.replace(";", "\\;")  # whole, octoDNS splits it itself
    assert value.replace("\\;", ";") == dkim.value
    # without a zone for it, a domain is its own zone: its records at the apex ''
    globex_doc = yaml.safe_load(docs["globex.example"])
    assert list(globex_doc) == ["", "email", "s1._domainkey"]
    # the stream: one YAML document per zone
    stream = list(yaml.safe_load_all(edns.export(items, "octodns",
                                                 zones={"acme": "acme.example"})))
    assert stream == [acme, globex_doc]


def test_octodns_keys_in_natural_order_and_values_merged() -> None:
    d = Domain("example.com", "x", dns_records=(
        DnsRecord(P.OTHER, "TXT", "t10.example.com", "ten"),
        DnsRecord(P.OTHER, "TXT", "t2.example.com", "two; b"),
        DnsRecord(P.OTHER, "TXT", "t2.example.com", "another"),
        DnsRecord(P.OTHER, "TXT", "t2.example.com", "another"),   # duplicate: once
        DnsRecord(P.OTHER, "A", "T1.example.com", "192.0.2.1"),
        DnsRecord(P.OTHER, "TXT", "example.com", 'quote " and back \\ stay'),
    ))
    doc = edns.octodns_data([d])["example.com"]
    assert list(doc) == ["", "t1", "t2", "t10"]
    assert doc["t2"] == {"ttl": 3600, "type": "TXT", "values": ["another", "two\\; b"]}
    assert doc[""]["value"] == 'quote " and back \\ stay'
    text = edns.to_octodns([d])["example.com"]
    assert yaml.safe_load(text) == doc


def test_octodns_refuses_what_octodns_would_refuse_or_alter() -> None:
    sparkpost = Domain("bounce.acme.example", "sparkpost", dns_records=(
        DnsRecord(P.RETURN_PATH, "CNAME", "bounce.acme.example", "sparkpostmail.com"),))
    with pytest.raises(DnsExportError, match="apex"):
        edns.to_octodns([sparkpost])
    ok = edns.octodns_data([(sparkpost, "acme")], zones={"acme": "acme.example"})
    assert ok["acme.example"]["bounce"]["value"] == "sparkpostmail.com."
    clash = Domain("x.example", "x", dns_records=(
        DnsRecord(P.TRACKING, "CNAME", "t.x.example", "a.example"),
        DnsRecord(P.OTHER, "TXT", "t.x.example", "v"),))
    with pytest.raises(DnsExportError, match="CNAME cannot share"):
        edns.octodns_data([clash])
    with pytest.raises(DnsExportError, match="not inside the zone"):
        edns.octodns_data([(sandbox_domain("news.acme.example"), "acme")],
                          zones={"acme": "globex.example"})
    for bad in ('"starts with a quote', "has \\; already", "non-ascii é"):
        with pytest.raises(DnsExportError):
            edns.octodns_data([Domain("y.example", "x", dns_records=(
                DnsRecord(P.OTHER, "TXT", "y.example", bad),))])


def test_octodns_files_load_in_octodns_itself(tmp_path) -> None:
    """The real check where octoDNS is installed (pip install octodns): its YamlProvider
    enforces key order and semicolon escaping and must read back every value."""
    pytest.importorskip("octodns")
    from octodns.provider.yaml import YamlProvider
    from octodns.zone import Zone

    items = [(sandbox_domain("news.acme.example"), "acme"),
             (postmark_domain("pm.acme.example"), "acme"),
             (ses_domain("globex.example"), "globex")]
    for zone, text in edns.to_octodns(items, zones={"acme": "acme.example"}).items():
        (tmp_path / f"{zone}.yaml").write_text(text)
    provider = YamlProvider("espkit", str(tmp_path), enforce_order=True,
                            escaped_semicolons=True)
    for zone_name, domains in (("acme.example", items[:2]), ("globex.example", items[2:])):
        zone = Zone(zone_name + ".", [])
        provider.populate(zone)
        got = {}
        for rec in zone.records:
            values = rec.values if hasattr(rec, "values") else [rec.value]
            got[(rec.name, rec._type)] = {
                v.to_raw_text() if hasattr(v, "to_raw_text") else
                (f"{v.preference} {v.exchange}" if rec._type == "MX" else str(v))
                for v in values}
        for d, _ in domains:
            for r in d.dns_records:
                name = r.host[: -len(zone_name)].rstrip(".")
                want = {"MX": f"{r.priority} {r.value}.", "CNAME": f"{r.value}."}.get(
                    r.type, r.value)
                assert want in got[(name, r.type)]


# -- check against a real DNS server ----------------------------------------------------------


def test_all_present(server: LocalDns, acme: Domain) -> None:
    checks = edns.check([acme], nameservers=[server.nameserver])
    assert [c.record for c in checks] == list(acme.dns_records)
    assert statuses(checks) == ["present"] * 5
    assert all(c.ok and c.domain == acme.name for c in checks)
    dkim = one(checks, "s1._domainkey.news.acme.example")
    assert dkim.found == (acme.dns_records[1].value,)  # two character-strings, joined
    # one question per (host, type): the two MX share one
    assert len(server.queries) == 4


def test_deleted_records_are_exactly_the_missing_ones(server: LocalDns, acme: Domain) -> None:
    server.remove("email.news.acme.example")
    server.remove("news.acme.example", "MX", "mxb.sandbox.espkit.invalid")
    server.remove("s1._domainkey.news.acme.example", "TXT")
    checks = edns.check([acme], nameservers=[server.nameserver])
    assert statuses(checks) == ["present", "missing", "present", "wrong", "missing"]
    assert "NXDOMAIN" in one(checks, "email.news.acme.example", "CNAME").reason
    mx = [c for c in checks if c.record.type == "MX"]
    assert mx[1].found == ("10 mxa.sandbox.espkit.invalid",)
    assert "no MX to mxb" in mx[1].reason
    # all MX gone: missing, not wrong
    server.remove("news.acme.example", "MX")
    checks = edns.check([acme], nameservers=[server.nameserver])
    assert statuses(checks)[2:4] == ["missing", "missing"]
    assert "no MX record" in checks[2].reason


def test_changed_dkim_is_wrong_with_what_was_found(server: LocalDns, acme: Domain) -> None:
    host = "s1._domainkey.news.acme.example"
    old = sandbox_domain("news.acme.example", selector="s1", key_size=1024).records("dkim")[0]
    server.replace(host, "TXT", old.value)
    c = one(edns.check([acme], nameservers=[server.nameserver]), host)
    assert c.status is CheckStatus.WRONG
    assert c.found == (old.value,)
    assert c.reason == "no TXT value matches"


def test_dkim_split_with_a_space_still_counts(server: LocalDns, acme: Domain) -> None:
    host = "s1._domainkey.news.acme.example"
    [dkim] = acme.records("dkim")
    server.replace(host, "TXT", dkim.value[:200] + " " + dkim.value[200:])
    c = one(edns.check([acme], nameservers=[server.nameserver]), host)
    assert c.status is CheckStatus.PRESENT
    assert c.reason == "equal but for whitespace"


def test_cname_elsewhere_is_wrong_and_names_compare_like_dns(server: LocalDns,
                                                              acme: Domain) -> None:
    host = "email.news.acme.example"
    server.replace(host, "CNAME", "tracking.other-esp.example")
    c = one(edns.check([acme], nameservers=[server.nameserver]), host, "CNAME")
    assert c.status is CheckStatus.WRONG
    assert c.found == ("tracking.other-esp.example",)
    assert "points to tracking.other-esp.example" in c.reason
    server.replace(host, "CNAME", "TRACK.Sandbox.ESPKIT.invalid.")
    c = one(edns.check([acme], nameservers=[server.nameserver]), host, "CNAME")
    assert c.status is CheckStatus.PRESENT


def test_mx_priority_is_compared(server: LocalDns, acme: Domain) -> None:
    server.remove("news.acme.example", "MX", "mxa.sandbox.espkit.invalid")
    server.add("news.acme.example", "MX", "MXA.sandbox.espkit.invalid", priority=20)
    checks = [c for c in edns.check([acme], nameservers=[server.nameserver])
              if c.record.type == "MX"]
    assert statuses(checks) == ["wrong", "present"]
    assert checks[0].reason == "MX mxa.sandbox.espkit.invalid has priority 20, not 10"


def test_txt_through_a_cname_counts_and_says_so(server: LocalDns, acme: Domain) -> None:
    host = "s1._domainkey.news.acme.example"
    [dkim] = acme.records("dkim")
    server.remove(host)
    server.add(host, "CNAME", "keys.acme-dns.example")
    server.add("keys.acme-dns.example", "TXT", dkim.value)
    c = one(edns.check([acme], nameservers=[server.nameserver]), host)
    assert c.status is CheckStatus.PRESENT
    assert c.reason == "via CNAME to keys.acme-dns.example"


def test_unreachable_nameserver_is_an_error_after_the_timeout(acme: Domain) -> None:
    checks = edns.check([acme], nameservers=["127.0.0.1"], port=closed_port(), timeout=0.3)
    assert statuses(checks) == ["error"] * 5
    assert all(c.reason.startswith("timed out after 0.3s (127.0.0.1:") for c in checks)


def test_a_dead_nameserver_is_given_up_on_not_waited_for_per_lookup() -> None:
    """400 lookups of 0.2 s, 8 at a time, would wait 10 s: once 16 in a row have timed out
    no lookup starts, so at most those 16 and the 7 then in flight were asked."""
    domains = [sandbox_domain(f"d{i}.example", key_size=1024) for i in range(100)]
    checks = edns.check(domains, nameservers=[f"127.0.0.1:{closed_port()}"], timeout=0.2,
                        concurrency=8)
    assert {str(c.status) for c in checks} == {"error"}
    reasons = {c.reason.split(" (")[0] for c in checks}
    assert reasons == {"timed out after 0.2s", "not asked: 16 lookups in a row timed out"}
    asked = {(c.record.host, c.record.type) for c in checks if c.reason.startswith("timed")}
    assert 16 <= len(asked) <= 16 + 7


def test_servfail_and_dropped_answers_are_errors(server: LocalDns, acme: Domain) -> None:
    server.fail("news.acme.example")
    server.drop("email.news.acme.example")
    # the timeout is generous: the answered lookups must never miss it on a busy machine,
    # and only the dropped one waits it out
    checks = edns.check([acme], nameservers=[server.nameserver], timeout=2.0)
    assert statuses(checks) == ["error", "present", "error", "error", "error"]
    assert "answered SERVFAIL" in checks[0].reason
    assert checks[4].reason.startswith("timed out")
    server.heal()
    assert statuses(edns.check([acme], nameservers=[server.nameserver])) == ["present"] * 5


# -- SPF: customers merge the ESP's include into their one SPF record --


@pytest.mark.parametrize(("published", "status", "reason"), [
    (["v=spf1 include:spf.sandbox.espkit.invalid ~all"], "present", ""),
    (["V=SPF1  +include:SPF.sandbox.espkit.invalid   ~ALL"], "present", ""),
    (["v=spf1 ip4:192.0.2.0/24 include:_spf.google.com include:spf.sandbox.espkit.invalid -all",
      "google-site-verification=abc"],
     "present", "merged SPF record has include:spf.sandbox.espkit.invalid"),
    (["v=spf1 include:_spf.google.com -all"], "wrong",
     "the SPF record lacks include:spf.sandbox.espkit.invalid"),
    (["v=spf1 include:spf.sandbox.espkit.invalid ~all", "v=spf1 include:_spf.google.com -all"],
     "wrong", "two SPF records: a name may have only one; merge them"),
    (["google-site-verification=abc", "v=spf10 nonsense"], "missing",
     "no SPF record among the 2 TXT record(s)"),
])
def test_spf_merge_rule(server: LocalDns, acme: Domain, published: list[str], status: str,
                        reason: str) -> None:
    server.replace("news.acme.example", "TXT", *published)
    c = one(edns.check([acme], nameservers=[server.nameserver]), "news.acme.example")
    assert (str(c.status), c.reason) == (status, reason)


def test_spf_without_include_needs_every_mechanism() -> None:
    assert edns.spf_required("v=spf1 a mx include:spf.mtasv.net ~all") == ["include:spf.mtasv.net"]
    assert edns.spf_required("v=spf1 ip4:192.0.2.1 a -all") == ["ip4:192.0.2.1", "a"]
    assert edns.is_spf("v=spf1")
    assert edns.is_spf("V=SPF1 -all")
    assert not edns.is_spf("v=spf10")
    assert not edns.is_spf("v=DKIM1")


def test_other_esps_record_shapes(dns_server: LocalDns) -> None:
    domains = [ses_domain("ses.initech.example"), postmark_domain("pm.initech.example")]
    for d in domains:
        dns_server.add_domain(d)
    # a Postmark customer keeps their own SPF, merged
    dns_server.replace("pm.initech.example", "TXT",
                       "v=spf1 include:spf.protection.outlook.com include:spf.mtasv.net -all")
    checks = edns.check(domains, nameservers=[dns_server.nameserver])
    assert statuses(checks) == ["present"] * 8


def test_zone_text_served_and_tcp_for_big_answers(dns_server: LocalDns) -> None:
    big = sandbox_domain("big.example", key_size=8192)  # a 1.4 kB TXT: over EDNS's 1232
    zone_text = edns.to_bind([big])
    assert dns_server.load_zone(zone_text, origin="big.example") == 5
    checks = edns.check([big], nameservers=[dns_server.nameserver])
    assert statuses(checks) == ["present"] * 5
    protocols = {(name, proto) for name, _, proto in dns_server.queries}
    assert ("s1._domainkey.big.example.", "tcp") in protocols  # truncated over UDP


def test_a_fleet_is_checked_asking_each_name_once(dns_server: LocalDns) -> None:
    """Many domains, many lookups at a time: every record checked, each (name, type) asked
    once (SPF and the other apex TXT share one). How long a thousand domains take is a
    benchmark's figure: ``benchmarks/dns_check.py``."""
    domains = [sandbox_domain(f"d{i}.fleet.example", key_size=1024) for i in range(200)]
    for d in domains:
        dns_server.add_domain(d)
    for d in domains[::20]:
        dns_server.remove(d.records("tracking")[0].host)
    checks = edns.check(domains, nameservers=[dns_server.nameserver], timeout=5)
    assert len(checks) == 1000
    assert edns.summary(checks) == {"present": 990, "missing": 10, "wrong": 0, "error": 0}
    asked = [(name, rtype) for name, rtype, _ in dns_server.queries]
    assert len(asked) == len(set(asked)) == 4 * 200


def test_nameserver_forms_and_arguments() -> None:
    assert edns.parse_nameserver("192.0.2.1") == ("192.0.2.1", 53)
    assert edns.parse_nameserver("192.0.2.1:5353") == ("192.0.2.1", 5353)
    assert edns.parse_nameserver("2001:db8::1", 54) == ("2001:db8::1", 54)
    assert edns.parse_nameserver("[2001:db8::1]:5300") == ("2001:db8::1", 5300)
    with pytest.raises(ConfigError):
        edns.parse_nameserver("192.0.2.1:x")
    with pytest.raises(ConfigError):
        edns.check([], concurrency=0)
    assert edns.check([]) == []


def test_espkit_dns_imports_without_dnspython_or_pyyaml() -> None:
    """The exports that need neither work without them; octoDNS and ``check`` name the
    extra. Neither is imported with the package (``formats`` and ``live`` import them late)."""
    code = (
        "import sys; sys.modules['dns'] = sys.modules['yaml'] = None\n"
        "import espkit, espkit.dns, espkit.dns.formats, espkit.dns.live\n"
        "from espkit.models import DnsRecord, Domain, RecordPurpose\n"
        "d = Domain('news.acme.com', 'sandbox', dns_records=(\n"
        "    DnsRecord(RecordPurpose.DKIM, 'TXT', 'k._domainkey.news.acme.com', 'v=DKIM1'),))\n"
        "assert 'v=DKIM1' in espkit.dns.export([d], 'bind')\n"
        "for call in (lambda: espkit.dns.to_octodns([d]), lambda: espkit.dns.check([d])):\n"
        "    try:\n"
        "        call()\n"
        "    except espkit.ConfigError as exc:\n"
        "        print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "the octoDNS export needs PyYAML: pip install -e '.[fleet]'",
        "checking DNS needs dnspython: pip install -e '.[fleet]'",
    ]


def test_check_without_dnspython_says_which_extra(monkeypatch: pytest.MonkeyPatch,
                                                  acme: Domain) -> None:
    monkeypatch.setitem(sys.modules, "dns.nameserver", None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[fleet\]'"):
        edns.check([acme], nameservers=["127.0.0.1"])


def test_sandbox_account_domains_round_trip_through_the_server(dns_server: LocalDns) -> None:
    with espkit.connect("sandbox", path=":memory:") as acct:
        domains = [acct.domains.create(f"{s}.acme.example", dkim_key_size=2048)
                   for s in ("news", "mail")]
    dns_server.load_zone(edns.export(domains, "bind"))
    assert statuses(edns.check(domains, nameservers=[dns_server.nameserver])) == ["present"] * 10
    assert dns.rdatatype.from_text("TXT")  # dnspython is what the helper parses zones with


def test_without_nameservers_the_system_resolver_or_a_clear_error(
        monkeypatch: pytest.MonkeyPatch, acme: Domain) -> None:
    import dns.resolver

    def no_config(self: object, *args: object, **kwargs: object) -> None:
        raise dns.resolver.NoResolverConfiguration("no /etc/resolv.conf")

    monkeypatch.setattr(dns.resolver.Resolver, "read_resolv_conf", no_config)
    with pytest.raises(ConfigError, match="no system resolver"):
        edns.check([acme])
