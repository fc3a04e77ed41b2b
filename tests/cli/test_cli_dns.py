"""`espkit dns export` / `espkit dns check` against a sandbox file and a DNS server on
127.0.0.1, the way a person or a script runs them."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import textwrap
from collections.abc import Callable
from pathlib import Path

import dns.zone
import pytest
import yaml
from support import dnsserver
from support.dnsserver import LocalDns, closed_port

import espkit
from espkit.models import Domain

dns_server = dnsserver.dns_server  # the fixture

FLEET = """\
version: 1
connections:
  default: {provider: sandbox, path: cli-sandbox.db}
pools:
  mkt: {ips: [192.0.2.10]}
streams:
  marketing:     {pool: mkt, domain: "news.{domain}"}
  transactional: {pool: mkt, domain: "mail.{domain}"}
customers:
  - {name: acme, domain: acme.example}
  - {name: globex, domain: globex.example, subaccount: globex}
  - {name: initech, domain: initech.example}
"""



@pytest.fixture
def domains(sandbox_db: str) -> list[Domain]:
    """news/mail.acme.example in the main account; news.globex.example in the subaccount
    globex (mail.globex.example and initech's are declared by FLEET but not created)."""
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        made = [acct.domains.create(f"{s}.acme.example", dkim_key_size=2048)
                for s in ("news", "mail")]
        globex = acct.subaccounts.create("globex")
        made.append(acct.on_behalf_of(globex.id).domains.create("news.globex.example"))
    return made


@pytest.fixture
def fleet_file(tmp_path: Path, domains: list[Domain]) -> str:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET)
    return str(path)


@pytest.fixture
def published(dns_server: LocalDns, domains: list[Domain]) -> LocalDns:
    for d in domains:
        dns_server.add_domain(d)
    return dns_server


# -- export -----------------------------------------------------------------------------------


def test_export_bind_of_named_domains_parses(run, domains: list[Domain]) -> None:
    result = run("dns", "export", "news.acme.example", "mail.acme.example")
    assert result.exit_code == 0, result.output
    zone = dns.zone.from_text(result.stdout, origin="acme.example.", relativize=False,
                              check_origin=False)
    dkim = domains[0].records("dkim")[0]
    [rdata] = zone.get_rdataset(dkim.host + ".", "TXT")
    assert b"".join(rdata.strings).decode() == dkim.value
    assert sum(len(r) for _, r in zone.iterate_rdatasets()) == 10


