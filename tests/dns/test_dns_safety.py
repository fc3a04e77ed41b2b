"""What espkit.dns writes from ESP data is safe: BIND output parses back (dnspython) to exactly
the records given or is refused, CSV cells cannot run as formulas, zone files never land
outside their directory. Names and values here are hostile on purpose."""

from __future__ import annotations

import csv
import io
import ipaddress
import os
import string
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espkit import dns as edns
from espkit.dns import DnsExportError
from espkit.dns.files import file_names
from espkit.models import DnsRecord, Domain, RecordPurpose

P = RecordPurpose
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- the oracle: the record set a zone text holds, as DNS means it ----------------------------


def parsed(text: str) -> set[tuple[str, str, object]]:
    zone = dns.zone.from_text(text, origin=".", relativize=False, check_origin=False)
    got: set[tuple[str, str, object]] = set()
    for name, rdataset in zone.iterate_rdatasets():
        for rdata in rdataset:
            got.add((name.to_text().lower(), dns.rdatatype.to_text(rdataset.rdtype),
                     _rdata(rdata)))
    return got


def _rdata(rdata: object) -> object:
    rtype = dns.rdatatype.to_text(rdata.rdtype)  # type: ignore[attr-defined]
    if rtype == "TXT":
        return b"".join(rdata.strings)  # type: ignore[attr-defined]
    if rtype == "MX":
        return (rdata.preference, rdata.exchange.to_text().lower())  # type: ignore[attr-defined]
    if rtype in ("CNAME", "NS"):
        return rdata.target.to_text().lower()  # type: ignore[attr-defined]
    return ipaddress.ip_address(rdata.address)  # type: ignore[attr-defined]


def expected(domains: list[Domain]) -> set[tuple[str, str, object]]:
    want: set[tuple[str, str, object]] = set()
    for d in domains:
        for r in d.dns_records:
            host = r.host.rstrip(".").lower() + "."
            value: object
            if r.type == "TXT":
                value = r.value.encode()
            elif r.type == "MX":
                value = (10 if r.priority is None else r.priority,
                         r.value.rstrip(".").lower() + ".")
            elif r.type in ("CNAME", "NS"):
                value = r.value.rstrip(".").lower() + "."
            else:
                value = ipaddress.ip_address(r.value)
            want.add((host, r.type, value))
    return want


def assert_safe_lines(text: str) -> None:
    """Nothing but records and one-line comments: no directive, no control character."""
    assert all(ch in "\n\t" or ch >= " " for ch in text)
    assert "\x7f" not in text
    for line in text.splitlines():
        assert not line.startswith("$"), line
        assert line == "" or line.startswith(("; ", "\t\"")) or line[0] in string.ascii_letters \
            + string.digits + "_*", line


# -- strategies: good records must round-trip, bad ones must be refused -----------------------

_label = st.from_regex(r"[a-z0-9_]([a-z0-9_-]{0,10}[a-z0-9_])?", fullmatch=True)
good_names = st.lists(_label, min_size=1, max_size=4).map(
    lambda labels: ".".join(labels) + ".example")
#: text with every character a zone file gives a meaning to, and more
HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list('\n\r\t\x00\x1b\x7f\x85\u2028\u202e ;$@()"\\.é漢😀')
                             + list(string.printable)),
    max_size=40)
hostile_snippets = st.sampled_from([
    "\n$INCLUDE /etc/passwd", "\nexample.com. 3600 IN NS evil.example.", "x\" ; y", "(",
    ")", "\\", "\"", "$ORIGIN evil.", "; comment", "@", "\u202egnp.exe", "x\x00y",
    "\r\n* IN A 192.0.2.1",
])
txt_values = st.one_of(
    HOSTILE_TEXT,
    st.builds(lambda a, s, b: a + s + b, HOSTILE_TEXT, hostile_snippets, HOSTILE_TEXT),
    st.text(max_size=700),                                      # any Unicode, over 255 octets
    st.integers(250, 1100).map(lambda n: ('"\\;' * n)[:n]),     # escapes across chunk edges
)
bad_names = st.one_of(
    st.builds(lambda name, bad, at: name[:at] + bad + name[at:], good_names,
              st.sampled_from(["\n", " ", ";", "$", "(", ")", '"', "\\", "/", "\x00", "é",
                               "\u202e", "@", "..", "\t", "\nevil. IN NS x."]),
              st.integers(0, 30)),
    st.sampled_from(["", ".", "-x.example", "x-.example", "a" * 64 + ".example",
                     "*.*.example", "x.*.example", ("a" * 60 + ".") * 5 + "example"]),
)
good_ips = st.ip_addresses().map(str)
bad_ips = st.sampled_from(["1.2.3", "1.2.3.4\n", "192.0.2.1 ; x", "fe80::1%eth0", "::g",
                           "01.2.3.4", "", "192.0.2.1\nevil. IN NS x.", "2001:db8::1/64"])


