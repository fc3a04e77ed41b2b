"""DNS export: the behaviours mutation testing found unpinned (scripts/mutation.py formats).

Every refusal names what it refuses (the value, the record, the domain, cut where the
message says); the ``customers``, ``zones`` and ``ttl`` arguments reach every format through
``export``; the layout of each format (CSV line ends, JSON indent, octoDNS block style, long
lines kept whole, natural order of zones and names); NS targets written absolute.
"""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from espkit.dns import formats
from espkit.dns.formats import (
    checked_record,
    export,
    octodns_data,
    to_bind,
    to_csv,
    to_json,
    to_octodns,
    zone_of,
)
from espkit.errors import ConfigError, DnsExportError
from espkit.models import DnsRecord, Domain, DomainState, RecordPurpose, RecordStatus

HOST = "a.example.com"


def record(rtype: object, value: object, host: str = HOST, priority: object = None,
           status: RecordStatus = RecordStatus.UNKNOWN) -> DnsRecord:
    return DnsRecord(RecordPurpose.OTHER, rtype, host, value,  # type: ignore[arg-type]
                     priority=priority, status=status)  # type: ignore[arg-type]


def domain(*records: DnsRecord, name: str = HOST,
           state: DomainState = DomainState.UNVERIFIED) -> Domain:
    return Domain(name, "mailgun", state=state, dns_records=records)


def refusal(call: object) -> str:
    with pytest.raises(DnsExportError) as info:
        call()  # type: ignore[operator]
    return str(info.value)


# -- what a refusal names -------------------------------------------------------------------


def test_a_bad_ttl_is_named() -> None:
    message = refusal(lambda: to_bind([domain()], ttl=-5))
    assert message == "ttl -5 must be a whole number of seconds, 0-2147483647"


def test_a_type_that_is_not_text_is_refused_as_a_type() -> None:
    message = refusal(lambda: checked_record(HOST, record(None, "x")))
    assert message == (f"{HOST}: the None record at '{HOST}': not a record type espkit writes "
                       "(A, AAAA, CNAME, MX, NS, TXT)")


def test_a_long_type_is_cut_to_24_characters_in_the_message() -> None:
    rtype = "T" * 40
    message = refusal(lambda: checked_record(HOST, record(rtype, "x")))
    assert message.startswith(f"{HOST}: the '{'T' * 22}… record at '{HOST}': ")


def test_a_value_that_is_not_text_is_named() -> None:
    message = refusal(lambda: checked_record(HOST, record("TXT", 5)))
    assert message == f"{HOST}: the 'TXT' record at '{HOST}': the value 5 is not text"


def test_a_bad_priority_is_named() -> None:
    message = refusal(lambda: checked_record(HOST, record("MX", "mx.example.com",
                                                          priority=70000)))
    assert message == (f"{HOST}: the 'MX' record at '{HOST}': the priority 70000 must be "
                       "0-65535")


def test_a_value_that_is_not_valid_text_is_named() -> None:
    message = refusal(lambda: checked_record(HOST, record("TXT", "a\udc80")))
    assert message == (f"{HOST}: the 'TXT' record at '{HOST}': the value 'a\\udc80' is not "
                       "valid text")


def test_the_host_is_written_as_checked() -> None:
    # record_name drops the trailing dot (and keeps the case): the checked host is returned
    checked = checked_record(HOST, record("A", "192.0.2.1", host="Mail.Example.com."))
    assert checked.host == "Mail.Example.com"


def test_a_bad_domain_name_is_named_as_the_domain() -> None:
    message = refusal(lambda: to_bind([domain(name="bad name.example.com")]))
    assert message.startswith("the domain 'bad name.example.com' cannot be written: ")


def test_a_bad_zone_is_named_as_the_zone() -> None:
    message = refusal(lambda: zone_of(HOST, "acme", {"acme": "bad zone"}))
    assert message.startswith("the zone 'bad zone' cannot be written: ")


