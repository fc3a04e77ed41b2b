"""The command line's one convention (docs/cli.md), held for every command by walking click's
command tree: a command added later is checked as it lands, and a new option name must come
with its one meaning in ``MEANINGS``.

What each rule does when run (exit codes, messages, JSON shapes, requests counted) is in
test_cli_usage.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from espkit.cli import cli

Path = tuple[str, ...]


def walk(command: click.Command = cli, path: Path = ()) -> Iterator[tuple[Path, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = dict(walk())
LEAVES = {p: c for p, c in COMMANDS.items() if not isinstance(c, click.Group)}


def named(path: Path) -> str:
    return " ".join(path) or "espkit"


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option)]


def option(command: click.Command, name: str) -> click.Option | None:
    return next((o for o in options(command) if name in (*o.opts, *o.secondary_opts)), None)


#: every visible option name -> what its help must say, wherever it appears: one meaning
MEANINGS = {
    "--all": "every domain of the account",
    "--allow-env": "read var",
    "--allow-host": "send their key to host",
    "--allow-keyring-service": "keyring service",
    "--allow-path": "sandbox connection's path",
    "--base-url": "api base url",
    "--by": "who decides",
    "--checksum": "checksum",
    "--customers": "customers",
    "--days": "how many days",
    "--debug": "tracebacks",
    "--delete-unknown": "neither declares nor owns",
    "--description": "what the pool is for",
    "--dkim-key-size": "dkim key",
    "--dkim-selector": "dkim selector",
    "--domain": "sending domain",
    "--exit-code": "exit 3",
    "--failed": "failed items",
    "--fleet": "fleet file",
    "--force": "safety share",
    "--format": "bind",
    "--from-file": "names in file",
    "--ip": "dedicated ip",
    "--ips": "how many ips",
    "--journal": "sqlite journal",
    "--key-stdin": "standard input",
    "--limit": "at most n",
    "--lookup-timeout": "seconds one lookup may take",
    "--max-concurrency": "cap on",
    "--max-outage": "longest esp outage",
    "--nameserver": "dns server at this address",
    "--no-progress": "no progress display on stderr",
    "--note": "why",
    "--on": "the day it is for",
    "--only-problems": "only records not present",
    "--out": "instead of stdout",
    "--out-dir": "into this directory",
    "--output": "table for people, json for scripts",
    "--override": "advance although",
    "--poll": "seconds before the second check",
    "--pool": "ip pool",
    "--profile": "named profile",
    "--provider": "esp to talk to",
    "--ramp": "the ramp to act on",
    "--rate-limit": "requests a second",
    "--region": "esp region",
    "--replacement": "ip, pool or 'shared' to send from instead",
    "--resolution": "figures per",
    "--sandbox-db": "sandbox state file",
    "--schedule": "warmup schedule",
    "--since": "first day",
    "--spam-action": "spam filter",
    "--stage": "warmup stage",
    "--subaccount": "name or id",
    "--timeout": "seconds to wait in all",
    "--to-step": "the step to go back to",
    "--ttl": "ttl",
    "--until": "last day",
    "--version": "version",
    "--wait": "until all are verified",
    "--web-prefix": "tracking links",
    "--web-scheme": "tracking links",
    "--wildcard": "subdomains",
    "--yes": "do not ask for confirmation",
    "--zone": "into this zone",
}
#: a short option is the same long option wherever it appears
SHORT = {"-o": "--output", "-y": "--yes", "-j": "--journal", "-f": "--format",
         "-p": "--provider"}
#: hidden options are old names kept working, each beside its new name
DEPRECATED = {
    ("dns", "check"): {"--timeout": "--lookup-timeout", "--concurrency": "--max-concurrency"},
    ("domains", "verify"): {"--interval": "--poll"},
}
#: commands that show progress on stderr (a bar, a live count or a spinner)
PROGRESS = {("bulk",), *(("bulk", c) for c in ("create", "delete", "verify", "assign",
                                               "resume")),
            ("apply",), ("plan",), ("domains", "verify"), ("dns", "check"), ("demo",)}
DESTRUCTIVE_HELP = re.compile(r"\b(delete|deletes|apply|applies)\b", re.IGNORECASE)


@pytest.mark.parametrize("path", list(COMMANDS), ids=named)
def test_every_command_has_help_and_its_help_works(path: Path) -> None:
    command = COMMANDS[path]
    assert (command.help or "").strip(), f"{named(path)} has no help text"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: cli {' '.join(path)}".rstrip() in result.stdout
    assert "-o, --output" in result.stdout


@pytest.mark.parametrize("path", [p for p in COMMANDS if p], ids=named)
def test_every_command_takes_output_before_or_after_it(path: Path) -> None:
    found = option(COMMANDS[path], "--output")
    assert found is not None, f"{named(path)} does not take -o/--output"
    assert found.opts == ["-o", "--output"]
    assert isinstance(found.type, click.Choice)
    assert list(found.type.choices) == ["table", "json"]
    assert found.default is None  # not given after the command, the root's stands


def test_every_option_name_has_one_meaning() -> None:
    used: set[str] = set()
    for path, command in COMMANDS.items():
        for opt in options(command):
            if opt.hidden:
                continue
            for name in (*opt.opts, *opt.secondary_opts):
                if name.startswith("--no-") and name != "--no-progress":
                    name = "--" + name[len("--no-"):]  # --no-wildcard is --wildcard's
                if not name.startswith("--"):
                    continue
                used.add(name)
                assert name in MEANINGS, f"{named(path)} {name}: a new option name; add " \
                                         "its one meaning to MEANINGS (and docs/cli.md)"
                assert MEANINGS[name] in (opt.help or "").lower(), \
                    f"{named(path)} {name}: {opt.help!r} does not say {MEANINGS[name]!r}"
    assert set(MEANINGS) - used == set(), "MEANINGS lists names no command has"


def test_short_options_are_the_same_long_option_everywhere() -> None:
    for path, command in COMMANDS.items():
        for opt in options(command):
            for short in (n for n in opt.opts if not n.startswith("--")):
                assert short in SHORT, f"{named(path)} {short}: add it to SHORT"
                assert SHORT[short] in opt.opts, f"{named(path)} {short} is not {SHORT[short]}"


def test_hidden_options_are_only_old_names_beside_their_new_ones() -> None:
    seen: dict[Path, dict[str, str]] = {}
    for path, command in COMMANDS.items():
        for opt in options(command):
            if not opt.hidden:
                continue
            [name] = opt.opts
            new = DEPRECATED.get(path, {}).get(name)
            assert new is not None, f"{named(path)} {name}: hidden but not an old name"
            replacement = option(command, new)
            assert replacement is not None
            assert not replacement.hidden
            assert opt.type.name == replacement.type.name  # the same values
            seen.setdefault(path, {})[name] = new
    assert seen == DEPRECATED


def test_yes_on_every_command_that_deletes_or_applies() -> None:
    asks = set()
    for path, command in LEAVES.items():
        first_paragraph = (command.help or "").strip().split("\n\n")[0]
        says = bool(DESTRUCTIVE_HELP.search(first_paragraph))
        yes = option(command, "--yes")
        assert says == (yes is not None), f"{named(path)}: help {first_paragraph!r}"
        if yes is not None:
            assert yes.opts == ["-y", "--yes"]
            assert yes.is_flag
            asks.add(path)
    assert asks == {("domains", "delete"), ("pools", "delete"), ("bulk", "delete"),
                    ("apply",), ("sandbox", "reset")}


def test_no_progress_on_every_command_that_shows_progress() -> None:
    has = {p for p, c in COMMANDS.items() if option(c, "--no-progress") is not None}
    assert has == PROGRESS
    for path in has:
        found = option(COMMANDS[path], "--no-progress")
        assert found is not None
        assert found.is_flag


def test_the_bulk_options_are_taken_after_each_subcommand_they_apply_to() -> None:
    group = COMMANDS[("bulk",)]
    names = {n for o in options(group) for n in o.opts if n.startswith("--")} - {"--output"}
    assert names == {"--journal", "--failed", "--rate-limit", "--max-concurrency",
                     "--max-outage", "--no-progress"}
    for sub in ("create", "delete", "verify", "assign", "resume"):
        for name in names:
            assert option(COMMANDS[("bulk", sub)], name) is not None, (sub, name)
    for sub in ("status", "adopt"):  # they read a journal and send nothing
        assert option(COMMANDS[("bulk", sub)], "--journal") is not None
        assert option(COMMANDS[("bulk", sub)], "--no-progress") is None


def test_usage_errors_name_the_command_as_its_users_type_it() -> None:
    result = CliRunner().invoke(cli, ["domains", "list", "--limit", "0"], prog_name="espkit")
    assert result.exit_code == 2
    assert "Try 'espkit domains list -h' for help." in result.stderr or \
        "Try 'espkit domains list --help' for help." in result.stderr
    assert "0 is not in the range x>=1" in result.stderr
