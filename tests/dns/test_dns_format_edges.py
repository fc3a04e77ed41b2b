"""The zone-file building blocks on both sides of each limit: TTL range, MX priority range,
the 255-octet character-string, the printable-ASCII window of a quoted string, the record
types and address families written, and the grouping of an export by customer.

Written from mutation testing (scripts/mutation.py).
"""

from __future__ import annotations

import pytest

from espkit.dns.formats import (
    DEFAULT_TTL,
    RECORD_TYPES,
    checked_record,
    comment,
    csv_cell,
    labelled,
    quote_character_string,
    to_bind,
    txt_strings,
)
from espkit.errors import DnsExportError
from espkit.models import DnsRecord, Domain, RecordPurpose

HOST = "a.example.com"


def record(rtype: str, value: str, host: str = HOST, priority: int | None = None) -> DnsRecord:
    return DnsRecord(RecordPurpose.OTHER, rtype, host, value, priority=priority)


def domain(*records: DnsRecord, name: str = HOST) -> Domain:
    return Domain(name, "mailgun", dns_records=records)


@pytest.mark.parametrize("ttl", [0, 1, 2**31 - 1])
def test_a_ttl_from_0_to_2_31_minus_1_is_written(ttl: int) -> None:
    text = to_bind([domain(record("A", "192.0.2.1"))], ttl=ttl)
    assert f"{HOST}.\t{ttl}\tIN\tA\t192.0.2.1\t; other" in text


@pytest.mark.parametrize("ttl", [-1, 2**31, True, 60.0, "60"])
def test_any_other_ttl_is_refused(ttl: object) -> None:
    with pytest.raises(DnsExportError) as info:
        to_bind([domain(record("A", "192.0.2.1"))], ttl=ttl)  # type: ignore[arg-type]
    assert "must be a whole number of seconds, 0-2147483647" in str(info.value)


def test_the_default_ttl_is_an_hour() -> None:
    assert DEFAULT_TTL == 3600
    assert "\t3600\tIN\t" in to_bind([domain(record("A", "192.0.2.1"))])


@pytest.mark.parametrize(("given", "written"), [(None, 10), (0, 0), (65535, 65535)])
def test_mx_priority_0_to_65535_and_10_when_absent(given: int | None, written: int) -> None:
    checked = checked_record(HOST, record("mx", "mx.example.com", priority=given))
    assert (checked.type, checked.priority, checked.value) == ("MX", written, "mx.example.com")
    text = to_bind([domain(record("MX", "mx.example.com", priority=given))])
    assert f"\tMX\t{written} mx.example.com.\t" in text


@pytest.mark.parametrize("bad", [-1, 65536, True, 1.5])
def test_any_other_mx_priority_is_refused(bad: object) -> None:
    with pytest.raises(DnsExportError) as info:
        checked_record(HOST, record("MX", "mx.example.com", priority=bad))  # type: ignore[arg-type]
    assert str(info.value).endswith("must be 0-65535")
    assert str(info.value).startswith(f"{HOST}: the 'MX' record at '{HOST}': the priority ")


def test_only_the_record_types_espkit_writes() -> None:
    assert RECORD_TYPES == ("A", "AAAA", "CNAME", "MX", "NS", "TXT")
    with pytest.raises(DnsExportError) as info:
        checked_record(HOST, record("SRV", "0 5 5060 sip.example.com"))
    assert str(info.value) == (f"{HOST}: the 'SRV' record at '{HOST}': not a record type "
                               "espkit writes (A, AAAA, CNAME, MX, NS, TXT)")
    assert checked_record(HOST, record("cname", "t.example.com")).type == "CNAME"
    assert checked_record(HOST, record("ns", "ns1.example.com")).type == "NS"