@st.composite
def good_record(draw: st.DrawFn, index: int) -> DnsRecord:
    # one host per record: a CNAME may not share its name (dnspython would drop the rest)
    host = draw(st.sampled_from(["", "*."])) + f"r{index}." + draw(good_names)
    rtype = draw(st.sampled_from(edns.RECORD_TYPES))
    priority = None
    if rtype == "TXT":
        value = draw(txt_values)
    elif rtype in ("CNAME", "NS", "MX"):
        value = draw(good_names) + draw(st.sampled_from(["", "."]))
        if rtype == "MX":
            priority = draw(st.one_of(st.none(), st.integers(0, 65535)))
    elif rtype == "A":
        value = str(draw(st.ip_addresses(v=4)))
    else:
        value = str(draw(st.ip_addresses(v=6)))
    return DnsRecord(draw(st.sampled_from(list(P))), rtype, host, value, priority)


@st.composite
def bad_record(draw: st.DrawFn) -> DnsRecord:
    """A record with exactly one thing espkit must refuse to write."""
    what = draw(st.sampled_from(["host", "type", "target", "address", "priority"]))
    rtype = draw(st.sampled_from(["CNAME", "MX", "NS"])) if what == "target" else "TXT"
    host, value, priority = draw(good_names), "v=ok", None
    if what == "host":
        host = draw(bad_names)
    elif what == "type":
        rtype = draw(st.sampled_from(["SPF", "SRV", "TXT\nNS", "A ", "", "$INCLUDE", "PTR"]))
    elif what == "target":
        value = draw(bad_names)
    elif what == "address":
        rtype = draw(st.sampled_from(["A", "AAAA"]))
        value = draw(st.one_of(bad_ips, good_ips.filter(
            lambda ip: (":" in ip) == (rtype == "A"))))  # the other family is wrong too
    else:
        rtype, value = "MX", "mx.example"
        priority = draw(st.sampled_from([-1, 65536, True, 10**9]))
    return DnsRecord(P.OTHER, rtype, host, value, priority)


@st.composite
def good_domains(draw: st.DrawFn) -> list[Domain]:
    count = draw(st.integers(1, 3))
    domains, index = [], 0
    for n in range(count):
        records = []
        for _ in range(draw(st.integers(0, 4))):
            records.append(draw(good_record(index)))
            index += 1
        domains.append(Domain(f"d{n}.example", draw(HOSTILE_TEXT),
                              dns_records=tuple(records)))
    return domains


@FUZZ
@given(domains=good_domains(), customer=st.one_of(st.none(), HOSTILE_TEXT),
       ttl=st.integers(0, 2**31 - 1))
def test_bind_parses_back_to_exactly_the_records_given(domains: list[Domain],
                                                       customer: str | None, ttl: int) -> None:
    text = edns.to_bind([(d, customer) for d in domains], ttl=ttl)
    assert_safe_lines(text)
    assert parsed(text) == expected(domains)
    zone = dns.zone.from_text(text, origin=".", relativize=False, check_origin=False)
    assert {rds.ttl for _, rds in zone.iterate_rdatasets()} <= {ttl}


@FUZZ
@given(domains=good_domains(), bad=bad_record(), at=st.integers(0, 10))
def test_bind_refuses_a_record_it_cannot_write_and_writes_nothing(
        domains: list[Domain], bad: DnsRecord, at: int) -> None:
    records = list(domains[-1].dns_records)
    records.insert(at % (len(records) + 1), bad)
    hostile = Domain("bad.example", "x", dns_records=tuple(records))
    with pytest.raises(DnsExportError) as raised:
        edns.to_bind([*domains, hostile])
    # the message names the domain, and shows the value without acting on it
    message = str(raised.value)
    assert "bad.example" in message
    assert all(ch >= " " for ch in message)


# -- the named cases, each a regression test --------------------------------------------------


def txt(host: str, value: str) -> DnsRecord:
    return DnsRecord(P.OTHER, "TXT", host, value)