def test_a_control_character_in_a_csv_cell_names_domain_record_host_and_cell() -> None:
    rtype = "X" * 30  # the CSV export writes any type: only the zone formats refuse them
    message = refusal(lambda: to_csv([domain(record(rtype, "v\x07"))]))
    assert message == (f"'{HOST}': the '{'X' * 22}… record at '{HOST}' holds a control "
                       "character: 'v\\x07'")


def test_octodns_refusals_show_60_characters_of_the_value() -> None:
    text = "é" + "x" * 100
    message = refusal(lambda: octodns_data([domain(record("TXT", text))]))
    assert message == f"octoDNS takes ASCII TXT values only: {text[:60]!r}"
    quoted = '"' + "y" * 100
    message = refusal(lambda: octodns_data([domain(record("TXT", quoted))]))
    assert message == f"octoDNS would alter this TXT value: {quoted[:60]!r}"


@pytest.mark.parametrize("value", ['"quoted"', 'two" "strings', "escaped\\;semicolon"])
def test_octodns_refuses_what_it_would_alter(value: str) -> None:
    assert "octoDNS would alter this TXT value" in refusal(
        lambda: octodns_data([domain(record("TXT", value))]))


def test_a_record_outside_its_zone_is_named() -> None:
    d = domain(record("TXT", "v", host="elsewhere.example.org"))
    message = refusal(lambda: octodns_data([d]))
    assert message == f"the record elsewhere.example.org is not inside the zone {HOST}"


def test_a_cname_at_the_apex_is_refused_with_the_way_out() -> None:
    message = refusal(lambda: octodns_data([domain(record("CNAME", "t.example.com"))]))
    assert message == (f"a CNAME at the apex of the zone {HOST} is not allowed: give the "
                       "customer's registered domain as the zone (zones=...)")


def test_two_cnames_at_one_name_are_refused() -> None:
    d = domain(record("CNAME", "t1.example.com", host=f"x.{HOST}"),
               record("CNAME", "t2.example.com", host=f"x.{HOST}"))
    message = refusal(lambda: octodns_data([d]))
    assert message == f"x.{HOST}: a CNAME cannot share its name with other records"
    # one CNAME alone at the name is fine, and the same one twice is one
    one = domain(record("CNAME", "t1.example.com", host=f"x.{HOST}"),
                 record("CNAME", "T1.example.com", host=f"x.{HOST}"))
    assert octodns_data([one])[HOST]["x"] == {"ttl": 3600, "type": "CNAME",
                                              "value": "t1.example.com."}


def test_an_unknown_format_lists_the_formats() -> None:
    message = refusal(lambda: export([domain()], "xml"))
    assert message == "unknown format 'xml': one of bind, csv, json, octodns"


def test_octodns_without_pyyaml_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    with pytest.raises(ConfigError) as info:
        to_octodns([domain(record("TXT", "v"))])
    assert str(info.value).startswith("the octoDNS export needs PyYAML: ")
    assert "pip install" in str(info.value)


# -- NS and addresses -----------------------------------------------------------------------


def test_ns_targets_are_absolute_in_bind_and_octodns() -> None:
    d = domain(record("NS", "NS1.Example.net", host=f"sub.{HOST}"))
    assert f"sub.{HOST}.\t3600\tIN\tNS\tNS1.Example.net.\t; other" in to_bind([d])
    assert octodns_data([d])[HOST]["sub"] == {"ttl": 3600, "type": "NS",
                                               "value": "ns1.example.net."}


def test_addresses_reach_the_octodns_document() -> None:
    d = domain(record("A", "192.0.2.1", host=f"x.{HOST}"),
               record("AAAA", "2001:db8::1", host=f"x.{HOST}"))
    assert octodns_data([d])[HOST]["x"] == [
        {"ttl": 3600, "type": "A", "value": "192.0.2.1"},
        {"ttl": 3600, "type": "AAAA", "value": "2001:db8::1"},
    ]


# -- customers, zones and ttl reach every format ---------------------------------------------


CUSTOMERS = {HOST: "acme"}


def test_export_passes_customers_and_ttl_to_bind() -> None:
    d = domain(record("A", "192.0.2.1"))
    text = export([d], "bind", customers=CUSTOMERS, ttl=300)
    assert text == (f"; ==== customer: acme\n\n; {HOST} (mailgun, 1 records)\n"
                    f"{HOST}.\t300\tIN\tA\t192.0.2.1\t; other\n")
    assert export([d]) == to_bind([d])  # bind is the default format


