"""The fleet file loader: what a file turns into, and every problem it reports, with lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from support.keyrings import MemoryKeyring, memory_keyring

from espkit import fleet, validate
from espkit.errors import ConfigError, MissingCredentials, ValidationError
from espkit.fleet import (
    Connection,
    CredentialRef,
    DesiredDomain,
    FleetFileError,
    Ownership,
    PoolSpec,
    Problem,
    Safety,
)

FLEETS = Path(__file__).parents[1] / "data" / "fleets"

HEAD = """\
version: 1
connections:
  main: {provider: sandbox, path: ":memory:"}
pools:
  mkt: {ips: [192.0.2.10, 192.0.2.11]}
  txn: {ips: [192.0.2.20]}
streams:
  marketing:     {pool: mkt, domain: "news.{domain}"}
  transactional: {pool: txn, domain: "mail.{domain}"}
"""  # 9 lines: what follows starts on line 10

TWO_CONNECTIONS = """\
version: 1
connections:
  a: {provider: sandbox}
  b: {provider: sandbox}
default_connection: a
"""  # 5 lines: what follows starts on line 6


def problems(text: str, **kw: object) -> list[Problem]:
    with pytest.raises(FleetFileError) as info:
        fleet.loads(textwrap.dedent(text), **kw)  # type: ignore[arg-type]
    assert info.value.problems, "a FleetFileError always lists its problems"
    return info.value.problems


def one(text: str, **kw: object) -> Problem:
    found = problems(text, **kw)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


# -- what a valid file becomes ----------------------------------------------------------------


def test_full_example_expands_to_the_expected_domains() -> None:
    f = fleet.load(FLEETS / "full.yaml")
    std = {"dkim_key_size": 2048, "web_scheme": "https"}
    small = {"dkim_key_size": 1024, "web_scheme": "https"}
    assert list(f.domains()) == [
        DesiredDomain("news.acme.com", "acme", "marketing", "main", None, "mkt", (), std),
        DesiredDomain("mail.acme.com", "acme", "transactional", "main", None, "txn", (), small),
        DesiredDomain("bounces.acme.com", "acme", "bounces", "main", None, None,
                      ("192.0.2.30",), std),
        # enterprise template: a subaccount per customer, spam_action for marketing only
        DesiredDomain("news.globex.com", "globex", "marketing", "main", "globex", "mkt", (),
                      {**std, "spam_action": "tag"}),
        DesiredDomain("mail.globex.com", "globex", "transactional", "main", "globex", "txn", (),
                      small),
        # one stream, its domain named explicitly, another pool; the override's options win
        # over the stream's (1024) and add to the defaults
        DesiredDomain("tx.initech.com", "initech", "transactional", "main", "initech-prod",
                      "txn2", (), {**std, "wildcard": True}),
        # on the other connection: a pool there, dedicated IPs, the name lower-cased
        DesiredDomain("news.umbrella.example", "umbrella", "marketing", "other", None,
                      "eu-txn", (), std),
        DesiredDomain("mail.umbrella.example", "umbrella", "transactional", "other", None,
                      None, ("198.51.100.6",), small),
    ]
    assert [d.line for d in f.domains()] == [35, 35, 35, 36, 36, 37, 43, 43]
    assert [c.name for c in f.customers] == ["acme", "globex", "initech", "umbrella"]
    assert [c.subaccount for c in f.customers] == [None, "globex", "initech-prod", None]
    assert [d.name for d in f.domains("other")] == [
        "news.umbrella.example", "mail.umbrella.example",
    ]


def test_full_example_connections_pools_streams_and_policies() -> None:
    f = fleet.load(FLEETS / "full.yaml")
    assert f.source == str(FLEETS / "full.yaml")
    assert f.default_connection == "main"
    assert f.connections == {
        "main": Connection("main", "sandbox", {"path": ":memory:"}),
        "other": Connection("other", "mailgun", {"region": "eu"},
                            CredentialRef("env", "ESPKIT_TEST_MAILGUN_KEY")),
    }
    assert f.pools == (
        PoolSpec("mkt", "main", ("192.0.2.10", "192.0.2.11"), "marketing"),
        PoolSpec("txn", "main", ("192.0.2.20",)),
        PoolSpec("txn2", "main", ("192.0.2.21",)),
        PoolSpec("eu-txn", "other", ("198.51.100.5",)),
    )
    assert [p.line for p in f.pools] == [20, 21, 22, 23]
    assert [p.name for p in f.pools_of("other")] == ["eu-txn"]
    transactional = f.streams["transactional"]
    assert (transactional.pool, transactional.domain, transactional.options) == (
        "txn", "mail.{domain}", {"dkim_key_size": 1024},
    )
    assert f.streams["bounces"].domain == "{stream}.{domain}"
    assert f.streams["bounces"].ips == ("192.0.2.30",)
    assert f.ownership == Ownership(("*.acme.com", "*.globex.com"), ("mkt-*",))
    assert f.ownership.owns_domain("news.acme.com")
    assert f.safety == Safety(max_delete=0.3, max_reassign=0.25, min_existing=5)


def test_desired_domain_spec_is_what_apply_creates() -> None:
    f = fleet.load(FLEETS / "full.yaml")
    spec = next(d for d in f.domains() if d.name == "tx.initech.com").spec()
    assert (spec.name, spec.pool, spec.dkim_key_size, spec.wildcard) == (
        "tx.initech.com", "txn2", 2048, True,
    )


def test_minimal_file_one_connection_is_the_default() -> None:
    f = fleet.loads(HEAD + "customers:\n  - {name: acme, domain: acme.com}\n")
    assert f.default_connection == "main"
    assert [(d.name, d.connection, d.pool) for d in f.domains()] == [
        ("news.acme.com", "main", "mkt"), ("mail.acme.com", "main", "txn"),
    ]
    assert f.safety == Safety()
    assert f.ownership == Ownership()


def test_a_template_named_default_applies_to_customers_naming_none() -> None:
    f = fleet.loads(HEAD + textwrap.dedent("""\
        templates:
          default: {streams: [transactional], subaccount: "{customer}-sub"}
          full: {}
        customers:
          - {name: acme, domain: acme.com}
          - {name: globex, domain: globex.com, template: full}
    """))
    assert [(d.name, d.subaccount) for d in f.domains()] == [
        ("mail.acme.com", "acme-sub"),
        ("news.globex.com", None), ("mail.globex.com", None),
    ]


def test_customer_settings_override_the_template_and_names_are_canonical() -> None:
    f = fleet.loads(HEAD + textwrap.dedent("""\
        templates:
          t:
            streams: [marketing]
            domains: {marketing: "{customer}.mkt.{domain}"}
            overrides: {marketing: {ips: [192.0.2.99], options: {dkim_key_size: 1024}}}
        customers:
          - {name: Bücher, domain: Bücher.Example, template: t}
          - name: acme
            domain: acme.com
            template: t
            streams: [marketing, transactional]
            domains: {marketing: news.acme.com}
            overrides: {marketing: {pool: txn}}
    """))
    domains = list(f.domains())
    assert (domains[0].name, domains[0].ips, domains[0].pool) == (
        "xn--bcher-kva.mkt.xn--bcher-kva.example", ("192.0.2.99",), None,
    )
    # the customer's pool replaces the template's ips; the template's options still apply
    assert [(d.name, d.pool, d.ips, dict(d.options)) for d in domains[1:]] == [
        ("news.acme.com", "txn", (), {"dkim_key_size": 1024}),
        ("mail.acme.com", "txn", (), {}),
    ]


def test_empty_sections_and_entries_are_allowed() -> None:
    f = fleet.loads(textwrap.dedent("""\
        version: 1
        connections:
          main: {provider: sandbox}
        pools:
        streams:
          marketing:
        customers:
          - {name: acme, domain: acme.com}
    """))
    assert [d.name for d in f.domains()] == ["marketing.acme.com"]
    assert f.pools == ()


def test_yaml_anchors_and_merge_keys() -> None:
    f = fleet.loads(HEAD + textwrap.dedent("""\
        templates:
          base: &base {streams: [transactional], subaccount: "{customer}"}
          other:
            <<: *base
            streams: [marketing]
        customers:
          - {name: acme, domain: acme.com, template: other}
    """))
    assert [(d.name, d.subaccount) for d in f.domains()] == [("news.acme.com", "acme")]


def test_safety_takes_percentages_and_fractions() -> None:
    f = fleet.loads(HEAD + "safety: {max_delete: 5%, max_reassign: 1, min_existing: 0}\n")
    assert f.safety == Safety(max_delete=0.05, max_reassign=1.0, min_existing=0)


def test_sandbox_path_is_relative_to_the_fleet_file(tmp_path: Path) -> None:
    f = fleet.loads("version: 1\nconnections:\n  main: {provider: sandbox, path: s.db}\n",
                    base_dir=tmp_path)
    assert f.connections["main"].options["path"] == str(tmp_path / "s.db")


def test_connect_to_the_sandbox() -> None:
    f = fleet.load(FLEETS / "full.yaml")
    acct = f.connections["main"].connect()
    d = next(f.domains("main"))
    created = acct.domains.create(d.name, dkim_key_size=d.options["dkim_key_size"])
    assert created.name == "news.acme.com"
    assert [x.name for x in acct.domains.list()] == ["news.acme.com"]


def test_connection_timeout_becomes_a_tuple() -> None:
    f = fleet.loads("version: 1\nconnections:\n  m: {provider: mailgun, timeout: [3, 20]}\n")
    assert f.connections["m"].options == {"timeout": (3, 20)}


# -- customers from CSV -----------------------------------------------------------------------


def test_csv_customers() -> None:
    f = fleet.load(FLEETS / "csv.yaml")
    assert [(d.name, d.customer, d.subaccount, d.line) for d in f.domains()] == [
        ("news.acme.com", "acme", None, 2),
        ("mail.acme.com", "acme", None, 2),
        ("promo.globex.com", "globex", "globex", 3),  # the marketing column overrides
        ("mail.globex.com", "globex", "globex", 3),
        ("mail.initech.com", "initech", "initech-prod", 4),
        ("news.hooli.xyz", "hooli", None, 7),  # after a blank line and a comment row
        ("mail.hooli.xyz", "hooli", None, 7),
    ]


def test_bad_csv_rows_name_the_csv_file_and_its_lines() -> None:
    with pytest.raises(FleetFileError) as info:
        fleet.load(FLEETS / "bad_csv.yaml")
    csv_file = str(FLEETS / "bad_customers.csv")
    found = info.value.problems
    assert [(p.file, p.line, p.path) for p in found] == [
        (csv_file, 3, "domain"), (csv_file, 4, "streams"), (csv_file, 5, "name"),
    ]
    assert "'globex..com'" in found[0].message
    assert "'transactionl'" in found[1].message
    assert "also on line 2" in found[2].message
    assert str(found[0]).startswith(f"{csv_file} line 3: domain: invalid domain")
    assert f"{csv_file} line 3" in str(info.value)


def test_csv_unknown_column_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("name,domain,marketng\nacme,acme.com,x.acme.com\n")
    p = one(HEAD + "customers: c.csv\n", base_dir=tmp_path)
    assert (p.file, p.line, p.path) == (str(tmp_path / "c.csv"), 1, "marketng")
    assert "unknown column 'marketng' (did you mean 'marketing'?)" in p.message
    p = one(HEAD + "customers: nowhere.csv\n", base_dir=tmp_path)
    assert p.line == 10
    assert "nowhere.csv" in p.message
    assert "not found" in p.message


def test_csv_domain_override_for_an_unused_stream(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(
        "name,domain,streams,marketing\nacme,acme.com,transactional,news.acme.com\n"
    )
    p = one(HEAD + "customers: c.csv\n", base_dir=tmp_path)
    assert (p.line, p.path) == (2, "marketing")
    assert "'marketing' is not one of this customer's streams" in p.message


# -- validation: every rule, each problem with its line --------------------------------------


def test_unknown_key_names_the_key_and_suggests() -> None:
    p = one(HEAD + "customers:\n  - {name: acme, domain: acme.com}\n"
                   "  - name: globex\n    domian: globex.com\n    domain: globex.com\n")
    assert (p.line, p.path) == (13, "customers[1]")
    assert p.message == "unknown key 'domian' (did you mean 'domain'?)"
    assert str(p) == "line 13: customers[1]: unknown key 'domian' (did you mean 'domain'?)"


# One rule broken once: the fleet text, then the problem's line and path, and what its message
# contains (a fragment, or a tuple of fragments that must all be in it).
@pytest.mark.parametrize(("text", "line", "path", "fragments"), [
    pytest.param(HEAD + "  bounces: {pool: bounce}\n",
                 10, "streams.bounces.pool", "unknown pool 'bounce'",
                 id="undefined-pool"),
    pytest.param(HEAD + "customers:\n  - name: acme\n    domain: acme.com\n"
                        "    overrides: {marketing: {pool: mkt2}}\n",
                 13, "customers[0].overrides.marketing.pool",
                 "unknown pool 'mkt2' (did you mean 'mkt'?)",
                 id="undefined-pool-in-a-customer-override"),
    pytest.param(HEAD + "customers:\n  - {name: acme, domain: acme.com, streams: [marketting]}\n",
                 11, "customers[0].streams[0]",
                 "unknown stream 'marketting' (did you mean 'marketing'?)",
                 id="undefined-stream"),
    pytest.param(HEAD + "templates: {std: {}}\ncustomers:\n"
                        "  - {name: acme, domain: acme.com, template: sdt}\n",
                 12, "customers[0].template", "unknown template 'sdt'",
                 id="undefined-template"),
    pytest.param(HEAD + "customers:\n  - {name: acme, domain: acme.com, connection: eu}\n",
                 11, "customers[0].connection", "unknown connection 'eu'; defined: main",
                 id="undefined-connection"),
    pytest.param(HEAD + "  bounces: {ips: [192.0.2.1, 192.0.2.256]}\n",
                 10, "streams.bounces.ips[1]", "'192.0.2.256'",
                 id="invalid-ip"),
    pytest.param(HEAD + "customers:\n  - {name: acme, domain: acme_corp.com}\n",
                 11, "customers[0].domain", "invalid domain 'acme_corp.com'",
                 id="invalid-domain-name"),
    pytest.param(HEAD.replace('"news.{domain}"', '"news.{customer}.{domain}"')
                 + "customers:\n  - {name: Acme Corp, domain: acme.com}\n",
                 11, "customers[0]", ("'news.Acme Corp.acme.com'", "'news.{customer}.{domain}'"),
                 id="invalid-domain-produced-by-a-template-names-the-template"),
    pytest.param(HEAD.replace('provider: sandbox, path: ":memory:"', "provider: postmark")
                 + "defaults: {dkim_key_size: 2048}\ncustomers:\n"
                   "  - {name: a, domain: a.com}\n  - {name: b, domain: b.com}\n",
                 10, "defaults.dkim_key_size",
                 "postmark does not support the domain option 'dkim_key_size'",
                 id="option-the-provider-does-not-support-is-reported-once-where-set"),
    pytest.param(HEAD + "customers:\n  - {name: acme, domain: acme.com}\n"
                        "  - name: other\n    domain: other.com\n"
                        "    domains: {transactional: Mail.Acme.com}\n",
                 14, "customers[1].domains.transactional",
                 ("'mail.acme.com' is produced twice", "(line 11)"),
                 id="domain-produced-twice-via-an-explicit-domain"),
    pytest.param(HEAD + "  bounces:\n    pool: txn\n    ips: [192.0.2.30]\n",
                 12, "streams.bounces", "both pool and ips",
                 id="stream-with-both-pool-and-ips"),
    pytest.param(HEAD + "templates:\n  ent: {subaccount: '{customer}'}\ncustomers:\n"
                        "  - {name: Acme Corp, domain: acme.com, template: ent}\n",
                 13, "customers[0]", ("invalid subaccount 'Acme Corp'", "(from template 'ent')"),
                 id="invalid-subaccount-from-a-template-names-the-template"),
    pytest.param(HEAD + "customers:\n  - name: acme\n    domain: acme.com\n    overrides:\n"
                        "      marketing: {pool: txn,\n                  ips: [192.0.2.9]}\n",
                 15, "customers[0].overrides.marketing", "both pool and ips",
                 id="override-with-both-pool-and-ips"),
    pytest.param("version: 1\nconnections: &c {main: *c}\n",
                 2, "connections.main", "alias",
                 id="recursive-alias"),
    pytest.param(TWO_CONNECTIONS
                 + "pools:\n  pa: {ips: [192.0.2.1]}\nstreams:\n  mail: {pool: pa}\n"
                 + "customers:\n  - {name: acme, domain: acme.com, connection: b}\n",
                 11, "customers[0]", "pool 'pa', which is on connection 'a', not 'b'",
                 id="pool-of-another-connection"),
    pytest.param("version: 1\nconnections:\n  a: {provider: sandbox}\n  b: {provider: sandbox}\n",
                 2, "connections", "default_connection",
                 id="several-connections-need-a-default"),
    pytest.param(HEAD + "customers:\n  - {name: 0123, domain: acme.com}\n",
                 11, "customers[0].name", 'YAML reads 0123 as a number: quote it, "0123"',
                 id="yaml-number-where-a-name-belongs-says-to-quote-it"),
    pytest.param("version: 1\nconnections:\n  main: {provider: mailgnu}\n",
                 3, "connections.main.provider",
                 "unknown provider 'mailgnu' (did you mean 'mailgun'?)",
                 id="unknown-provider"),
    pytest.param(HEAD.replace("version: 1", "version: 2"),
                 1, "version", ("must be 1", "got 2"),
                 id="wrong-version"),
])
def test_one_problem_with_its_line_path_and_message(
    text: str, line: int, path: str, fragments: str | tuple[str, ...],
) -> None:
    p = one(text)
    assert (p.line, p.path) == (line, path)
    for fragment in (fragments,) if isinstance(fragments, str) else fragments:
        assert fragment in p.message


# The same, where the whole message is pinned down.
@pytest.mark.parametrize(("text", "line", "path", "message"), [
    pytest.param(HEAD + "customers:\n  - {name: acme, domain: acme.com, streams: [marketing]}\n"
                        "  - {name: acme-eu, domain: acme.com, streams: [marketing]}\n",
                 12, "customers[1]",
                 "domain 'news.acme.com' is produced twice: by customer 'acme' stream 'marketing' "
                 "(line 11) and by customer 'acme-eu' stream 'marketing'",
                 id="domain-produced-twice-names-both-lines"),
    pytest.param(TWO_CONNECTIONS
                 + "streams:\n  mail: {}\ncustomers:\n"
                 + "  - {name: acme, domain: acme.com, subaccount: shared}\n"
                 + "  - {name: globex, domain: globex.com, subaccount: shared, connection: b}\n",
                 10, "customers[1]",
                 "subaccount 'shared' is on connection 'b' here, but on 'a' for customer 'acme' "
                 "(line 9)",
                 id="subaccount-on-two-connections"),
    pytest.param(HEAD + "  bounces: {ips: [2001:db8::1, '2001:DB8:0::1']}\n",
                 10, "streams.bounces.ips[1]", "IP 2001:db8::1 is listed twice (also on line 10)",
                 id="an-ip-twice-in-one-list"),
    pytest.param(HEAD + "  marketing: {pool: txn}\n",
                 10, "streams", "duplicate key 'marketing': first on line 8, again on line 10",
                 id="duplicate-keys-name-both-lines"),
])
def test_one_problem_with_its_line_path_and_exact_message(
    text: str, line: int, path: str, message: str,
) -> None:
    p = one(text)
    assert (p.line, p.path) == (line, path)
    assert p.message == message


def test_ip_in_two_pools_of_one_connection() -> None:
    p = one(HEAD.replace("txn: {ips: [192.0.2.20]}", "txn: {ips: [192.0.2.20, 192.0.2.011]}"))
    # 192.0.2.011 is not an IP (leading zero): only the real duplicate below counts
    assert "'192.0.2.011'" in p.message
    assert p.line == 6
    p = one(HEAD.replace("txn: {ips: [192.0.2.20]}", "txn: {ips: [192.0.2.20, 192.0.2.11]}"))
    assert (p.line, p.path) == (6, "pools.txn.ips[1]")
    assert p.message.startswith("IP 192.0.2.11 is also in pool 'mkt' (line 5)")


def test_the_same_ip_in_pools_of_different_connections_is_fine() -> None:
    f = fleet.loads(textwrap.dedent("""\
        version: 1
        connections:
          a: {provider: sandbox}
          b: {provider: sandbox}
        default_connection: a
        pools:
          p1: {ips: [192.0.2.1]}
          p2: {ips: [192.0.2.1], connection: b}
    """))
    assert [(p.name, p.connection) for p in f.pools] == [("p1", "a"), ("p2", "b")]


def test_invalid_option_values() -> None:
    found = problems(HEAD + "defaults: {dkim_key_size: 4096, spam_action: blok}\n")
    assert [(p.line, p.path) for p in found] == [
        (10, "defaults.dkim_key_size"), (10, "defaults.spam_action"),
    ]
    assert "4096 is not one of 1024, 2048" in found[0].message
    assert "'blok' is not one of" in found[1].message
    assert "did you mean 'block'?" in found[1].message


def test_unknown_placeholder() -> None:
    found = problems(HEAD.replace('"news.{domain}"', '"news.{domian}"')
                     + "templates:\n  t: {subaccount: '{customer}-{stream}'}\n")
    assert [(p.line, p.path) for p in found] == [
        (8, "streams.marketing.domain"), (11, "templates.t.subaccount"),
    ]
    assert "unknown placeholder {domian} in 'news.{domian}'" in found[0].message
    assert "unknown placeholder {stream}" in found[1].message
    assert "{customer}, {domain}" in found[1].message


def test_customer_without_domain_but_templates_need_one() -> None:
    p = one(HEAD + "customers:\n  - {name: acme, domains: {marketing: news.acme.com}}\n")
    assert (p.line, p.path) == (11, "customers[0]")
    assert p.message == (
        "customer 'acme' has no domain, but {domain} is used by "
        "stream 'transactional' ('mail.{domain}')"
    )
    # ... which is fine when every stream's domain is given or needs no {domain}
    f = fleet.loads(HEAD.replace('"mail.{domain}"', '"{customer}.mail.example.net"')
                    + "customers:\n  - {name: acme, domains: {marketing: news.acme.com}}\n")
    assert [d.name for d in f.domains()] == ["news.acme.com", "acme.mail.example.net"]


def test_control_character_is_a_syntax_error_with_its_line() -> None:
    p = one(HEAD + "customers:\n  - {name: \"a\x07\", domain: acme.com}\n")
    assert p.line == 11
    assert "control characters are not allowed" in p.message


def test_unknown_connect_option_and_region() -> None:
    found = problems(textwrap.dedent("""\
        version: 1
        connections:
          main:
            provider: mailgun
            regoin: eu
          eu:
            provider: sparkpost
            region: asia
        default_connection: main
    """))
    assert [(p.line, p.path) for p in found] == [(5, "connections.main"),
                                                 (8, "connections.eu.region")]
    assert "unknown option 'regoin' for mailgun (did you mean 'region'?)" in found[0].message
    assert "unknown region 'asia' for sparkpost" in found[1].message


def test_several_errors_are_reported_together_in_file_order() -> None:
    with pytest.raises(FleetFileError) as info:
        fleet.load(FLEETS / "errors.yaml")
    found = info.value.problems
    assert [(p.line, p.path) for p in found] == [
        (7, "pools.txn.ips[0]"),
        (10, "streams.transactional.pool"),
        (13, "customers[1]"),
        (14, "customers[2]"),
        (14, "customers[2]"),
    ]
    assert "192.0.2.11" in found[0].message
    assert "'txm' (did you mean 'txn'?)" in found[1].message
    assert "'domian'" in found[2].message
    assert "'news.acme.com' is produced twice" in found[3].message
    assert "'mail.acme.com' is produced twice" in found[4].message
    message = str(info.value)
    assert message.startswith(f"{FLEETS / 'errors.yaml'}: 5 problem(s):\n  line 7: ")


# -- secrets ----------------------------------------------------------------------------------

SECRET = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


@pytest.mark.parametrize("key", ["api_key", "password", "token", "secret", "apikey"])
def test_an_inline_secret_is_refused_without_showing_it(key: str) -> None:
    p = one(f"version: 1\nconnections:\n  main:\n    provider: mailgun\n    {key}: {SECRET}\n")
    assert (p.line, p.path) == (5, "connections.main")
    assert repr(key) in p.message
    assert "credentials: env/VAR" in p.message
    assert SECRET not in str(p)


@pytest.mark.parametrize("value", [SECRET, f"env/{SECRET} x", "keyring/", 12345])
def test_a_key_in_place_of_a_credentials_reference_is_not_shown(value: object) -> None:
    text = f"version: 1\nconnections:\n  main:\n    provider: mailgun\n    credentials: {value}\n"
    with pytest.raises(FleetFileError) as info:
        fleet.loads(text)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].line == 5
    assert "never the key itself" in str(info.value) or "expected a string" in str(info.value)
    assert SECRET not in str(info.value)
    assert "12345" not in str(info.value)


def test_a_password_in_a_url_option_is_refused() -> None:
    p = one("version: 1\nconnections:\n  main:\n    provider: mailgun\n"
            "    limiter_url: redis://:hunter2@localhost:6379/0\n")
    assert p.line == 5
    assert "hunter2" not in str(p)


def test_yaml_objects_are_not_constructed() -> None:
    p = one(HEAD + "customers:\n  - {name: !!python/object/apply:os.system [echo hi], "
                   "domain: acme.com}\n")
    assert p.line == 11
    assert "unsupported YAML tag" in p.message


# -- unreadable files and YAML errors ---------------------------------------------------------


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        fleet.load(path)
    assert not isinstance(info.value, FleetFileError)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="is a directory, not a regular file"):
        fleet.load(tmp_path)
    # a device or a FIFO is refused before it is read: neither ends nor blocks the run
    with pytest.raises(ConfigError, match="is a device, not a regular file"):
        fleet.load("/dev/zero")
    fifo = tmp_path / "fleet.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is a named pipe, not a regular file"):
        fleet.load(fifo)


def test_yaml_syntax_error_has_its_line() -> None:
    p = one(HEAD + "customers:\n  - {name: acme, domain: acme.com\n  - {name: b}\n")
    assert p.line == 12
    assert "YAML syntax error" in p.message


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"),
    ("- a\n- b\n", "must be a mapping"),
])
def test_not_a_fleet_at_all(text: str, fragment: str) -> None:
    assert fragment in one(text).message


# -- credentials references -------------------------------------------------------------------


def test_credential_ref_parse_and_str() -> None:
    assert CredentialRef.parse("env/MAILGUN_API_KEY") == CredentialRef("env", "MAILGUN_API_KEY")
    assert CredentialRef.parse("keyring/mailgun") == CredentialRef("keyring", "mailgun")
    assert CredentialRef.parse("keyring/acme/mailgun:eu") == CredentialRef(
        "keyring", "mailgun:eu", "acme"
    )
    for text in ("env/MAILGUN_API_KEY", "keyring/mailgun", "keyring/acme/mailgun:eu"):
        assert str(CredentialRef.parse(text)) == text
    for bad in (SECRET, "env/", "env/a/b", "keyring/", "vault/x"):
        with pytest.raises(ValidationError) as info:
            CredentialRef.parse(bad)
        assert SECRET not in str(info.value)


def test_credential_ref_resolves_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = CredentialRef.parse("env/ESPKIT_TEST_FLEET_KEY")
    monkeypatch.setenv("ESPKIT_TEST_FLEET_KEY", "k-123\n")
    assert ref.resolve("mailgun").reveal() == "k-123"
    monkeypatch.delenv("ESPKIT_TEST_FLEET_KEY")
    with pytest.raises(MissingCredentials, match=r"\$ESPKIT_TEST_FLEET_KEY"):
        ref.resolve("mailgun")





@pytest.fixture
def fake_keyring() -> Iterator[MemoryKeyring]:
    with memory_keyring() as fake:
        yield fake


def test_credential_ref_resolves_from_the_keyring(fake_keyring: MemoryKeyring) -> None:
    fake_keyring.set_password("espkit", "mailgun:eu", "k-default-service")
    fake_keyring.set_password("acme", "mailgun", "k-acme")
    assert CredentialRef.parse("keyring/mailgun:eu").resolve("mailgun").reveal() == (
        "k-default-service"
    )
    assert CredentialRef.parse("keyring/acme/mailgun").resolve("mailgun").reveal() == "k-acme"
    with pytest.raises(MissingCredentials, match="keyring/other"):
        CredentialRef.parse("keyring/other").resolve("mailgun")


def test_connection_passes_the_resolved_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESPKIT_TEST_FLEET_KEY", "sandbox-key")
    f = fleet.loads("version: 1\nconnections:\n  s:\n    provider: sandbox\n"
                    "    path: ':memory:'\n    credentials: env/ESPKIT_TEST_FLEET_KEY\n")
    acct = f.connections["s"].connect()
    assert list(acct.domains.list()) == []


# -- the schema -------------------------------------------------------------------------------


def test_schema_ships_in_the_package_and_describes_the_samples() -> None:
    text = resources.files("espkit.fleet").joinpath("fleet.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema == fleet.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("full.yaml", "csv.yaml"):
        data = yaml.safe_load((FLEETS / name).read_text())
        assert list(validator.iter_errors(data)) == []
    # every property is described, for editors using yaml-language-server
    assert schema["properties"]["customers"]["description"]
    assert all("description" in v for v in schema["$defs"]["customer"]["properties"].values()
               if "$ref" not in v)


def test_schema_options_match_what_the_account_checks() -> None:
    options = fleet.schema()["$defs"]["domainOptions"]["properties"]
    assert sorted(options) == sorted(validate.DOMAIN_OPTIONS)
    assert tuple(options["dkim_key_size"]["enum"]) == validate.DKIM_KEY_SIZES
    assert tuple(options["spam_action"]["enum"]) == validate.SPAM_ACTIONS
    assert tuple(options["web_scheme"]["enum"]) == validate.WEB_SCHEMES


def test_the_documented_example_declares_what_the_docs_say() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "fleet-file.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    f = fleet.loads(example)
    assert [(d.name, d.pool, d.subaccount, d.options["dkim_key_size"]) for d in f.domains()] == [
        ("news.acme.com", "mkt", None, 2048), ("mail.acme.com", "txn", None, 1024),
        ("news.globex.com", "mkt", "globex", 2048), ("mail.globex.com", "txn", "globex", 1024),
        ("tx.initech.com", "txn2", "initech-prod", 1024),
    ]


def test_espkit_imports_without_the_fleet_extra() -> None:
    """PyYAML and jsonschema are needed to read a fleet file, not to import espkit: the
    loader modules (which import them) are imported by ``loads`` only."""
    code = (
        "import sys; sys.modules['yaml'] = sys.modules['jsonschema'] = None\n"
        "import espkit, espkit.fleet, espkit.fleet.planner, espkit.fleet.applier\n"
        "assert espkit.fleet.schema()['$defs']\n"
        "for name in ('loader', 'reader', 'checker', 'schema_errors', 'connections',\n"
        "             'streams', 'templates', 'customers', 'placeholders'):\n"
        "    assert 'espkit.fleet.' + name not in sys.modules, name\n"
        "try:\n"
        "    espkit.fleet.loads('version: 1')\n"
        "except espkit.ConfigError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "reading fleet files needs jsonschema: pip install -e '.[fleet]'"


def test_customers_keep_their_own_domain_as_their_dns_zone() -> None:
    f = fleet.load(FLEETS / "full.yaml")
    by_name = {c.name: c for c in f.customers}
    assert by_name["acme"].domain == "acme.com"
    assert by_name["umbrella"].domain == "umbrella.example"  # normalised like every name
    assert by_name["initech"].zones() == {"tx.initech.com": "initech.com"}
    assert set(by_name["acme"].zones()) == {d.name for d in by_name["acme"].domains}