def test_addresses_must_be_of_their_records_family_and_are_canonical() -> None:
    assert checked_record(HOST, record("A", "192.0.2.1")).value == "192.0.2.1"
    assert checked_record(HOST, record("AAAA", "2001:DB8::0:1")).value == "2001:db8::1"
    with pytest.raises(DnsExportError) as a:
        checked_record(HOST, record("A", "2001:db8::1"))
    assert str(a.value).endswith("'2001:db8::1' is not an IPv4 address")
    with pytest.raises(DnsExportError) as aaaa:
        checked_record(HOST, record("AAAA", "192.0.2.1"))
    assert str(aaaa.value).endswith("'192.0.2.1' is not an IPv6 address")
    with pytest.raises(DnsExportError) as zone:
        checked_record(HOST, record("AAAA", "fe80::1%eth0"))
    assert str(zone.value).endswith("'fe80::1%eth0' has a zone id")


def test_a_value_that_is_not_text_or_not_encodable_is_refused() -> None:
    with pytest.raises(DnsExportError, match="is not text"):
        checked_record(HOST, record("TXT", 5))  # type: ignore[arg-type]
    with pytest.raises(DnsExportError, match="is not valid text"):
        checked_record(HOST, record("TXT", "a\udc80"))
    assert checked_record(HOST, record("TXT", "é")).value == "é"


@pytest.mark.parametrize(("size", "chunks"), [(0, [0]), (1, [1]), (255, [255]),
                                              (256, [255, 1]), (510, [255, 255]),
                                              (511, [255, 255, 1])])
def test_txt_values_split_at_255_octets(size: int, chunks: list[int]) -> None:
    parts = txt_strings("x" * size)
    assert [len(p) for p in parts] == chunks
    assert b"".join(parts) == b"x" * size


def test_a_long_txt_value_spans_lines_in_parentheses() -> None:
    one = to_bind([domain(record("TXT", "x" * 255))])
    assert '\tTXT\t"' + "x" * 255 + '"\t' in one
    two = to_bind([domain(record("TXT", "x" * 256))])
    assert '\tTXT\t(\n\t"' + "x" * 255 + '"\n\t"x" )\t' in two


@pytest.mark.parametrize(("chunk", "quoted"), [
    (b"", '""'),
    (b' ~', '" ~"'),
    (b'"', '"\\""'),
    (b"\\", '"\\\\"'),
    (b"\x1f", '"\\031"'),
    (b"\x7f", '"\\127"'),
    (b"\x00\xff", '"\\000\\255"'),
    (b"a;b$c", '"a;b$c"'),
])
def test_quote_character_string(chunk: bytes, quoted: str) -> None:
    assert quote_character_string(chunk) == quoted


def test_a_character_string_is_at_most_255_octets() -> None:
    assert quote_character_string(b"x" * 255) == '"' + "x" * 255 + '"'
    with pytest.raises(DnsExportError) as info:
        quote_character_string(b"x" * 256)
    assert str(info.value) == "a character-string is at most 255 octets"


def test_comments_show_what_is_not_printable() -> None:
    assert comment("acme\n$INCLUDE x") == "acme\\u000a$INCLUDE x"
    assert comment("a\u202eb") == "a\\u202eb"
    assert comment(7) == "7"
    assert comment("plain text") == "plain text"


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("v=spf1 -all", "v=spf1 -all"), (None, ""), (10, "10"), ("\uff1dx", "'\uff1dx"),
])
def test_csv_cells_never_start_a_formula(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_an_export_is_grouped_by_customer_in_order_of_first_appearance() -> None:
    a, b, c, d = (Domain(f"{n}.example.com", "mailgun") for n in "abcd")
    pairs = labelled([(a, "x"), (b, "y"), (c, "x"), d])
    assert [(dom.name[0], label) for dom, label in pairs] == [
        ("a", "x"), ("c", "x"), ("b", "y"), ("d", None)]
    # the mapping wins over the label in the pair
    pairs = labelled([(a, "x"), b], customers={"a.example.com": "z", "b.example.com": "y"})
    assert [(dom.name[0], label) for dom, label in pairs] == [("a", "z"), ("b", "y")]


def test_bind_writes_a_customer_header_once_per_group() -> None:
    a, b = domain(name="a.example.com"), domain(name="b.example.com")
    text = to_bind([(a, "acme"), (b, "acme")])
    assert text.count("; ==== customer: acme") == 1
    assert text.startswith("; ==== customer: acme\n\n; a.example.com (mailgun, 0 records)")
    assert "==== customer" not in to_bind([a, b])