def test_export_passes_customers_to_csv() -> None:
    d = domain(record("MX", "mx.example.com", priority=5), record("TXT", "v=spf1"))
    text = export([d], "csv", customers=CUSTOMERS)
    assert text == ("customer,domain,purpose,type,host,value,priority\n"
                    f"acme,{HOST},other,MX,{HOST},mx.example.com,5\n"
                    f"acme,{HOST},other,TXT,{HOST},v=spf1,\n")


def test_export_passes_customers_to_json_with_state_status_and_indent() -> None:
    d = domain(record("TXT", "v", status=RecordStatus.VALID), state=DomainState.VERIFIED)
    text = export([d], "json", customers=CUSTOMERS)
    assert json.loads(text) == [{
        "customer": "acme", "domain": HOST, "provider": "mailgun", "state": "verified",
        "records": [{"purpose": "other", "type": "TXT", "host": HOST, "value": "v",
                     "priority": None, "status": "valid"}]}]
    assert text.startswith('[\n  {\n    "customer": "acme",\n')
    assert text.endswith("]\n")
    assert to_json([d]) == text.replace('"acme"', "null")


def test_export_passes_customers_zones_and_ttl_to_octodns() -> None:
    d = domain(record("TXT", "v", host="news.acme.example"), name="news.acme.example")
    text = export([d], "octodns", customers={"news.acme.example": "acme"},
                  zones={"acme": "acme.example"}, ttl=300)
    assert text == ("# octoDNS zone acme.example. (records from espkit)\n---\n"
                    "news:\n  ttl: 300\n  type: TXT\n  value: v\n")


def test_a_zone_can_be_given_per_domain() -> None:
    d = domain(record("TXT", "v", host="news.acme.example"), name="news.acme.example")
    docs = to_octodns([d], zones={"news.acme.example": "acme.example"})
    assert list(docs) == ["acme.example"]
    assert zone_of("news.acme.example", None, {"news.acme.example": "acme.example"}) == \
        "acme.example"


def test_a_domain_without_a_customer_takes_no_customers_zone() -> None:
    # a mapping built from labels may hold a None key: a domain without a customer must not
    # take that zone
    zones: dict[str, str] = {None: "example.com"}  # type: ignore[dict-item]
    assert zone_of(HOST, None, zones) == HOST
    assert zone_of(HOST, "acme", {"acme": "example.com"}) == "example.com"


# -- layout ----------------------------------------------------------------------------------


def test_octodns_zones_and_names_in_natural_order_in_block_style() -> None:
    docs = to_octodns([
        domain(record("TXT", "v", host="s10.z10.example.com"), name="z10.example.com"),
        domain(record("TXT", "v", host="s10.z9.example.com"),
               record("TXT", "w", host="s9.z9.example.com"),
               record("TXT", "b", host="s9.z9.example.com"), name="z9.example.com"),
    ])
    assert list(docs) == ["z9.example.com", "z10.example.com"]
    assert docs["z9.example.com"] == (
        "# octoDNS zone z9.example.com. (records from espkit)\n---\n"
        "s9:\n  ttl: 3600\n  type: TXT\n  values:\n  - b\n  - w\n"
        "s10:\n  ttl: 3600\n  type: TXT\n  value: v\n")


def test_a_long_txt_value_stays_on_one_line_in_octodns() -> None:
    value = " ".join(["word"] * 500)  # 2,499 characters with spaces a dumper could fold at
    text = to_octodns([domain(record("TXT", value))])[HOST]
    assert f"  value: {value}\n" in text
    assert yaml.safe_load(text.split("\n", 1)[1])[""]["value"] == value


def test_csv_lines_end_in_a_bare_newline() -> None:
    text = to_csv([domain(record("TXT", "v"))])
    assert "\r" not in text
    assert text.count("\n") == 2


def test_formats_of_the_module() -> None:
    assert formats.FORMATS == ("bind", "csv", "json", "octodns")
