"""``espkit stats``: delivery figures per day (or hour, month) with their rates, and a chart
of sent volume against a warmup schedule's cap.

    espkit stats --since 2026-12-01 --until 2026-12-07 --ip 192.0.2.10 \\
                 --schedule sendgrid-hourly
    espkit --subaccount acme stats --domain news.acme.com -o json

A figure the ESP does not report shows as ``-`` (``null`` in JSON), never 0. With
``--schedule`` each day's cap is the schedule's for that sending day (days with traffic,
counted from the first one in the range, under the schedule's pause rules) times the IPs
(``--ips``; one for ``--ip``, the pool's for ``--pool``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from rich.table import Table

from espkit import warmup
from espkit.account.stats import day
from espkit.cli.app import Ctx, cli, emit, handled, out, pass_ctx, to_plain
from espkit.cli.chart import bars
from espkit.errors import ValidationError
from espkit.models import DeliveryStats, Resolution


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def caps(rows: list[DeliveryStats], schedule: warmup.Schedule, ips: int) -> list[int | None]:
    """Each row's cap: the schedule's for the sending day the row's day is, counting the
    days with traffic before it (rows are per day)."""
    traffic: dict[dt.date, int] = {}
    out_caps: list[int | None] = []
    for row in rows:
        day = row.period.date()
        sending_day = schedule.day_for(traffic, day)
        out_caps.append(schedule.capacity(sending_day, ips))
        if row.sent:
            traffic[day] = row.sent
    return out_caps


def _ip_count(ctx: Ctx, ip: str | None, pool: str | None, given: int | None) -> int:
    if given is not None:
        return given
    if pool is not None:
        return len(ctx.account.pools.get(pool).ips)
    return 1


@cli.command("stats")
@click.option("--since", help="First day, YYYY-MM-DD (default: six days before --until).")
@click.option("--until", help="Last day, YYYY-MM-DD (default: today, UTC).")
@click.option("--domain", help="Only this sending domain's figures.")
@click.option("--ip", help="Only this dedicated IP's figures.")
@click.option("--pool", help="Only this IP pool's figures.")
@click.option("--resolution", type=click.Choice([r.value for r in Resolution]),
              default=Resolution.DAY.value, show_default=True,
              help="Figures per hour, day or month.")
@click.option("--schedule", "schedule_name",
              help=f"Chart sent volume against this warmup schedule's daily cap "
                   f"({', '.join(warmup.schedules())}).")
@click.option("--ips", "ip_count", type=click.IntRange(min=0),
              help="How many IPs the cap is for (default: 1 with --ip, the pool's with "
                   "--pool).")
@pass_ctx
@handled
def stats(ctx: Ctx, since: str | None, until: str | None, domain: str | None,
          ip: str | None, pool: str | None, resolution: str, schedule_name: str | None,
          ip_count: int | None) -> None:
    """Delivery figures and rates per period: sent, delivered, bounced, complained."""
    last: object = until if until is not None else dt.datetime.now(dt.timezone.utc).date()
    first: object = day("until", last) - dt.timedelta(days=6) if since is None else since
    schedule = warmup.schedule(schedule_name) if schedule_name is not None else None
    if schedule is not None and resolution != Resolution.DAY.value:
        raise ValidationError("resolution", resolution, "a warmup cap is per day: use --"
                                                        "resolution day with --schedule")
    rows = ctx.account.stats.delivery(first, last, domain=domain, ip=ip, pool=pool,  # type: ignore[arg-type]
                                      resolution=resolution)
    row_caps: list[int | None] = [None] * len(rows)
    if schedule is not None:
        row_caps = caps(rows, schedule, _ip_count(ctx, ip, pool, ip_count))
    label = "%Y-%m-%d %H:00" if resolution == Resolution.HOUR.value else (
        "%Y-%m" if resolution == Resolution.MONTH.value else "%Y-%m-%d")

    if ctx.output == "json":
        data: list[dict[str, Any]] = []
        for row, cap in zip(rows, row_caps, strict=True):
            item = to_plain(row)
            item.update(delivery_rate=row.delivery_rate, bounce_rate=row.bounce_rate,
                        complaint_rate=row.complaint_rate)
            if schedule is not None:
                item["cap"] = cap
            data.append(item)
        emit(ctx, data)
        return

    def table() -> Table:
        t = Table("period", "sent", "delivered", "hard", "soft", "complained", "deferred",
                  "delivered %", "bounced %", "complaints %")
        for row in rows:
            t.add_row(row.period.strftime(label), _n(row.sent), _n(row.delivered),
                      _n(row.bounced_hard), _n(row.bounced_soft), _n(row.complained),
                      _n(row.deferred), _pct(row.delivery_rate), _pct(row.bounce_rate),
                      _pct(row.complaint_rate))
        return t

    emit(ctx, rows, table)
    if rows:
        title = "sent" + (f" against {schedule.name}'s cap" if schedule is not None else "")
        out.print(f"\n{title}:", markup=False, highlight=False)
        chart = bars([(row.period.strftime(label), row.sent, cap)
                      for row, cap in zip(rows, row_caps, strict=True)])
        for line in chart:
            out.print(line, markup=False, highlight=False)


__all__ = ["caps", "stats"]