@pytest.mark.parametrize("value", [
    "v=spf1 -all\n$INCLUDE /etc/passwd",
    "x\nacme.example. 3600 IN NS ns.evil.example.",
    'x" ; y',
    'end\\',
    "(\n)",
    "\r\n@ IN A 192.0.2.66",
    "é" * 300,
    "x" * 2000,
])
def test_hostile_txt_values_are_one_quoted_record(value: str) -> None:
    d = Domain("acme.example", "x", dns_records=(txt("acme.example", value),))
    text = edns.to_bind([d])
    assert_safe_lines(text)
    assert parsed(text) == {("acme.example.", "TXT", value.encode())}


@pytest.mark.parametrize(("rtype", "value"), [
    ("CNAME", "mailgun.org.\nacme.example. 3600 IN NS ns.evil.example."),
    ("CNAME", "mailgun.org ; x"),
    ("MX", "mx.example\n$INCLUDE /etc/passwd"),
    ("NS", "ns.example (x"),
    ("A", "192.0.2.1\n$INCLUDE /etc/passwd"),
    ("AAAA", "192.0.2.1"),
    ("A", "2001:db8::1"),
])
def test_hostile_targets_and_addresses_are_refused(rtype: str, value: str) -> None:
    d = Domain("acme.example", "x", dns_records=(
        txt("acme.example", "fine"),
        DnsRecord(P.OTHER, rtype, "t.acme.example", value)))
    with pytest.raises(DnsExportError, match=f"acme.example: the '{rtype}' record at "
                                             "'t.acme.example'"):
        edns.to_bind([d])


@pytest.mark.parametrize("rtype", ["SPF", "SRV", "PTR", "TXT\n", "", "$INCLUDE"])
def test_unknown_record_types_are_refused_naming_the_record(rtype: str) -> None:
    d = Domain("acme.example", "x", dns_records=(
        DnsRecord(P.OTHER, rtype, "s.acme.example", "v"),))
    with pytest.raises(DnsExportError, match=r"s\.acme\.example.*not a record type"):
        edns.to_bind([d])
    with pytest.raises(DnsExportError, match="not a record type"):
        edns.octodns_data([d])
    # known types in any case are fine
    ok = Domain("acme.example", "x", dns_records=(DnsRecord(P.OTHER, "txt", "acme.example", "v"),))
    assert "\tIN\tTXT\t\"v\"" in edns.to_bind([ok])


def test_comments_stay_one_line_whatever_the_customer_provider_or_purpose() -> None:
    d = Domain("acme.example", "esp\n$INCLUDE /etc/passwd",
               dns_records=(txt("acme.example", "v"),))
    text = edns.to_bind([(d, "acme\nacme.example. IN NS ns.evil.\u2028x\u202e\x1b[2J")])
    assert_safe_lines(text)
    assert parsed(text) == {("acme.example.", "TXT", b"v")}
    assert "; ==== customer: acme\\u000aacme.example. IN NS ns.evil.\\u2028x\\u202e\\u001b[2J" \
        in text.splitlines()
    assert "; acme.example (esp\\u000a$INCLUDE /etc/passwd, 1 records)" in text.splitlines()


def test_name_boundaries() -> None:
    def bind(host: str, rtype: str = "TXT", value: str = "v") -> str:
        return edns.to_bind([Domain("acme.example", "x", dns_records=(
            DnsRecord(P.OTHER, rtype, host, value),))])

    label63, label64 = "a" * 63, "a" * 64
    assert f"{label63}.example." in bind(f"{label63}.example")
    with pytest.raises(DnsExportError, match="label"):
        bind(f"{label64}.example")
    name253 = ".".join(["a" * 49] * 5) + ".b.c"        # 253 characters
    assert len(name253) == 253
    assert f"\n{name253}.\t" in bind(name253)
    with pytest.raises(DnsExportError, match="1-253"):
        bind("a" + name253)
    assert "\n*.acme.example.\t" in bind("*.acme.example")   # wildcard: first label
    for bad in ("x.*.acme.example", "*", "acme..example", "-a.example", "a-.example",
                "_a-.example"):
        with pytest.raises(DnsExportError):
            bind(bad)
    assert "\n_dmarc.acme.example.\t" in bind("_dmarc.acme.example")
    with pytest.raises(DnsExportError):
        bind("acme.example", "CNAME", "*.target.example")        # no wildcard as a target