def test_export_all_as_csv_to_a_file(run, domains: list[Domain], tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    result = run("dns", "export", "--all", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "wrote the records of 2 domain(s)" in result.stderr  # the main account's
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["domain"] for r in rows} == {"news.acme.example", "mail.acme.example"}
    assert len(rows) == 10


def test_export_json_is_the_default_with_output_json(run, domains: list[Domain]) -> None:
    result = run("-o", "json", "dns", "export", "news.acme.example")
    assert result.exit_code == 0, result.output
    [data] = json.loads(result.stdout)
    assert data["domain"] == "news.acme.example"
    assert len(data["records"]) == 5


def test_export_octodns_into_a_directory_one_file_per_zone(run, domains: list[Domain],
                                                           tmp_path: Path) -> None:
    out_dir = tmp_path / "zones"
    result = run("dns", "export", "--all", "--format", "octodns", "--out-dir", str(out_dir),
                 "--zone", "news.acme.example=acme.example",
                 "--zone", "mail.acme.example=acme.example.")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["acme.example.yaml"]
    zone = yaml.safe_load((out_dir / "acme.example.yaml").read_text())
    assert "s1._domainkey.news" in zone
    assert "\\;" in zone["s1._domainkey.mail"]["value"]
    # no --out-dir: a YAML stream, one document per zone (each domain its own zone here)
    stream = run("dns", "export", "--all", "--format", "octodns")
    assert len(list(yaml.safe_load_all(stream.stdout))) == 2


@pytest.mark.parametrize("args", [
    (),                                                        # nothing to export
    ("--all", "news.acme.example"),                            # two sources
    ("--all", "--out-dir", "x"),                               # --out-dir is for octodns
    ("--all", "--format", "octodns", "--out", "a", "--out-dir", "b"),
    ("--all", "--zone", "acme.example"),                       # KEY=ZONE
])
def test_export_bad_input_is_exit_2(run, domains: list[Domain], args: tuple[str, ...]) -> None:
    result = run("dns", "export", *args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr
    assert "Traceback" not in result.output


def test_export_a_domain_not_in_the_account(run, domains: list[Domain]) -> None:
    result = run("dns", "export", "--format", "csv", "news.acme.example", "nope.example")
    assert result.exit_code == 1
    assert {r["domain"] for r in csv.DictReader(io.StringIO(result.stdout))} == {
        "news.acme.example"}
    assert "1 domain(s) not found in the account: nope.example" in result.stderr


def test_export_fleet_labels_customers_and_lists_the_missing(run, fleet_file: str) -> None:
    result = run("dns", "export", "--fleet", fleet_file, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {(r["customer"], r["domain"]) for r in rows} == {
        ("acme", "news.acme.example"), ("acme", "mail.acme.example"),
        ("globex", "news.globex.example"),  # read inside the globex subaccount
    }
    assert ("3 declared domain(s) not found in the account: mail.globex.example, "
            "news.initech.example, mail.initech.example") in " ".join(result.stderr.split())


def test_export_fleet_octodns_zones_by_customer(run, fleet_file: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "zones"
    result = run("dns", "export", "--fleet", fleet_file, "--format", "octodns",
                 "--out-dir", str(out_dir), "--zone", "acme=acme.example",
                 "--zone", "globex=globex.example")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["acme.example.yaml",
                                                         "globex.example.yaml"]
    acme = yaml.safe_load((out_dir / "acme.example.yaml").read_text())
    assert {"news", "mail", "email.news", "email.mail"} <= set(acme)


def test_export_fleet_octodns_zones_default_to_the_customers_domain(
        run, fleet_file: str, tmp_path: Path) -> None:
    """Without --zone, a fleet customer's own domain is the zone of its sending domains
    (one octoDNS file per customer), and --zone still overrides it per customer."""
    out_dir = tmp_path / "zones"
    result = run("dns", "export", "--fleet", fleet_file, "--format", "octodns",
                 "--out-dir", str(out_dir))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["acme.example.yaml",
                                                         "globex.example.yaml"]
    acme = yaml.safe_load((out_dir / "acme.example.yaml").read_text())
    assert {"news", "mail", "email.news", "email.mail"} <= set(acme)

    other = tmp_path / "other"
    result = run("dns", "export", "--fleet", fleet_file, "--format", "octodns",
                 "--out-dir", str(other), "--zone", "globex=news.globex.example")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in other.iterdir()) == ["acme.example.yaml",
                                                       "news.globex.example.yaml"]
    globex = yaml.safe_load((other / "news.globex.example.yaml").read_text())
    assert {"", "email"} <= set(globex)  # the sending domain is the apex of its own zone


def test_dns_fleet_commands_follow_the_global_sandbox_db(run, domains: list[Domain],
                                                         tmp_path: Path) -> None:
    """A sandbox connection without its own path reads the --sandbox-db file, as plan and
    apply do."""
    path = tmp_path / "nopath.yaml"
    path.write_text(FLEET.replace("{provider: sandbox, path: cli-sandbox.db}",
                                  "{provider: sandbox}"))
    result = run("dns", "export", "--fleet", str(path), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "news.acme.example" in result.stdout


def test_export_fleet_built_in_code(run, domains: list[Domain], sandbox_db: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The fleet model as the CLI reads it, whatever file format produced it."""
    from espkit import fleet

    model = fleet.Fleet(
        connections={"main": fleet.Connection("main", "sandbox", {"path": sandbox_db})},
        customers=(
            fleet.CustomerSpec("globex", domains=(
                fleet.DesiredDomain("news.globex.example", "globex", "marketing",
                                    connection="main", subaccount="globex"),), subaccount="globex"),
            fleet.CustomerSpec("umbrella", domains=(
                fleet.DesiredDomain("news.umbrella.example", "umbrella", "marketing",
                                    connection="main", subaccount="umbrella"),),
                subaccount="umbrella"),  # no such subaccount yet
        ),
    )
    monkeypatch.setattr(fleet, "load", lambda path, **_: model)
    result = run("-o", "json", "dns", "export", "--fleet", __file__)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(d["customer"], d["domain"]) for d in data] == [("globex", "news.globex.example")]
    assert "news.umbrella.example" in result.stderr


# -- check ------------------------------------------------------------------------------------


def test_check_all_present_exit_0(run, published: LocalDns) -> None:
    result = run("dns", "check", "--all", "--nameserver", published.nameserver)
    assert result.exit_code == 0, result.output
    assert "present" in result.stdout
    assert "10 record(s) of 2 domain(s): 10 present, 0 missing, 0 wrong, 0 error" in \
        result.stdout


def test_check_problems_exit_1_and_only_problems(run, published: LocalDns,
                                                 domains: list[Domain]) -> None:
    dkim = domains[0].records("dkim")[0]
    published.replace(dkim.host, "TXT", "k=rsa; p=OLDKEY")
    published.remove("email.mail.acme.example")
    result = run("-o", "json", "dns", "check", "news.acme.example", "mail.acme.example",
                 "--nameserver", published.nameserver, "--only-problems",
                 "--lookup-timeout", "10")
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    assert [(r["domain"], r["record"]["purpose"], r["status"]) for r in rows] == [
        ("news.acme.example", "dkim", "wrong"), ("mail.acme.example", "tracking", "missing")]
    assert rows[0]["found"] == ["k=rsa; p=OLDKEY"]
    assert rows[0]["customer"] is None
    assert "8 present, 1 missing, 1 wrong, 0 error" in result.stderr  # stdout stays JSON

    table = run("dns", "check", "--all", "--nameserver", published.nameserver,
                "--only-problems", "--lookup-timeout", "10", columns=160)
    assert table.exit_code == 1
    assert "wrong" in table.stdout
    assert "missing" in table.stdout
    assert "present " not in table.stdout.split("record(s)")[0]
    assert "found: k=rsa; p=OLDKEY" in table.stdout


def test_check_unreachable_nameserver_is_error(run, domains: list[Domain]) -> None:
    result = run("-o", "json", "dns", "check", "news.acme.example",
                 "--nameserver", f"127.0.0.1:{closed_port()}", "--lookup-timeout", "0.2")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert {r["status"] for r in rows} == {"error"}
    assert rows[0]["reason"].startswith("timed out after 0.2s")


@pytest.mark.parametrize("args", [
    ("--all", "--nameserver", "127.0.0.1:notaport"),
    ("--all", "--lookup-timeout", "0"),
    ("--all", "--timeout", "0"),   # its old name
    (),
])
def test_check_bad_input_is_exit_2(run, domains: list[Domain], args: tuple[str, ...]) -> None:
    result = run("dns", "check", *args)
    assert result.exit_code == 2, result.output


def test_check_fleet_shows_customers(run, fleet_file: str, published: LocalDns) -> None:
    published.remove("news.globex.example", "MX")
    result = run("dns", "check", "--fleet", fleet_file, "--nameserver", published.nameserver)
    assert result.exit_code == 1
    assert "globex" in result.stdout
    assert "15 record(s) of 3 domain(s): 13 present, 2 missing" in result.stdout
    assert "not found in the account" in result.stderr
    as_json = run("-o", "json", "dns", "check", "--fleet", fleet_file, "--nameserver",
                  published.nameserver, "--only-problems")
    assert {(r["customer"], r["domain"]) for r in json.loads(as_json.stdout)} == {
        ("globex", "news.globex.example")}


def test_help_mentions_the_commands(run) -> None:
    result = run("dns", "--help")
    assert result.exit_code == 0
    assert "export" in result.stdout
    assert "check" in result.stdout
    text = textwrap.dedent(run("dns", "check", "--help").stdout)
    assert "--only-problems" in text


# -- what an export writes is safe ------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes | str]:
    """Every path under ``root`` but the sandbox's own files: content, link target or 'dir'."""
    return {str(p.relative_to(root)): ("-> " + str(p.readlink()) if p.is_symlink() else
                                       p.read_bytes() if p.is_file() else "dir")
            for p in sorted(root.rglob("*")) if not p.name.startswith("cli-sandbox.db")}


def test_export_out_dir_refuses_a_symlink_pointing_outside(run, domains: list[Domain],
                                                           tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA precious\n")
    out_dir = tmp_path / "zones"
    out_dir.mkdir()
    (out_dir / "news.acme.example.yaml").symlink_to(victim)
    before = tree(tmp_path)
    result = run("dns", "export", "--all", "--format", "octodns", "--out-dir", str(out_dir))
    assert result.exit_code == 2, result.output
    assert "news.acme.example.yaml is a symbolic link" in " ".join(result.stderr.split())
    assert tree(tmp_path) == before   # mail.acme.example.yaml was not written either
    assert victim.read_text() == "ssh-ed25519 AAAA precious\n"
    (out_dir / "news.acme.example.yaml").unlink()
    result = run("dns", "export", "--all", "--format", "octodns", "--out-dir", str(out_dir))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out_dir.iterdir()) == ["mail.acme.example.yaml",
                                                         "news.acme.example.yaml"]


HOSTILE_NAMES = ["../../somewhere", "/tmp/espkit-abs.example", "a/b.example", "x\x00y.example",
                 "news.acme.example\n$INCLUDE /etc/passwd", "..\\..\\w.example"]


@pytest.fixture
def esp_renames(sandbox_db: str) -> Callable[[str, str], None]:
    """``esp_renames(old, new)``: the ESP (the sandbox's own state) now answers with the
    domain ``old`` named ``new``, as a hostile or broken ESP might name it."""

    def rename(old: str, new: str) -> None:
        with contextlib.closing(sqlite3.connect(sandbox_db)) as db, db:
            db.execute("UPDATE domains SET name = ? WHERE name = ?", (new, old))

    return rename


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_export_refuses_a_hostile_domain_name_from_the_esp_before_writing(
        run, domains: list[Domain], esp_renames: Callable[[str, str], None],
        tmp_path: Path, name: str) -> None:
    """A name the ESP answers with that is not a domain name is an unreadable answer (the
    provider's decoding refuses it), so no format and no --out-dir ever sees it."""
    esp_renames(domains[1].name, name)
    out_dir = tmp_path / "a" / "b" / "zones"
    out_file = tmp_path / "records.zone"
    before = tree(tmp_path)
    for args in (("--format", "octodns", "--out-dir", str(out_dir)),
                 ("--format", "bind", "--out", str(out_file)),
                 ("--format", "octodns", "--out", str(out_file)),
                 ("--format", "csv"), ("--format", "json")):
        result = run("dns", "export", "--all", *args)
        assert result.exit_code == 1, result.output
        line = " ".join(result.stderr.split())
        assert line.startswith(("error: sandbox 200 unreadable answer: name is not a domain "
                                "name", "error: sandbox 200 unreadable answer: name contains "
                                "control characters")), line
        assert "\x00" not in result.output
        assert result.stdout == ""
        assert tree(tmp_path) == before
    assert not (tmp_path.parent / "somewhere").exists()
    assert not Path("/tmp/espkit-abs.example.yaml").exists()


def test_check_table_shows_what_dns_serves_without_escapes(run, published: LocalDns,
                                                           domains: list[Domain]) -> None:
    dkim = domains[0].records("dkim")[0]
    published.replace(dkim.host, "TXT", "k=rsa; p=OLD\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202eX")
    result = run("dns", "check", "news.acme.example", "--nameserver", published.nameserver,
                 "--lookup-timeout", "10", columns=200)
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output
    assert "\u202e" not in result.output
    assert "found: k=rsa; p=OLD" in result.stdout
    assert "\\u202eX" in result.stdout        # shown, so the reader sees it is there
    as_json = run("-o", "json", "dns", "check", "news.acme.example", "--nameserver",
                  published.nameserver, "--only-problems", "--lookup-timeout", "10")
    assert "\x1b" not in as_json.stdout
    assert json.loads(as_json.stdout)[0]["found"] == [
        "k=rsa; p=OLD\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202eX"]
