"""``espkit subaccounts ...``: subaccounts (one per customer, typically).

    espkit subaccounts list
    espkit subaccounts create acme
    espkit subaccounts show acme             # by name
    espkit subaccounts disable 1234          # or by id

A SUBACCOUNT is its name or its id, here as in the global ``--subaccount`` (which acts
inside one): ``espkit.cli.app.resolve_subaccount``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from rich.table import Table

from espkit.cli.app import Ctx, cli, emit, handled, pass_ctx, resolve_subaccount


@cli.group()
def subaccounts() -> None:
    """Subaccounts (one per customer, typically)."""


def _subs_table(items: Sequence[Any]) -> Table:
    t = Table("id", "name", "enabled")
    for s in items:
        t.add_row(s.id, s.name, "yes" if s.enabled else "no")
    return t


@subaccounts.command("list")
@pass_ctx
@handled
def subaccounts_list(ctx: Ctx) -> None:
    """List subaccounts."""
    items = list(ctx.account.subaccounts.list())
    emit(ctx, items, lambda: _subs_table(items))


@subaccounts.command("create")
@click.argument("name")
@pass_ctx
@handled
def subaccounts_create(ctx: Ctx, name: str) -> None:
    """Create a subaccount."""
    s = ctx.account.subaccounts.create(name)
    emit(ctx, s, lambda: _subs_table([s]))


@subaccounts.command("show")
@click.argument("subaccount", metavar="SUBACCOUNT")
@pass_ctx
@handled
def subaccounts_show(ctx: Ctx, subaccount: str) -> None:
    """Show one subaccount (SUBACCOUNT: its name or id)."""
    subaccount_id = resolve_subaccount(ctx.account, subaccount)
    s = ctx.account.subaccounts.get(subaccount_id)
    emit(ctx, s, lambda: _subs_table([s]))


@subaccounts.command("enable")
@click.argument("subaccount", metavar="SUBACCOUNT")
@pass_ctx
@handled
def subaccounts_enable(ctx: Ctx, subaccount: str) -> None:
    """Enable a subaccount (SUBACCOUNT: its name or id)."""
    subaccount_id = resolve_subaccount(ctx.account, subaccount)
    s = ctx.account.subaccounts.enable(subaccount_id)
    emit(ctx, s, lambda: _subs_table([s]))


@subaccounts.command("disable")
@click.argument("subaccount", metavar="SUBACCOUNT")
@pass_ctx
@handled
def subaccounts_disable(ctx: Ctx, subaccount: str) -> None:
    """Disable a subaccount (SUBACCOUNT: its name or id)."""
    subaccount_id = resolve_subaccount(ctx.account, subaccount)
    s = ctx.account.subaccounts.disable(subaccount_id)
    emit(ctx, s, lambda: _subs_table([s]))


__all__ = ["subaccounts", "subaccounts_create", "subaccounts_disable", "subaccounts_enable",
           "subaccounts_list", "subaccounts_show"]