def test_number_boundaries() -> None:
    def mx(priority: object) -> str:
        return edns.to_bind([Domain("acme.example", "x", dns_records=(
            DnsRecord(P.MX, "MX", "acme.example", "mx.example", priority),))])  # type: ignore[arg-type]

    assert "\tMX\t0 mx.example." in mx(0)
    assert "\tMX\t65535 mx.example." in mx(65535)
    assert "\tMX\t10 mx.example." in mx(None)
    for bad in (-1, 65536, True, "10"):
        with pytest.raises(DnsExportError, match="priority"):
            mx(bad)
    d = [Domain("acme.example", "x", dns_records=(txt("acme.example", "v"),))]
    assert "\t0\tIN\t" in edns.to_bind(d, ttl=0)
    assert f"\t{2**31 - 1}\tIN\t" in edns.to_bind(d, ttl=2**31 - 1)
    for bad_ttl in (-1, 2**31, True):
        with pytest.raises(DnsExportError, match="ttl"):
            edns.to_bind(d, ttl=bad_ttl)
        with pytest.raises(DnsExportError, match="ttl"):
            edns.octodns_data(d, ttl=bad_ttl)


def test_addresses_are_written_canonical_and_checked_by_family() -> None:
    d = Domain("acme.example", "x", dns_records=(
        DnsRecord(P.OTHER, "AAAA", "v6.acme.example", "2001:DB8:0:0::1"),
        DnsRecord(P.OTHER, "A", "v4.acme.example", "192.0.2.1")))
    text = edns.to_bind([d])
    assert "\tAAAA\t2001:db8::1\t" in text
    assert parsed(text) == expected([d])
    for rtype, bad in (("A", "01.2.3.4"), ("AAAA", "fe80::1%eth0"), ("A", " 192.0.2.1")):
        with pytest.raises(DnsExportError):
            edns.to_bind([Domain("acme.example", "x", dns_records=(
                DnsRecord(P.OTHER, rtype, "acme.example", bad),))])


def test_a_lone_surrogate_is_refused_not_a_unicode_error() -> None:
    with pytest.raises(DnsExportError, match="not valid text"):
        edns.to_bind([Domain("acme.example", "x", dns_records=(txt("acme.example", "\ud800"),))])


@pytest.mark.parametrize("name", ["../../somewhere", "/etc/cron.d/x", "a/b.example",
                                  "a\x00b.example", "acme.example\n$INCLUDE x", "..",
                                  "a\\b.example", "example"])
def test_hostile_domain_names_are_refused_by_every_zone_format(name: str) -> None:
    d = Domain(name, "x", dns_records=(txt("acme.example", "v"),))
    with pytest.raises(DnsExportError, match="cannot be written"):
        edns.to_bind([d])
    with pytest.raises(DnsExportError, match="cannot be written"):
        edns.octodns_data([d])


def test_octodns_zones_from_outside_are_checked() -> None:
    d = Domain("news.acme.example", "x", dns_records=(txt("news.acme.example", "v"),))
    for zone in ("../acme.example", "acme.example\n# x", "/tmp/acme.example"):
        with pytest.raises(DnsExportError, match="zone"):
            edns.to_octodns([(d, "acme")], zones={"acme": zone})
    docs = edns.to_octodns([(d, "acme")], zones={"acme": "ACME.example."})
    assert list(docs) == ["acme.example"]


# -- CSV: no cell runs as a formula -----------------------------------------------------------

FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30),
                 st.builds(lambda c, t: c + t, st.sampled_from(FORMULA), st.text(max_size=20))))
