"""``espkit ips ...``: the account's dedicated IPs, and the ESP's warmup of them.

    espkit ips list
    espkit ips warmup list
    espkit ips warmup status 192.0.2.10
    espkit ips warmup start 192.0.2.10 [--stage 3]
    espkit ips warmup stop 192.0.2.10
"""

from __future__ import annotations

from collections.abc import Iterable

import click
from rich.table import Table

from espkit.cli.app import Ctx, cli, emit, handled, pass_ctx
from espkit.models import Warmup


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


@ips.group("warmup")
def warmup_group() -> None:
    """The ESP's own warmup of dedicated IPs (docs/warmup.md)."""


def _show(ctx: Ctx, items: Iterable[Warmup]) -> None:
    rows = list(items)

    def figure(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    def table() -> Table:
        t = Table("ip", "state", "stage", "progress", "daily cap", "hourly cap", "overflow",
                  "started")
        for w in rows:
            stage = "-" if w.stage is None else (
                f"{w.stage}" if w.stages is None else f"{w.stage}/{w.stages}")
            progress = "-" if w.progress is None else f"{w.progress * 100:.0f}%"
            started = "-" if w.started is None else w.started.strftime("%Y-%m-%d")
            t.add_row(w.ip, str(w.state), stage, progress, figure(w.daily_cap),
                      figure(w.hourly_cap), w.overflow or "-", started)
        return t

    emit(ctx, rows, table)


@warmup_group.command("list")
@pass_ctx
@handled
def warmup_list(ctx: Ctx) -> None:
    """Every dedicated IP's warmup, in one read where the ESP allows."""
    _show(ctx, ctx.account.ips.warmups())


@warmup_group.command("status")
@click.argument("ip")
@pass_ctx
@handled
def warmup_status(ctx: Ctx, ip: str) -> None:
    """Where IP is in its warmup."""
    _show(ctx, [ctx.account.ips.warmup_status(ip)])


@warmup_group.command("start")
@click.argument("ip")
@click.option("--stage", type=int, help="Start at this warmup stage, where the ESP lets "
                                        "you choose one (SparkPost).")
@pass_ctx
@handled
def warmup_start(ctx: Ctx, ip: str, stage: int | None) -> None:
    """Put IP on the ESP's warmup plan."""
    _show(ctx, [ctx.account.ips.start_warmup(ip, stage=stage)])


@warmup_group.command("stop")
@click.argument("ip")
@pass_ctx
@handled
def warmup_stop(ctx: Ctx, ip: str) -> None:
    """Take IP off warmup: it sends its full volume from now on."""
    _show(ctx, [ctx.account.ips.stop_warmup(ip)])


__all__ = ["ips", "ips_list", "warmup_group", "warmup_list", "warmup_start", "warmup_status",
           "warmup_stop"]
