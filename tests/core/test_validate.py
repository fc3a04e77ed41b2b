"""Input validation: everything that ends up in a URL path is checked and canonicalised."""

from __future__ import annotations

import re

import attrs
import pytest

from espkit import validate
from espkit.errors import ConfigError, ValidationError
from espkit.models import DomainSpec

# -- domain names ----------------------------------------------------------------------------


#: four labels, 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters: the longest legal name
NAME_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("example.com", "example.com"),
        ("Mail.Example.COM", "mail.example.com"),
        ("mail.example.com.", "mail.example.com"),  # trailing dot dropped
        ("a-b.example.com", "a-b.example.com"),
        ("a--b.example.com", "a--b.example.com"),
        ("123.example.com", "123.example.com"),  # numeric labels are fine below the TLD
        ("bücher.de", "xn--bcher-kva.de"),  # IDNA -> punycode
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008 keeps ß (IDNA 2003 made it fass.de)
        ("ab--cd.example.com", "ab--cd.example.com"),  # an LDH host name, as always
    ],
)
def test_domain_name_canonicalises(raw: str, canonical: str) -> None:
    assert validate.domain_name(raw) == canonical


def test_domain_name_length_limits() -> None:
    label63 = "a" * 63 + ".com"
    assert validate.domain_name(label63) == label63
    with pytest.raises(ValidationError) as info:
        validate.domain_name("a" * 64 + ".com")
    assert info.value.field == "domain"

    ok = NAME_253
    assert len(ok) == 253
    assert validate.domain_name(ok) == ok
    assert validate.domain_name(ok + ".") == ok  # the trailing dot does not count
    too_long = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62])
    assert len(too_long) == 254
    with pytest.raises(ValidationError, match="253"):
        validate.domain_name(too_long)


def test_domain_name_length_is_measured_after_punycode() -> None:
    # 60 characters of Unicode become more than 63 of punycode
    with pytest.raises(ValidationError):
        validate.domain_name("ü" * 60 + ".com")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "localhost",  # single label
        "com.",  # single label with trailing dot
        ".",
        "example..com",
        ".example.com",
        "example.com..",
        "-example.com",
        "example-.com",
        "exa_mple.com",
        "example.123",  # numeric TLD
        "1.2.3.4",
        "example.com/admin",
        "../example.com",
        "example.com%2f..",
        "exa%41mple.com",
        "example .com",
        " example.com",
        "example.com\t",
        "example.com\r\nHost: evil",
        "example.com\n",
        "exam\x00ple.com",
        "example.com\x7f",
        "user@example.com",
        "example.com:8080",
        "example.com?x=1",
        "example.com#frag",
        "example\\com.net",
        # IDNA 2003 mapped these silently to other names; IDNA 2008 refuses them
        "example\u3002com",
        "x\u200b.com",
        "x\u00ad.com",
        "a\u2024b.com",
        "\uff45xample.com",
        "xn--zz.com",
    ],
)
def test_domain_name_rejects(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.domain_name(bad, field="name")
    err = info.value
    assert err.field == "name"
    assert err.value == bad
    # the message names the field and shows the value repr-quoted (control chars visible)
    assert str(err).startswith(f"invalid name {bad!r}: ")


@pytest.mark.parametrize("bad", [None, 42, b"example.com", ["example.com"]])
def test_domain_name_rejects_non_strings(bad: object) -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        validate.domain_name(bad)


def test_validation_error_is_a_config_error_and_value_error() -> None:
    with pytest.raises(ValidationError) as info:
        validate.domain_name("nope")
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
    assert info.value.reason
    assert "'nope'" in str(info.value)


# -- IP addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("::1", "::1"),
        ("FE80::A", "fe80::a"),
    ],
)
def test_ip_address_canonicalises(raw: str, canonical: str) -> None:
    assert validate.ip_address(raw) == canonical


