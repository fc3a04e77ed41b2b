"""Every refusal of espkit.validate, pinned to its field, value and reason.

The reason is what a user reads (``invalid domain 'a..b': has an empty label``), and the
field and value are what a caller catching ``ValidationError`` acts on: each is part of the
contract. Written from mutation testing (scripts/mutation.py): before these tests, a
changed message, a dropped value or a swapped field passed the suite.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from espkit import validate
from espkit.errors import ValidationError
from espkit.models import DomainSpec

PRINTABLE = "HTTP headers carry printable ASCII only"


def refusal(call: Callable[[], object]) -> tuple[str, object, str]:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.field, info.value.value, info.value.reason


# -- domain names ----------------------------------------------------------------------------

LDH = "must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "must not be empty"),
        ("a/b.com", "contains a character not allowed in a domain name "
                    "(slash, percent, whitespace, control character, ...)"),
        ("a..b.com", "has an empty label"),
        (".a.com", "has an empty label"),
        ("a.com..", "has an empty label"),
        (".", "has an empty label"),
        ("localhost", "needs at least two labels, e.g. mail.example.com"),
        ("localhost.", "needs at least two labels, e.g. mail.example.com"),
        ("mail.123", "top-level label cannot be numeric"),
        ("-a.example.com", f"label '-a' {LDH}"),
        ("a-.example.com", f"label 'a-' {LDH}"),
        ("a_b.example.com", f"label 'a_b' {LDH}"),
        ("xn--zz.example.com", "label 'xn--zz' is not a valid IDNA 2008 label "
                               "(Invalid A-label)"),
        ("①-.com", "would become '1-.com' under IDNA 2008 mapping: give that name if it is "
                   "the one meant"),
        ("\uff46\uff4f\uff4f.de",  # full-width "foo"
         "would become 'foo.de' ('foo.de') under IDNA 2008 mapping: give that name if it is "
         "the one meant"),
    ],
)
def test_domain_name_refusals_say_why(value: str, reason: str) -> None:
    assert refusal(lambda: validate.domain_name(value)) == ("domain", value, reason)


def test_domain_name_refusals_name_the_callers_field() -> None:
    assert refusal(lambda: validate.domain_name(5, "sender")) == ("sender", 5,
                                                                   "must be a string")
    assert refusal(lambda: validate.domain_name("", "sender"))[0] == "sender"
    assert refusal(lambda: validate.domain_name("bücher_x.de", "sender"))[0] == "sender"
    assert refusal(lambda: validate.domain_name("a" * 64 + ".com", "sender"))[0] == "sender"


def test_a_name_std3_rules_refuse_is_an_invalid_name_not_a_label() -> None:
    # "_" is not allowed by the STD3 rules: refused while mapping the whole name
    field, value, reason = refusal(lambda: validate.domain_name("bücher_x.de"))
    assert (field, value) == ("domain", "bücher_x.de")
    assert reason.startswith("is not a valid IDNA 2008 name (")
    assert "U+005F" in reason


def test_a_non_canonical_a_label_is_refused_as_such() -> None:
    # xn--bcher-kva is the A-label of bücher: upper case is folded first, so it is accepted;
    # a label that decodes but encodes differently names another domain
    assert validate.domain_name("XN--BCHER-KVA.de") == "xn--bcher-kva.de"
    field, _, reason = refusal(lambda: validate.domain_name("xn--a.example.com"))
    assert field == "domain"
    assert reason.startswith("label 'xn--a' is not a")


def test_a_non_ascii_label_is_measured_as_sent() -> None:
    # "ü" * n is sent as "xn--" + its punycode: 63 characters is the last accepted length
    fits = next(n for n in range(60, 0, -1)
                if len("xn--" + ("ü" * n).encode("punycode").decode()) <= 63)
    sent = "xn--" + ("ü" * fits).encode("punycode").decode()
    assert validate.domain_name("ü" * fits + ".de") == sent + ".de"
    longer = "ü" * (fits + 1)
    shown = "xn--" + longer.encode("punycode").decode()
    assert len(shown) > 63
    assert refusal(lambda: validate.domain_name(longer + ".de")) == (
        "domain", longer + ".de",
        f"label {longer!r} is longer than 63 characters as sent ({shown!r})")


def test_the_253_limit_on_the_typed_and_the_sent_name() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253
    assert validate.domain_name(name) == name
    assert validate.domain_name(name + ".") == name
    assert refusal(lambda: validate.domain_name(name + "d")) == (
        "domain", name + "d", "is longer than 253 characters")
    # 248 typed characters, 255 once the last label is sent as a 63-character A-label
    label = "ü" + "d" * 55
    typed = ".".join(["a" * 63, "b" * 63, "c" * 63, label])
    sent = ".".join(["a" * 63, "b" * 63, "c" * 63, "xn--" + label.encode("punycode").decode()])
    assert (len(typed), len(sent)) == (248, 255)
    assert refusal(lambda: validate.domain_name(typed)) == (
        "domain", typed, f"is longer than 253 characters as sent ({sent!r})")


# -- addresses, names, ids -------------------------------------------------------------------


def test_ip_address_refusals() -> None:
    assert refusal(lambda: validate.ip_address(4)) == ("ip", 4, "must be a string")
    assert refusal(lambda: validate.ip_address(" 1.2.3.4", "dedicated ip")) == (
        "dedicated ip", " 1.2.3.4", "is not an IPv4 or IPv6 address")
    assert validate.ip_address("2001:DB8::1") == "2001:db8::1"


def test_ip_addresses_refusals_name_the_field() -> None:
    assert refusal(lambda: validate.ip_addresses("1.2.3.4")) == (
        "ips", "1.2.3.4", "must be a list of addresses, not one string")
    assert refusal(lambda: validate.ip_addresses("1.2.3.4", "pool ips"))[0] == "pool ips"
    assert refusal(lambda: validate.ip_addresses(["1.2.3.4", "x"], "pool ips")) == (
        "pool ips", "x", "is not an IPv4 or IPv6 address")
    assert validate.ip_addresses(["10.0.0.2", "10.0.0.1", "10.0.0.2"]) == ("10.0.0.2",
                                                                           "10.0.0.1")


NAME_RULE = "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def test_resource_names_on_both_sides_of_each_rule() -> None:
    assert validate.resource_name("a" * 64, "pool") == "a" * 64
    assert validate.resource_name("a", "pool") == "a"
    assert validate.resource_name("9._-", "pool") == "9._-"
    for bad in ("a" * 65, "", "-a", ".a", "a b", "a\n"):
        assert refusal(lambda bad=bad: validate.resource_name(bad, "pool")) == (
            "pool", bad, NAME_RULE)
    assert refusal(lambda: validate.resource_name(3, "pool")) == ("pool", 3, "must be a string")
    assert refusal(lambda: validate.pool_name("-x")) == ("pool", "-x", NAME_RULE)
    assert refusal(lambda: validate.subaccount_name("-x")) == ("subaccount", "-x", NAME_RULE)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "must be a non-empty string"),
        (None, "must be a non-empty string"),
        (True, "must be a non-empty string"),
        (".", "contains a character not allowed in an id"),
        ("..", "contains a character not allowed in an id"),
        ("a/b", "contains a character not allowed in an id"),
    ],
)
def test_identifier_refusals(value: object, reason: str) -> None:
    assert refusal(lambda: validate.identifier(value, "pool id")) == ("pool id", value, reason)


def test_identifier_accepts_dots_inside_and_ints() -> None:
    assert validate.identifier("a.b", "id") == "a.b"
    assert validate.identifier("...", "id") == "..."
    assert validate.identifier(0, "id") == "0"


# -- header values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "must not be empty"),
        ("abc\n", f"has a control character ('\\n') at position 3: {PRINTABLE}"),
        ("\x7fab", f"has a control character ('\\x7f') at position 0: {PRINTABLE}"),
        ("aé", f"has a non-ASCII character ('é') at position 1: {PRINTABLE}"),
        (" abc", "must not start or end with a space"),
        ("abc ", "must not start or end with a space"),
    ],
)
def test_header_value_refusals(value: str, reason: str) -> None:
    assert refusal(lambda: validate.header_value("subaccount", value)) == (
        "subaccount", value, reason)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (5, "must be a string"),
        ("", "must not be empty"),
        ("k\ney", f"has a control character at position 1: {PRINTABLE}"),
        ("ké", f"has a non-ASCII character at position 1: {PRINTABLE}"),
        ("key ", "must not start or end with a space"),
    ],
)
def test_a_secret_header_value_is_refused_without_being_shown(value: object,
                                                             reason: str) -> None:
    assert refusal(lambda: validate.header_value("api key", value, secret=True)) == (
        "api key", "<redacted>", reason)


def test_header_value_accepts_the_printable_ascii_edges() -> None:
    # " " (0x20) and "~" (0x7e) are the first and last printable characters
    assert validate.header_value("h", "~~ ~") == "~~ ~"
    assert validate.header_value("h", "!") == "!"
    assert validate.header_value("h", "a b") == "a b"
    assert validate.header_value("h", "XkeyX") == "XkeyX"
    assert refusal(lambda: validate.header_value("h", 5)) == ("h", 5, "must be a string")


# -- options and specs -----------------------------------------------------------------------


def test_choice_lists_what_is_allowed() -> None:
    assert refusal(lambda: validate.choice(512, "dkim_key_size", (1024, 2048))) == (
        "dkim_key_size", 512, "must be one of 1024, 2048")
    validate.choice(2048, "dkim_key_size", iter((1024, 2048)))


def test_domain_option_refusals() -> None:
    assert refusal(lambda: validate.domain_option("spam_action", "drop")) == (
        "spam_action", "drop", "must be one of 'disabled', 'block', 'tag'")
    assert refusal(lambda: validate.domain_option("web_scheme", "ftp")) == (
        "web_scheme", "ftp", "must be one of 'http', 'https'")
    assert refusal(lambda: validate.domain_option("wildcard", 1)) == (
        "wildcard", 1, "must be true or false")
    assert refusal(lambda: validate.domain_option("web_prefix", "-x")) == (
        "web_prefix", "-x", NAME_RULE)
    assert refusal(lambda: validate.domain_option("color", "red")) == (
        "domain option", "color",
        "is not one of 'dkim_key_size', 'spam_action', 'web_scheme', 'wildcard', "
        "'dkim_selector', 'web_prefix'")


def test_domain_option_returns_each_value_normalised() -> None:
    assert validate.domain_option("dkim_key_size", 1024.0) == 1024
    assert type(validate.domain_option("dkim_key_size", 1024.0)) is int
    assert validate.domain_option("spam_action", "tag") == "tag"
    assert validate.domain_option("web_scheme", "https") == "https"
    assert validate.domain_option("wildcard", False) is False
    assert validate.domain_option("dkim_selector", "s1") == "s1"


def test_domain_spec_refuses_ips_with_a_pool_but_takes_either() -> None:
    assert refusal(lambda: validate.domain_spec(
        DomainSpec(name="a.example.com", ips=("10.0.0.1",), pool="p"))) == (
        "pool", "p", "give ips or pool, not both")
    spec = validate.domain_spec(DomainSpec(name="A.example.com", pool="p"))
    assert (spec.name, spec.ips, spec.pool) == ("a.example.com", (), "p")
    spec = validate.domain_spec(DomainSpec(name="a.example.com", ips=("10.0.0.1",)))
    assert (spec.ips, spec.pool) == (("10.0.0.1",), None)