def test_csv_cell_neutralises_exactly_the_formula_starts(value: str) -> None:
    cell = edns.csv_cell(value)
    if value[:1] in FORMULA:
        assert cell == "'" + value
    else:
        assert cell == value
    assert cell[:1] not in FORMULA
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell])
    assert next(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [cell]


def test_csv_export_neutralises_formulas_and_keeps_spf_whole() -> None:
    d = Domain("acme.example", "x", dns_records=(
        txt("acme.example", "v=spf1 include:mailgun.org -all"),
        txt("f.acme.example", '=HYPERLINK("http://evil.example","x")'),
        txt("m.acme.example", "-all"),
        txt("p.acme.example", "+1"),
        txt("a.acme.example", "@SUM(A1)"),
        txt("t.acme.example", "\t=1"),
    ))
    rows = list(csv.DictReader(io.StringIO(edns.export([(d, "=cmd|' /C calc'!A0")], "csv"))))
    assert [r["value"] for r in rows] == [
        "v=spf1 include:mailgun.org -all", '\'=HYPERLINK("http://evil.example","x")',
        "'-all", "'+1", "'@SUM(A1)", "'\t=1"]
    assert {r["customer"] for r in rows} == {"'=cmd|' /C calc'!A0"}


@pytest.mark.parametrize("bad", ["x\x1b[2Jy", "a\nb", "a\rb", "\u202eexe", "x\x85y", "\x00"])
def test_csv_refuses_control_characters_naming_the_domain(bad: str) -> None:
    d = Domain("acme.example", "x", dns_records=(txt("acme.example", bad),))
    with pytest.raises(DnsExportError, match=r"'acme\.example'.*control character"):
        edns.to_csv([d])
    with pytest.raises(DnsExportError, match="control character"):
        edns.to_csv([(Domain("acme.example", "x", dns_records=(txt("acme.example", "v"),)),
                      bad)])
    # tab inside a value is data, not control: kept
    ok = Domain("acme.example", "x", dns_records=(txt("acme.example", "a\tb"),))
    assert next(iter(csv.DictReader(io.StringIO(edns.to_csv([ok])))))["value"] == "a\tb"


def test_json_keeps_values_exact_and_escapes_control_characters() -> None:
    value = "x\x1b]52;c;ZXZpbA==\x07\u202e\x9b"
    d = Domain("acme.example", "x", dns_records=(txt("acme.example", value),))
    text = edns.to_json([d])
    assert all(" " <= ch < "\x7f" or ch == "\n" for ch in text)
    import json
    assert json.loads(text)[0]["records"][0]["value"] == value


# -- zone files: never outside the directory --------------------------------------------------


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` with its content (files) or link target (links)."""
    seen: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            seen[key] = "-> " + os.readlink(path)
        elif path.is_file():
            seen[key] = path.read_bytes()
        else:
            seen[key] = "dir"
    return seen


@pytest.mark.parametrize("zone", ["../../somewhere", "../escape.example", "/abs/x.example",
                                  "a\x00b.example", "a/b.example", "a\\b.example", "..",
                                  ".hidden.example", "x.example\n", "ACME.example"])
def test_hostile_zone_names_write_nothing_anywhere(tmp_path: Path, zone: str) -> None:
    out = tmp_path / "a" / "b" / "zones"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    with pytest.raises(DnsExportError, match="zone"):
        edns.write_zone_files({"good.example": "ok\n", zone: "evil\n"}, out)
    assert snapshot(tmp_path) == before


def test_a_symlink_in_the_directory_refuses_the_export(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim.txt"
    target.write_text("precious\n")
    out = tmp_path / "zones"
    out.mkdir()
    (out / "acme.example.yaml").symlink_to(target)
    (out / "gone.example.yaml").symlink_to(outside / "not-there-yet")   # dangling
    before = snapshot(tmp_path)
    for zone in ("acme.example", "gone.example"):
        with pytest.raises(DnsExportError, match=r"symbolic link.*nothing was written"):
            edns.write_zone_files({"first.example": "ok\n", zone: "evil\n"}, out)
        assert snapshot(tmp_path) == before   # not even first.example.yaml
    assert target.read_text() == "precious\n"
    assert not (outside / "not-there-yet").exists()
    (out / "dir.example.yaml").mkdir()
    with pytest.raises(DnsExportError, match="not a regular file"):
        edns.write_zone_files({"dir.example": "x"}, out)


def test_files_are_replaced_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    out = tmp_path / "zones"
    out.mkdir()
    os.link(outside, out / "acme.example.yaml")        # a hard link planted in the directory
    (out / "old.example.yaml").write_text("old\n")
    written = edns.write_zone_files({"acme.example": "new\n", "old.example": "newer\n"}, out)
    assert written == [out / "acme.example.yaml", out / "old.example.yaml"]
    assert (out / "acme.example.yaml").read_text() == "new\n"
    assert (out / "old.example.yaml").read_text() == "newer\n"
    assert outside.read_text() == "precious\n"
    assert sorted(p.name for p in out.iterdir()) == ["acme.example.yaml", "old.example.yaml"]
    assert file_names({"a.example": "x"}) == {"a.example.yaml": "x"}


def test_generated_hostile_names_never_leave_the_directory(tmp_path: Path) -> None:
    """Every name the strategies call bad (and a few thousand random strings) is refused or
    lands inside the directory under its own canonical name."""
    out = tmp_path / "zones"
    out.mkdir()

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(bad_names, st.text(max_size=30), good_names))
    def one(name: str) -> None:
        try:
            [path] = edns.write_zone_files({name: "x\n"}, out)
        except DnsExportError:
            return
        assert path.parent == out
        assert path.name == name + ".yaml"

    one()
    assert sorted(p.parent for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        out for p in out.iterdir())
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no leftovers
