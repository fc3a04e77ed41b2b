"""``espkit demo``: provision a small multi-customer fleet on the sandbox (the command, and
``run_demo``, its body).

Each customer gets a marketing and a transactional sending domain, each stream sends from its
own pool. The run is idempotent (re-running adopts what exists) and one rate limit is
simulated on the way, so the retry path is visible.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from espkit.account import Account, connect
from espkit.cli.app import Ctx, cli, handled, out, pass_ctx
from espkit.errors import AlreadyExists, ConfigError
from espkit.models import Domain, IpPool

COMPANIES = (
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "wonka", "stark",
    "wayne", "tyrell", "cyberdyne", "soylent", "oscorp", "gringotts", "monarch", "duff",
    "krusty", "nakatomi", "massive", "pied-piper",
)
STREAMS = (("marketing", "news"), ("transactional", "mail"))


def customer_slug(i: int) -> str:
    base = COMPANIES[i % len(COMPANIES)]
    return base if i < len(COMPANIES) else f"{base}{i // len(COMPANIES) + 1}"


def _pool(acct: Account, name: str, ips: list[str]) -> IpPool:
    try:
        return acct.pools.create(name, ips=ips, description=f"{name} stream")
    except AlreadyExists:
        return acct.pools.get(name)


def _domain(acct: Account, name: str) -> Domain:
    try:
        return acct.domains.create(name)
    except AlreadyExists:
        return acct.domains.get(name)


def run_demo(path: str | None, customers: int, console: Console, json_output: bool = False) -> \
        dict[str, Any]:
    options: dict[str, Any] = {"path": path} if path else {}
    acct = connect("sandbox", **options)
    emulator = getattr(acct.provider, "emulator", None)
    if emulator is not None:
        # one throttle on the way, to show the client waiting it out instead of failing
        emulator.inject("429", method="POST", path="/v1/domains", times=1)

    ips = [ip.address for ip in acct.ips.list() if ":" not in ip.address]
    half = max(1, len(ips) // 2)
    pools = {
        "marketing": _pool(acct, "marketing", ips[:half]),
        "transactional": _pool(acct, "transactional", ips[half:half * 2]),
    }

    rows: list[dict[str, Any]] = []
    with Progress(
        TextColumn("[bold]provisioning"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, disable=json_output,
    ) as progress:
        task = progress.add_task("", total=customers * len(STREAMS))
        for i in range(customers):
            slug = customer_slug(i)
            for stream, label in STREAMS:
                name = f"{label}.{slug}.example"
                progress.update(task, description=name)
                d = _domain(acct, name)
                acct.domains.assign(name, pool=stream)
                d = acct.domains.verify(name)
                rows.append({
                    "customer": slug, "stream": stream, "domain": d.name,
                    "pool": pools[stream].name, "records": len(d.dns_records),
                    "state": str(d.state),
                })
                progress.advance(task)

    transport = getattr(acct.provider, "transport", None)
    stats = dict(transport.stats) if transport is not None else {}
    report = {"domains": rows, "pools": {k: list(p.ips) for k, p in pools.items()},
              "http": stats}
    if json_output:
        console.print_json(json.dumps(report))
        return report

    table = Table("customer", "stream (pool)", title=f"{customers} customers on the sandbox",
                  box=box.SIMPLE)
    table.add_column("domain", no_wrap=True)
    table.add_column("records")
    table.add_column("state")
    for r in rows:
        table.add_row(r["customer"], r["pool"], r["domain"], str(r["records"]), r["state"])
    console.print(table)
    for name, pool in pools.items():
        console.print(f"pool [bold]{name}[/]: {', '.join(pool.ips)}")
    console.print(
        f"{stats.get('requests', 0)} requests, {stats.get('throttled', 0)} rate-limited "
        f"(429) and retried, {stats.get('retries', 0)} retries in all"
    )
    first = acct.domains.get(rows[0]["domain"])
    console.print(f"\nDNS records for {first.name}:")
    for rec in first.dns_records:
        prio = f" {rec.priority}" if rec.priority is not None else ""
        console.print(f"  {rec.purpose:<9} {rec.type:<5} {rec.host} ->{prio} {rec.value[:60]}")
    acct.close()
    return report


@cli.command("demo")
@click.option("--customers", type=click.IntRange(1, 500), default=20, show_default=True)
@pass_ctx
@handled
def demo(ctx: Ctx, customers: int) -> None:
    """Provision a small fleet on the sandbox and show it."""
    if ctx.provider != "sandbox":
        raise ConfigError("the demo runs on the sandbox only (use --provider sandbox)")
    run_demo(ctx.options.get("path"), customers, out, json_output=ctx.output == "json")


__all__ = ["COMPANIES", "STREAMS", "customer_slug", "demo", "run_demo"]
