"""``espkit capabilities`` and ``espkit login``: what each provider supports, and storing a
provider's API key in the system keyring.

    espkit capabilities
    espkit login mailgun --profile eu-customers
"""

from __future__ import annotations

import sys

import click
from rich import box
from rich.table import Table

from espkit import credentials
from espkit import providers as registry
from espkit.cli.app import Ctx, cli, emit, err, escape, handled, pass_ctx, stdin_is_terminal
from espkit.cli.tables import message
from espkit.errors import ConfigError
from espkit.models import Capability


@cli.command("capabilities")
@pass_ctx
@handled
def capabilities(ctx: Ctx) -> None:
    """What each provider supports natively."""
    from espkit.capabilities import matrix

    rows = matrix()
    for r in rows:
        if r.unavailable:
            err.print(f"[yellow]{escape(r.unavailable)}[/]")
    rows = [r for r in rows if not r.unavailable]
    data = {r.name: sorted(str(c) for c in r.supports) for r in rows}

    def table() -> Table:
        # compact, so that many providers still fit a terminal without folding names
        t = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
        t.add_column("capability", overflow="fold")
        for r in rows:
            t.add_column(r.name, justify="center", no_wrap=True, min_width=len(r.name))
        for cap in Capability:
            t.add_row(str(cap), *("yes" if cap in r.supports else "-" for r in rows))
        return t

    emit(ctx, data, table)


@cli.command("login")
@click.argument("provider")
@click.option("--profile", help="Store under a named profile (several accounts).")
@click.option("--key-stdin", is_flag=True, help="Read the key from standard input.")
@pass_ctx
@handled
def login(ctx: Ctx, provider: str, profile: str | None, key_stdin: bool) -> None:
    """Store PROVIDER's API key in the system keyring."""
    name = registry.get(provider).name
    if not key_stdin and not stdin_is_terminal():
        raise click.UsageError("no terminal to type the key into: pipe it in with --key-stdin")
    key = sys.stdin.readline().strip() if key_stdin else click.prompt(
        f"{name} API key", hide_input=True, err=True)
    if not key:
        raise ConfigError("no key given")
    try:
        credentials.store(name, key, profile)
    except Exception as exc:
        raise ConfigError(f"could not write to the system keyring: {type(exc).__name__}: "
                          f"{exc}") from None
    stored = {"provider": name, "keyring_service": credentials.KEYRING_SERVICE,
              "keyring_user": credentials.keyring_username(name, profile)}
    emit(ctx, stored, lambda: message(
        f"stored the {name} key in the keyring (service {stored['keyring_service']}, "
        f"user {stored['keyring_user']})"))


__all__ = ["capabilities", "login"]
