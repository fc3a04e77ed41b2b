"""The command line's convention (docs/cli.md) as a person or a script meets it: output
options anywhere, one confirmation behaviour, subaccounts by name or id, usage errors that
exit 2 and say what to do (before anything is sent: requests counted), stable JSON shapes,
piped tables that do not fold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import responses
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from support import mailgun_mocks as mg
from support.clitext import write
from support.dnsserver import closed_port

import espkit
from espkit.cli import app as cli_app
from espkit.cli import cli
from espkit.cli.dns import check_nameservers

NAME = "news.acme.example"


def names_on(sandbox_db: str, subaccount: str | None = None) -> set[str]:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        scoped = acct.on_behalf_of(subaccount) if subaccount else acct
        return {d.name for d in scoped.domains.list()}


@pytest.fixture
def mailgun(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    """Mailgun's API, answering only what a test registers: ``len(mock.calls)`` counts every
    request the command line sent."""
    monkeypatch.setenv("MAILGUN_API_KEY", mg.KEY)
    monkeypatch.delenv("ESPKIT_MAILGUN_API_KEY", raising=False)
    monkeypatch.delenv("ESPKIT_PROVIDER", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def on_mailgun(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["-p", "mailgun", *args], input=input,
                              env={"COLUMNS": "200"})


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone at a terminal, who can answer a prompt."""
    monkeypatch.setattr(cli_app, "stdin_is_terminal", lambda: True)


# -- -o/--output before or after the command -------------------------------------------------


@pytest.mark.parametrize("command", [
    ["domains", "list"], ["ips", "list"], ["pools", "list"], ["subaccounts", "list"],
    ["capabilities"], ["assignments", NAME], ["domains", "show", NAME],
])
def test_output_is_taken_before_between_and_after(run, command: list[str]) -> None:
    assert run("domains", "create", NAME).exit_code == 0
    before = run("-o", "json", *command)
    assert before.exit_code == 0, before.output
    json.loads(before.stdout)
    after = run(*command, "--output", "json")
    assert after.stdout == before.stdout
    if len(command) > 1:
        between = run(command[0], "-o", "json", *command[1:])
        assert between.stdout == before.stdout
    last_wins = run("-o", "json", *command, "-o", "table")
    assert last_wins.exit_code == 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(last_wins.stdout)


