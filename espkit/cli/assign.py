"""``espkit assign`` / ``unassign`` / ``assignments``: which pool or dedicated IP a domain
sends from.

    espkit assign news.acme.com --pool marketing
    espkit unassign news.acme.com --pool marketing --replacement shared
    espkit assignments news.acme.com
"""

from __future__ import annotations

import click
from rich.table import Table

from espkit.cli.app import Ctx, cli, emit, handled, pass_ctx
from espkit.cli.tables import message


@cli.command("assign")
@click.argument("domain")
@click.option("--pool")
@click.option("--ip")
@pass_ctx
@handled
def assign(ctx: Ctx, domain: str, pool: str | None, ip: str | None) -> None:
    """Make DOMAIN send from a pool (--pool) or a dedicated IP (--ip)."""
    a = ctx.account.domains.assign(domain, pool=pool, ip=ip)
    emit(ctx, a, lambda: message(f"{a.domain} now sends from {a.kind} {a.target}"))


@cli.command("unassign")
@click.argument("domain")
@click.option("--pool")
@click.option("--ip")
@click.option("--replacement", help="IP, pool or 'shared' to send from instead.")
@pass_ctx
@handled
def unassign(ctx: Ctx, domain: str, pool: str | None, ip: str | None,
             replacement: str | None) -> None:
    """Stop DOMAIN sending from a pool or IP."""
    ctx.account.domains.unassign(domain, pool=pool, ip=ip, replacement=replacement)
    target = pool or ip
    emit(ctx, {"domain": domain, "unassigned": target},
         lambda: message(f"{domain} no longer sends from {target}"))


@cli.command("assignments")
@click.argument("domain")
@pass_ctx
@handled
def assignments(ctx: Ctx, domain: str) -> None:
    """What DOMAIN sends from."""
    items = ctx.account.domains.assignments(domain)

    def table() -> Table:
        t = Table("domain", "kind", "target")
        for a in items:
            t.add_row(a.domain, str(a.kind), a.target)
        return t

    emit(ctx, items, table)


__all__ = ["assign", "assignments", "unassign"]