@pytest.mark.parametrize(
    "bad",
    ["", "192.0.2", "192.0.2.256", "192.0.2.01", " 192.0.2.1", "192.0.2.1 ", "192.0.2.1\n",
     "2001:db8:::1", "example.com", "192.0.2.1/32", "1.2.3.4:80"],
)
def test_ip_address_rejects(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.ip_address(bad, "ip")
    assert info.value.field == "ip"
    assert info.value.value == bad


def test_ip_address_rejects_non_strings() -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        validate.ip_address(3232235521)


def test_ip_addresses_canonicalises_and_dedupes_in_order() -> None:
    got = validate.ip_addresses(["2001:DB8::1", "192.0.2.7", "2001:db8:0::1", "192.0.2.7"])
    assert got == ("2001:db8::1", "192.0.2.7")
    assert validate.ip_addresses(()) == ()


def test_ip_addresses_rejects_a_single_string_and_bad_members() -> None:
    with pytest.raises(ValidationError, match="not one string") as info:
        validate.ip_addresses("192.0.2.1")
    assert info.value.field == "ips"
    with pytest.raises(ValidationError) as info2:
        validate.ip_addresses(["192.0.2.1", "nope"])
    assert info2.value.value == "nope"


# -- pool / subaccount / resource names ------------------------------------------------------


@pytest.mark.parametrize("good", ["p", "pool-1", "Pool_2", "a.b.c", "9lives", "x" * 64])
def test_pool_and_subaccount_names_accept(good: str) -> None:
    assert validate.pool_name(good) == good
    assert validate.subaccount_name(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "-pool", ".pool", "_pool", "x" * 65, "a b", "a/b", "a%2Fb", "a?b", "a#b", "pool\n",
     "pool\r\n", "pool\x00", "pööl", "..", "a:b"],
)
def test_pool_and_subaccount_names_reject(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.pool_name(bad)
    assert info.value.field == "pool"
    assert info.value.value == bad
    with pytest.raises(ValidationError) as info2:
        validate.subaccount_name(bad)
    assert info2.value.field == "subaccount"


def test_resource_name_rejects_non_strings_and_names_its_field() -> None:
    with pytest.raises(ValidationError, match="must be a string") as info:
        validate.resource_name(7, "dkim_selector")
    assert info.value.field == "dkim_selector"


# -- identifiers -----------------------------------------------------------------------------


def test_identifier_accepts_opaque_ids_and_ints() -> None:
    assert validate.identifier("abc-123_X.y", "subaccount") == "abc-123_X.y"
    assert validate.identifier(12345, "subaccount") == "12345"


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a%2F", "a b", "a\n", "a?b", "a#b",
                                 "a:b", "a\\b", None, True, 1.5])
def test_identifier_rejects(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        validate.identifier(bad, "subaccount")
    assert info.value.field == "subaccount"


# -- header values ---------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["123", "customer-42", "a b", "!~", "x" * 500])
def test_header_value_accepts_printable_ascii(good: str) -> None:
    assert validate.header_value("subaccount", good) == good


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "must not be empty"),
        ("kund\u00e9", "a non-ASCII character ('\u00e9') at position 4"),
        ("\u0661\u0662", "a non-ASCII character ('\u0661') at position 0"),  # Arabic-Indic digits
        ("42\r\nX-Evil: 1", "a control character ('\\r') at position 2"),
        ("42\n", "a control character ('\\n') at position 2"),
        ("a\tb", "a control character ('\\t') at position 1"),
        ("a\x7f", "a control character ('\\x7f') at position 1"),
        ("a\x00", "a control character"),
        (" 42", "must not start or end with a space"),
        ("42 ", "must not start or end with a space"),
    ],
)
def test_header_value_refuses_what_http_cannot_carry(bad: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.header_value("subaccount", bad)
    assert info.value.field == "subaccount"
    assert info.value.value == bad
    assert reason in str(info.value)


@pytest.mark.parametrize("bad", ["s3cr\u00e9t-key", "s3cret\r\nX-Evil: 1", " s3cret", None, 42])
def test_header_value_of_a_secret_never_shows_it(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        validate.header_value("api_key", bad, secret=True)
    err = info.value
    assert err.value == "<redacted>"
    for text in (str(err), repr(err), repr(err.args)):
        assert "s3cr" not in text
        assert "\u00e9" not in text
        assert "\\xe9" not in text
        assert "42" not in text
    assert err.__cause__ is None
    assert err.__context__ is None


# -- choices ---------------------------------------------------------------------------------


def test_choice() -> None:
    validate.choice("tag", "spam_action", ("disabled", "block", "tag"))
    with pytest.raises(ValidationError) as info:
        validate.choice("drop", "spam_action", ("disabled", "block", "tag"))
    assert info.value.field == "spam_action"
    assert "'disabled', 'block', 'tag'" in str(info.value)


# -- domain creation options and specs ------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "checked"),
    [
        ("dkim_key_size", 1024, 1024),
        ("dkim_key_size", 2048.0, 2048),  # YAML's 2048.0: an int from here on
        ("spam_action", "tag", "tag"),
        ("web_scheme", "https", "https"),
        ("wildcard", False, False),
        ("dkim_selector", "s1", "s1"),
        ("web_prefix", "click", "click"),
    ],
)
def test_domain_option_accepts_and_normalises(key: str, value: object, checked: object) -> None:
    result = validate.domain_option(key, value)
    assert result == checked
    assert type(result) is type(checked)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dkim_key_size", 512, "invalid dkim_key_size 512: must be one of 1024, 2048"),
        ("dkim_key_size", "1024", "invalid dkim_key_size '1024': must be one of 1024, 2048"),
        ("dkim_key_size", True, "invalid dkim_key_size True: must be one of 1024, 2048"),
        ("spam_action", "drop",
         "invalid spam_action 'drop': must be one of 'disabled', 'block', 'tag'"),
        ("web_scheme", "ftp", "invalid web_scheme 'ftp': must be one of 'http', 'https'"),
        ("wildcard", "yes", "invalid wildcard 'yes': must be true or false"),
        ("dkim_selector", "a b", "invalid dkim_selector 'a b': must be 1-64 letters"),
        ("web_prefix", None, "invalid web_prefix None: must be a string"),
        ("dkim_size", 1024, "invalid domain option 'dkim_size': is not one of 'dkim_key_size'"),
        ("pool", "mkt", "invalid domain option 'pool': is not one of"),
    ],
)
def test_domain_option_rejects(key: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match="^" + re.escape(message)):
        validate.domain_option(key, value)


