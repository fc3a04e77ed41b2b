"""``espkit pools ...``: IP pools, the dedicated IPs in them.

    espkit pools list
    espkit pools create marketing --ip 192.0.2.10 --ip 192.0.2.11
    espkit pools add-ip marketing 192.0.2.12
    espkit pools remove-ip marketing 192.0.2.10
    espkit pools delete marketing --replacement shared --yes
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from rich.table import Table

from espkit.cli.app import Ctx, cli, confirm, emit, handled, pass_ctx, yes_option
from espkit.cli.tables import message


@cli.group()
def pools() -> None:
    """IP pools."""


def _pools_table(items: Sequence[Any]) -> Table:
    t = Table("pool", "id", "ips", "description")
    for p in items:
        t.add_row(p.name, p.id or "", ", ".join(p.ips), p.description or "")
    return t


@pools.command("list")
@pass_ctx
@handled
def pools_list(ctx: Ctx) -> None:
    """List IP pools."""
    items = list(ctx.account.pools.list())
    emit(ctx, items, lambda: _pools_table(items))


@pools.command("create")
@click.argument("name")
@click.option("--ip", "ips_", multiple=True, help="Dedicated IP to put in it (repeatable).")
@click.option("--description", help="What the pool is for.")
@pass_ctx
@handled
def pools_create(ctx: Ctx, name: str, ips_: Sequence[str], description: str | None) -> None:
    """Create an IP pool."""
    p = ctx.account.pools.create(name, ips=ips_, description=description)
    emit(ctx, p, lambda: _pools_table([p]))


@pools.command("add-ip")
@click.argument("pool")
@click.argument("ip")
@pass_ctx
@handled
def pools_add_ip(ctx: Ctx, pool: str, ip: str) -> None:
    """Put IP in POOL (moving it out of another pool where the ESP requires)."""
    p = ctx.account.pools.add_ip(pool, ip)
    emit(ctx, p, lambda: _pools_table([p]))


@pools.command("remove-ip")
@click.argument("pool")
@click.argument("ip")
@pass_ctx
@handled
def pools_remove_ip(ctx: Ctx, pool: str, ip: str) -> None:
    """Take IP out of POOL."""
    p = ctx.account.pools.remove_ip(pool, ip)
    emit(ctx, p, lambda: _pools_table([p]))


@pools.command("delete")
@click.argument("name")
@click.option("--replacement",
              help="IP, pool or 'shared' to send from instead: where the pool's domains go.")
@yes_option
@pass_ctx
@handled
def pools_delete(ctx: Ctx, name: str, replacement: str | None, yes: bool) -> None:
    """Delete an IP pool."""
    confirm(yes, f"delete pool {name} from {ctx.provider}")
    ctx.account.pools.delete(name, replacement=replacement)
    emit(ctx, {"deleted": name}, lambda: message(f"deleted pool {name}"))


__all__ = ["pools", "pools_add_ip", "pools_create", "pools_delete", "pools_list",
           "pools_remove_ip"]
