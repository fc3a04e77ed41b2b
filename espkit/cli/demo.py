"""``espkit demo``: provision a small multi-customer fleet on the sandbox (the command, and
``run_demo``, its body).

Each customer gets a marketing and a transactional sending domain, each stream sends from its
own pool. The run is idempotent (re-running adopts what exists) and one rate limit is
simulated on the way, so the retry path is visible.

The fleet stays in the sandbox's state file for the commands after it, so the demo ends by
saying where that file is and how to empty it (``espkit sandbox reset``): a newcomer's next
snippet otherwise meets the demo's domains without knowing where they came from.
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
from espkit.cli.app import Ctx, cli, err, handled, out, pass_ctx, progress_option
from espkit.cli.sandbox import reset_hint
from espkit.errors import AlreadyExists, ConfigError
from espkit.models import Domain, IpPool
from espkit.providers.sandbox import default_path
from espkit.sandbox.database import MEMORY

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


def run_demo(path: str | None, customers: int, console: Console, json_output: bool = False,
             progress: Console | None = None) -> dict[str, Any]:
    """Provision the demo fleet on the sandbox at ``path`` (None: the default file) and
    print it on ``console`` (or its JSON, with ``json_output``); ``progress``: the console
    for the progress bar (stderr, so stdout stays the report), None for none."""
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
        console=progress or console, disable=json_output or progress is None,
    ) as bar:
        task = bar.add_task("", total=customers * len(STREAMS))
        for i in range(customers):
            slug = customer_slug(i)
            for stream, label in STREAMS:
                name = f"{label}.{slug}.example"
                bar.update(task, description=name)
                d = _domain(acct, name)
                acct.domains.assign(name, pool=stream)
                d = acct.domains.verify(name)
                rows.append({
                    "customer": slug, "stream": stream, "domain": d.name,
                    "pool": pools[stream].name, "records": len(d.dns_records),
                    "state": str(d.state),
                })
                bar.advance(task)

    transport = getattr(acct.provider, "transport", None)
    stats = dict(transport.stats) if transport is not None else {}
    state = path or default_path()
    kept = state != MEMORY
    report = {"domains": rows, "pools": {k: list(p.ips) for k, p in pools.items()},
              "http": stats,
              "sandbox": {"path": state, "reset": reset_hint(state) if kept else None}}
    if json_output:
        console.print_json(json.dumps(report))
        acct.close()
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
    if kept:
        console.print(f"\nThe sandbox keeps this fleet in {state}: the next espkit commands "
                      f"see it, and running the demo again adopts it. Start afresh with: "
                      f"{reset_hint(state)} --yes", markup=False, highlight=False,
                      soft_wrap=True)
    else:
        console.print("\nThe sandbox was in memory: nothing was kept.", markup=False)
    acct.close()
    return report


@cli.command("demo")
@click.option("--customers", type=click.IntRange(1, 500), default=20, show_default=True,
              help="How many demo customers to provision (two domains each).")
@progress_option
@pass_ctx
@handled
def demo(ctx: Ctx, customers: int, no_progress: bool) -> None:
    """Provision a small fleet on the sandbox and show it; says where the sandbox keeps it."""
    if ctx.provider != "sandbox":
        raise ConfigError("the demo runs on the sandbox only (use --provider sandbox)")
    run_demo(ctx.options.get("path"), customers, out, json_output=ctx.output == "json",
             progress=None if no_progress else err)


__all__ = ["COMPANIES", "STREAMS", "customer_slug", "demo", "run_demo"]