def test_bulk_options_are_taken_after_the_subcommand(run, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\nb.example.org\n")
    journal, other = str(tmp_path / "run.db"), str(tmp_path / "other.db")
    opened: list[dict[str, Any]] = []
    real = cli_app.connect

    def recording(provider: str, **options: Any) -> espkit.Account:
        opened.append(options)
        return real(provider, **options)

    monkeypatch.setattr(cli_app, "connect", recording)
    created = run("bulk", "--journal", other, "create", str(src), "--journal", journal,
                  "--no-progress", "--max-concurrency", "1", "--rate-limit", "50", "-o",
                  "json")
    assert created.exit_code == 0, created.output
    report = json.loads(created.stdout)
    assert report["journal"] == journal          # the later --journal wins
    assert report["concurrency"] == 1
    assert opened[-1]["rate_limit"] == 50.0
    assert created.stderr == ""                  # --no-progress after the subcommand
    assert not Path(other).exists()
    status = run("bulk", "status", "--journal", journal, "-o", "json")
    assert json.loads(status.stdout)["states"]["done"] == 2

    # before the subcommand, as before; and a group flag is not undone by its absence after
    grouped = run("bulk", "--no-progress", "--rate-limit", "20", "verify", str(src))
    assert grouped.exit_code in (0, 1), grouped.output
    assert grouped.stderr == ""
    assert opened[-1]["rate_limit"] == 20.0
    shown = run("bulk", "verify", str(src))
    assert "verify" in shown.stderr              # the progress display, when not turned off

    failed_file = tmp_path / "left.csv"
    assigned = run("bulk", "assign", str(src), "--pool", "nope", "--failed", str(failed_file),
                   "--no-progress")
    assert assigned.exit_code == 1
    assert failed_file.exists()


def test_bulk_journal_errors_say_what_to_pass(run, tmp_path: Path) -> None:
    for command in ("status", "resume", "adopt"):
        result = run("bulk", command)
        assert result.exit_code == 2
        assert f"bulk {command} needs the journal of an earlier run: pass --journal FILE" \
            in result.stderr
        assert "None" not in result.output
    missing = run("bulk", "status", "-j", str(tmp_path / "missing.db"))
    assert missing.exit_code == 2
    assert f"no journal at {tmp_path / 'missing.db'}: pass --journal FILE" in missing.stderr


def test_bulk_adopt_prints_json_with_output_json(run, tmp_path: Path) -> None:
    src = tmp_path / "names.txt"
    src.write_text("a.example.org\n")
    journal = str(tmp_path / "run.db")
    assert run("bulk", "create", str(src), "-j", journal).exit_code == 0
    adopted = run("bulk", "adopt", "-j", journal, "-o", "json")
    assert adopted.exit_code == 0, adopted.output
    data = json.loads(adopted.stdout)
    assert data["journal"] == journal
    assert data["account"].startswith("sandbox at sandbox")


# -- one confirmation behaviour ----------------------------------------------------------------

DELETES = {
    ("domains", "delete"): ["domains", "delete", mg.DOMAIN],
    ("pools", "delete"): ["pools", "delete", "marketing"],
    ("bulk", "delete"): ["bulk", "delete", "-"],
}


@pytest.mark.parametrize("path", list(DELETES), ids=" ".join)
def test_off_a_terminal_a_delete_without_yes_exits_2_and_sends_nothing(
        mailgun: responses.RequestsMock, path: tuple[str, ...]) -> None:
    result = on_mailgun(*DELETES[path], input=f"y\n{mg.DOMAIN}\n")  # piped: not an answer
    assert result.exit_code == 2, result.output
    assert "not run from a terminal, so nobody can confirm: pass --yes to delete" \
        in result.stderr
    assert "Aborted" not in result.output
    assert len(mailgun.calls) == 0


def test_with_yes_the_delete_is_sent(mailgun: responses.RequestsMock) -> None:
    mailgun.delete(f"{mg.US}/v3/domains/{mg.DOMAIN}", json=mg.SUCCESS)
    result = on_mailgun("domains", "delete", mg.DOMAIN, "--yes", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": mg.DOMAIN}
    assert len(mailgun.calls) == 1


def test_at_a_terminal_the_question_is_on_stderr_and_no_changes_nothing(
        mailgun: responses.RequestsMock, terminal: None) -> None:
    mailgun.delete(f"{mg.US}/v3/domains/{mg.DOMAIN}", json=mg.SUCCESS)
    declined = on_mailgun("domains", "delete", mg.DOMAIN, input="n\n")
    assert declined.exit_code == 1
    assert f"Delete {mg.DOMAIN} from mailgun? [y/N]" in declined.stderr
    assert "not confirmed: nothing was changed" in declined.stderr
    assert declined.stdout == ""
    assert len(mailgun.calls) == 0
    silent = on_mailgun("domains", "delete", mg.DOMAIN, input="\n")  # the default is no
    assert silent.exit_code == 1
    assert len(mailgun.calls) == 0
    accepted = on_mailgun("domains", "delete", mg.DOMAIN, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Delete" not in accepted.stdout
    assert len(mailgun.calls) == 1


def test_apply_confirms_as_every_other_command(run, tmp_path: Path, sandbox_db: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = write(tmp_path, "version: 1\nconnections:\n  sandbox: {provider: sandbox}\n"
                            "customers:\n  - {name: acme, domain: acme.example.com}\n"
                            "streams:\n  marketing: {domain: 'news.{domain}'}\n")
    refused = run("apply", fleet, input="y\n")
    assert refused.exit_code == 2, refused.output
    assert "pass --yes to apply 1 change(s)" in refused.stderr
    assert names_on(sandbox_db) == set()
    monkeypatch.setattr(cli_app, "stdin_is_terminal", lambda: True)
    declined = run("apply", fleet, "--no-progress", input="n\n")
    assert declined.exit_code == 1
    assert "Apply 1 change(s)? [y/N]" in declined.stderr
    assert names_on(sandbox_db) == set()
    accepted = run("apply", fleet, "--no-progress", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert names_on(sandbox_db) == {"news.acme.example.com"}


def test_an_apply_refused_for_its_checksum_prints_the_plan_in_json(run, tmp_path: Path,
                                                                   sandbox_db: str) -> None:
    fleet = write(tmp_path, "version: 1\nconnections:\n  sandbox: {provider: sandbox}\n"
                            "customers:\n  - {name: acme, domain: acme.example.com}\n"
                            "streams:\n  marketing: {domain: 'news.{domain}'}\n")
    refused = run("apply", fleet, "--yes", "--checksum", "0" * 16, "-o", "json")
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["changes"][0]["name"] == "news.acme.example.com"
    assert names_on(sandbox_db) == set()


# -- subaccounts by name or id -----------------------------------------------------------------


def test_a_subaccount_is_taken_by_name_or_id_everywhere(run, sandbox_db: str) -> None:
    sub = json.loads(run("-o", "json", "subaccounts", "create", "customer-42").stdout)
    by_name = run("--subaccount", "customer-42", "domains", "create", "mail.c42.example")
    assert by_name.exit_code == 0, by_name.output
    assert names_on(sandbox_db, sub["id"]) == {"mail.c42.example"}
    assert names_on(sandbox_db) == set()
    by_id = run("--subaccount", sub["id"], "-o", "json", "domains", "list")
    assert [d["name"] for d in json.loads(by_id.stdout)] == ["mail.c42.example"]

    assert json.loads(run("subaccounts", "show", "customer-42", "-o", "json").stdout)["id"] \
        == sub["id"]
    assert json.loads(run("subaccounts", "disable", "customer-42", "-o", "json").stdout)[
        "enabled"] is False
    assert json.loads(run("subaccounts", "enable", sub["id"], "-o", "json").stdout)[
        "enabled"] is True


def test_a_subaccount_that_is_neither_a_name_nor_an_id_is_named(run, sandbox_db: str) -> None:
    run("subaccounts", "create", "customer-42")
    for args in (["--subaccount", "customer-43", "domains", "create", "x.example.org"],
                 ["subaccounts", "show", "customer-43"],
                 ["subaccounts", "disable", "customer-43"]):
        result = run(*args)
        assert result.exit_code == 2, args
        assert "no subaccount 'customer-43' in the sandbox account: it is neither the name " \
               "nor the id of one" in " ".join(result.stderr.split())
        assert "espkit subaccounts list" in result.stderr
    assert names_on(sandbox_db) == set()


def test_an_id_wins_over_another_subaccounts_equal_name(run, sandbox_db: str) -> None:
    first = json.loads(run("-o", "json", "subaccounts", "create", "first").stdout)
    second = json.loads(run("-o", "json", "subaccounts", "create", first["id"]).stdout)
    assert second["name"] == first["id"]
    shown = json.loads(run("-o", "json", "subaccounts", "show", first["id"]).stdout)
    assert shown["name"] == "first"


# -- usage errors: exit 2, what to do, nothing sent --------------------------------------------


@pytest.mark.parametrize("args", [
    ["assign", mg.DOMAIN], ["assign", mg.DOMAIN, "--pool", "p", "--ip", "192.0.2.1"],
    ["unassign", mg.DOMAIN], ["unassign", mg.DOMAIN, "--pool", "p", "--ip", "192.0.2.1"],
    ["bulk", "assign", "-"],
])
def test_assign_and_unassign_need_exactly_one_target(mailgun: responses.RequestsMock,
                                                     args: list[str]) -> None:
    result = on_mailgun(*args, input=f"{mg.DOMAIN}\n")
    assert result.exit_code == 2, result.output
    given = "both" if "--ip" in args else "neither"
    assert f"give exactly one of --pool POOL and --ip IP ({given} given)" in result.stderr
    assert "None" not in result.output
    assert len(mailgun.calls) == 0


def test_unassign_says_what_the_domain_no_longer_sends_from(run) -> None:
    ips = json.loads(run("-o", "json", "ips", "list").stdout)
    run("pools", "create", "marketing", "--ip", ips[0]["address"])
    run("domains", "create", NAME)
    run("assign", NAME, "--pool", "marketing")
    result = run("unassign", NAME, "--pool", "marketing")
    assert result.exit_code == 0, result.output
    assert f"{NAME} no longer sends from pool marketing" in result.stdout
    run("assign", NAME, "--pool", "marketing")
    as_json = run("unassign", NAME, "--pool", "marketing", "-o", "json")
    assert json.loads(as_json.stdout) == {"domain": NAME, "kind": "pool",
                                          "unassigned": "marketing"}


@pytest.mark.parametrize(("limit", "exit_code", "shown"), [
    ("-1", 2, 0), ("0", 2, 0), ("1", 0, 1), ("2", 0, 2), ("3", 0, 2)])
def test_list_limit_is_at_least_one(run, limit: str, exit_code: int, shown: int) -> None:
    run("domains", "create", "a.example.org")
    run("domains", "create", "b.example.org")
    result = run("domains", "list", "--limit", limit, "-o", "json")
    assert result.exit_code == exit_code, result.output
    if exit_code == 0:
        assert len(json.loads(result.stdout)) == shown
    else:
        assert "is not in the range x>=1" in result.stderr


BAD_NAMESERVERS = ["not-an-ip", "dns.google", "256.1.1.1", "127.0.0.1:0", "127.0.0.1:65536",
                   "127.0.0.1:x", "[::1]:x", "", "1.2.3.4:53:53"]
GOOD_NAMESERVERS = ["127.0.0.1", "127.0.0.1:5353", "192.0.2.53:65535", "::1", "[::1]:53",
                    "2001:db8::53"]


@pytest.mark.parametrize("nameserver", BAD_NAMESERVERS)
def test_a_nameserver_that_is_not_an_address_exits_2_before_anything_is_sent(
        mailgun: responses.RequestsMock, nameserver: str) -> None:
    result = on_mailgun("dns", "check", mg.DOMAIN, "--nameserver", "127.0.0.1",
                        "--nameserver", nameserver)
    assert result.exit_code == 2, result.output
    assert "is not IP, IP:PORT or [IPv6]:PORT" in result.stderr
    assert len(mailgun.calls) == 0


@pytest.mark.parametrize("nameserver", GOOD_NAMESERVERS)
def test_a_nameserver_address_is_taken(nameserver: str) -> None:
    assert check_nameservers(click.Context(cli), None, (nameserver,)) == (nameserver,)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=24) | st.ip_addresses().map(str))
def test_a_nameserver_is_an_address_or_a_usage_error(text: str) -> None:
    import ipaddress

    from espkit.dns import parse_nameserver

    try:
        check_nameservers(click.Context(cli), None, (text,))  # type: ignore[arg-type]
    except click.BadParameter:
        return
    ipaddress.ip_address(parse_nameserver(text)[0])  # what is taken is an address


@pytest.fixture
def one_domain(sandbox_db: str) -> None:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        acct.domains.create(NAME)


def test_dns_check_old_option_names_still_work_with_a_note(run, one_domain: None) -> None:
    dead = f"127.0.0.1:{closed_port()}"
    old = run("-o", "json", "dns", "check", NAME, "--nameserver", dead, "--timeout", "0.2",
              "--concurrency", "4")
    assert old.exit_code == 1, old.output
    assert json.loads(old.stdout)[0]["reason"].startswith("timed out after 0.2s")
    assert "--timeout is now --lookup-timeout" in old.stderr
    assert "--concurrency is now --max-concurrency" in old.stderr
    new = run("-o", "json", "dns", "check", NAME, "--nameserver", dead, "--lookup-timeout",
              "0.2", "--max-concurrency", "4")
    assert json.loads(new.stdout)[0]["reason"].startswith("timed out after 0.2s")
    assert "is now" not in new.stderr
    clash = run("dns", "check", NAME, "--timeout", "1", "--lookup-timeout", "2")
    assert clash.exit_code == 2
    assert "--timeout is the old name of --lookup-timeout: give one of them" in clash.stderr


def test_region_on_the_sandbox_is_a_warning_not_silence(run, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    typed = run("--region", "mars", "-o", "json", "domains", "list")
    assert typed.exit_code == 0
    assert json.loads(typed.stdout) == []
    assert "warning: --region mars applies to real ESPs, not the sandbox: ignored" \
        in typed.stderr
    monkeypatch.setenv("ESPKIT_REGION", "eu")  # a default for whichever ESP it fits
    from_env = run("domains", "list")
    assert from_env.exit_code == 0
    assert "warning" not in from_env.stderr
    url = run("--base-url", "http://127.0.0.1:9", "domains", "list")
    assert "warning: --base-url applies to real ESPs" in url.stderr


def test_sandbox_db_with_another_provider_is_a_warning(mailgun: responses.RequestsMock,
                                                       tmp_path: Path) -> None:
    result = on_mailgun("--sandbox-db", str(tmp_path / "x.db"), "dns", "check", mg.DOMAIN,
                        "--nameserver", "bad")
    assert "warning: --sandbox-db applies to the sandbox only: ignored" in result.stderr
    assert not (tmp_path / "x.db").exists()
    # ... except for `espkit sandbox`, which works on that file whatever the provider
    path = on_mailgun("--sandbox-db", str(tmp_path / "x.db"), "sandbox", "path")
    assert path.exit_code == 0, path.output
    assert path.stdout.strip() == str(tmp_path / "x.db")
    assert "warning" not in path.stderr


def test_login_off_a_terminal_says_to_pipe_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    stored: dict[tuple[str, str], str] = {}
    monkeypatch.setattr(keyring, "set_password", lambda s, u, p: stored.__setitem__((s, u), p))
    result = CliRunner().invoke(cli, ["login", "mailgun"], input="key-typed\n")
    assert result.exit_code == 2
    assert "pipe it in with --key-stdin" in result.stderr
    assert stored == {}
    as_json = CliRunner().invoke(cli, ["login", "mailgun", "--key-stdin", "-o", "json"],
                                 input="key-supersecret-123\n")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"provider": "mailgun", "keyring_service": "espkit",
                                          "keyring_user": "mailgun"}
    assert "supersecret" not in as_json.output


# -- JSON shapes --------------------------------------------------------------------------------


def test_domains_verify_json_is_one_shape_for_one_name_or_several(run, sandbox_db: str,
                                                                  tmp_path: Path) -> None:
    names = ["a.example.org", "b.example.org"]
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        for name in names:
            acct.domains.create(name)
    shapes = []
    for args in ([names[0]], names, ["missing.example.org"],
                 ["--from-file", write(tmp_path, names[1] + "\n", "one.txt")]):
        result = run("-o", "json", "domains", "verify", *args)
        data = json.loads(result.stdout)
        assert isinstance(data["results"], list)
        given = 2 if args == names else 1
        assert len(data["results"]) == given
        shapes.append((set(data), {k for r in data["results"] for k in r} - {"error"}))
    assert all(shape == shapes[0] for shape in shapes)


# -- tables when piped ---------------------------------------------------------------------------


def run_piped(sandbox_db: str, *args: str, columns: str | None) -> Result:
    return CliRunner().invoke(cli, ["--sandbox-db", sandbox_db, *args],
                              env={"COLUMNS": columns, "ESPKIT_PROVIDER": None})


def test_a_piped_table_is_not_folded_at_80_columns(sandbox_db: str) -> None:
    with espkit.connect("sandbox", path=sandbox_db) as acct:
        dkim = acct.domains.create(NAME, dkim_key_size=2048).records("dkim")[0].value
    assert len(dkim) > 200
    piped = run_piped(sandbox_db, "domains", "show", NAME, columns=None)
    assert piped.exit_code == 0, piped.output
    assert any(dkim in line for line in piped.stdout.splitlines())  # one line, whole
    narrow = run_piped(sandbox_db, "domains", "show", NAME, columns="80")
    assert not any(dkim in line for line in narrow.stdout.splitlines())  # $COLUMNS is obeyed
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80


def test_the_piped_width_applies_only_off_a_terminal() -> None:
    import io

    from espkit.cli.app import PIPED_WIDTH, SafeConsole

    assert SafeConsole(file=io.StringIO()).width == PIPED_WIDTH
    assert SafeConsole(file=io.StringIO(), width=100).width == 100
    assert SafeConsole(file=io.StringIO(), force_terminal=True,
                       _environ={"COLUMNS": "90"}).width == 90
    assert SafeConsole(file=io.StringIO(), _environ={"COLUMNS": "120"}).width == 120