def test_domain_options_are_the_spec_fields_but_name_ips_and_pool() -> None:
    fields = {f.name for f in attrs.fields(DomainSpec)}
    assert set(validate.DOMAIN_OPTIONS) == fields - {"name", "ips", "pool"}


def test_domain_spec_returns_the_spec_normalised() -> None:
    spec = DomainSpec(
        "Bücher.Example.com.", dkim_key_size=2048.0, dkim_selector="s1",  # type: ignore[arg-type]
        spam_action="tag", wildcard=True, web_scheme="https", web_prefix="click",
        ips=("192.0.2.1", "192.0.2.1", "2001:DB8::1"),
    )
    checked = validate.domain_spec(spec)
    assert checked == DomainSpec(
        "xn--bcher-kva.example.com", dkim_key_size=2048, dkim_selector="s1", spam_action="tag",
        wildcard=True, web_scheme="https", web_prefix="click",
        ips=("192.0.2.1", "2001:db8::1"),
    )
    assert type(checked.dkim_key_size) is int
    assert validate.domain_spec(DomainSpec("a.example.com", pool="mkt")) == DomainSpec(
        "a.example.com", pool="mkt"
    )
    bare = DomainSpec("a.example.com")
    assert validate.domain_spec(bare) == bare


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (DomainSpec("bad"), "domain"),
        # the first problem is reported, in the order name, options, ips, pool
        (DomainSpec("bad", dkim_key_size=512), "domain"),
        (DomainSpec("a.example.com", dkim_key_size=512, spam_action="drop"), "dkim_key_size"),
        (DomainSpec("a.example.com", wildcard="yes", dkim_selector="a b"),  # type: ignore[arg-type]
         "wildcard"),
        (DomainSpec("a.example.com", web_prefix="-x", ips=("bad",)), "web_prefix"),
        (DomainSpec("a.example.com", ips=("bad",), pool="a b"), "ips"),
        (DomainSpec("a.example.com", pool="a b"), "pool"),
        (DomainSpec("a.example.com", ips="192.0.2.1"), "ips"),  # type: ignore[arg-type]
    ],
)
def test_domain_spec_rejects(spec: DomainSpec, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate.domain_spec(spec)
    assert info.value.field == field


def test_domain_spec_refuses_ips_and_pool_together() -> None:
    with pytest.raises(ValidationError, match="give ips or pool, not both") as info:
        validate.domain_spec(DomainSpec("a.example.com", ips=("192.0.2.1",), pool="mkt"))
    assert info.value.field == "pool"


# -- URL path segments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("example.com", "example.com"),
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("a?b=c", "a%3Fb%3Dc"),
        ("a#b", "a%23b"),
        ("a b", "a%20b"),
        ("a+b", "a%2Bb"),
        ("a\r\nb", "a%0D%0Ab"),
        ("ü", "%C3%BC"),
        ("fe80::1%eth0", "fe80%3A%3A1%25eth0"),
    ],
)
def test_segment_encodes_everything_that_could_change_the_path(raw: str, encoded: str) -> None:
    assert validate.segment(raw) == encoded
    assert not set("/?# \r\n") & set(encoded)
