"""``espkit ips ...``: the account's dedicated IPs.

    espkit ips list
"""

from __future__ import annotations

from rich.table import Table

from espkit.cli.app import Ctx, cli, emit, handled, pass_ctx


@cli.group()
def ips() -> None:
    """Dedicated IPs."""


@ips.command("list")
@pass_ctx
@handled
def ips_list(ctx: Ctx) -> None:
    """List the account's dedicated IPs."""
    items = list(ctx.account.ips.list())

    def table() -> Table:
        t = Table("ip", "pool", "warming up", "rdns")
        for i in items:
            warm = "" if i.warming_up is None else ("yes" if i.warming_up else "no")
            t.add_row(i.address, i.pool or "", warm, i.rdns or "")
        return t

    emit(ctx, items, table)


__all__ = ["ips", "ips_list"]
