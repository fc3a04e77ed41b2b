"""``espkit assign`` / ``unassign`` / ``assignments``: which pool or dedicated IP a domain
sends from.

    espkit assign news.acme.com --pool marketing
    espkit unassign news.acme.com --pool marketing --replacement shared
    espkit assignments news.acme.com

``assign`` and ``unassign`` take exactly one of ``--pool`` and ``--ip``; anything else is a
usage error (exit 2) before the account is opened.
"""

from __future__ import annotations

import click
from rich.table import Table

from espkit.cli.app import Ctx, cli, emit, handled, pass_ctx
from espkit.cli.tables import message

POOL = click.option("--pool", help="The IP pool to send from.")
IP = click.option("--ip", help="The dedicated IP to send from.")


def one_target(pool: str | None, ip: str | None) -> tuple[str, str]:
    """``("pool", POOL)`` or ``("ip", IP)``: exactly one of them given, or a usage error
    that says so (rather than the SDK's ``pool/ip (None, None)``)."""
    if pool is not None and ip is None:
        return "pool", pool
    if ip is not None and pool is None:
        return "ip", ip
    given = "both" if pool is not None else "neither"
    raise click.UsageError(f"give exactly one of --pool POOL and --ip IP ({given} given)")


@cli.command("assign")
@click.argument("domain")
@POOL
@IP
@pass_ctx
@handled
def assign(ctx: Ctx, domain: str, pool: str | None, ip: str | None) -> None:
    """Make DOMAIN send from a pool (--pool) or a dedicated IP (--ip)."""
    one_target(pool, ip)
    a = ctx.account.domains.assign(domain, pool=pool, ip=ip)
    emit(ctx, a, lambda: message(f"{a.domain} now sends from {a.kind} {a.target}"))


@cli.command("unassign")
@click.argument("domain")
@POOL
@IP
@click.option("--replacement",
              help="IP, pool or 'shared' to send from instead: where the domain goes.")
@pass_ctx
@handled
def unassign(ctx: Ctx, domain: str, pool: str | None, ip: str | None,
             replacement: str | None) -> None:
    """Stop DOMAIN sending from a pool (--pool) or a dedicated IP (--ip)."""
    kind, target = one_target(pool, ip)
    ctx.account.domains.unassign(domain, pool=pool, ip=ip, replacement=replacement)
    emit(ctx, {"domain": domain, "kind": kind, "unassigned": target},
         lambda: message(f"{domain} no longer sends from {kind} {target}"))


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


__all__ = ["assign", "assignments", "one_target", "unassign"]
