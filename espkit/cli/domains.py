"""``espkit domains ...``: the sending domains of the account and the DNS records they need.

    espkit domains list --limit 20
    espkit domains create news.acme.com --pool marketing
    espkit domains show news.acme.com
    espkit domains delete news.acme.com --yes

The group ``domains`` is public: ``espkit domains verify`` (in ``espkit.cli.verify``) is
added to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click
from rich.table import Table

from espkit.cli.app import Ctx, cli, confirm, emit, handled, pass_ctx, yes_option
from espkit.cli.tables import message, records_table
from espkit.models import Domain


@cli.group()
def domains() -> None:
    """Sending domains and the DNS records they need."""


def _domains_table(items: Iterable[Domain]) -> Table:
    t = Table("domain", "state", "records valid", "id", title=None)
    for d in items:
        valid = sum(r.valid for r in d.dns_records)
        t.add_row(d.name, str(d.state), f"{valid}/{len(d.dns_records)}", d.id or "")
    return t


@domains.command("list")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="List at most N domains (N from 1).")
@pass_ctx
@handled
def domains_list(ctx: Ctx, limit: int | None) -> None:
    """List every domain of the account."""
    items: list[Domain] = []
    for d in ctx.account.domains.list():
        if limit is not None and len(items) >= limit:
            break
        items.append(d)
    emit(ctx, items, lambda: _domains_table(items))


@domains.command("create")
@click.argument("name")
@click.option("--dkim-key-size", type=click.Choice(["1024", "2048"]),
              help="Bits of the DKIM key the ESP makes.")
@click.option("--dkim-selector", help="The DKIM selector (the host is SELECTOR._domainkey).")
@click.option("--spam-action", type=click.Choice(["disabled", "block", "tag"]),
              help="What the ESP does with mail its spam filter flags.")
@click.option("--wildcard/--no-wildcard", default=None,
              help="Whether subdomains may send as the domain too.")
@click.option("--web-scheme", type=click.Choice(["http", "https"]),
              help="Scheme of the click- and open-tracking links.")
@click.option("--web-prefix", help="Host label of the tracking links (e.g. email).")
@click.option("--pool", help="Send from this IP pool.")
@click.option("--ip", "ips", multiple=True, help="Send from this dedicated IP (repeatable).")
@pass_ctx
@handled
def domains_create(ctx: Ctx, name: str, dkim_key_size: str | None, dkim_selector: str | None,
                   spam_action: str | None, wildcard: bool | None, web_scheme: str | None,
                   web_prefix: str | None, pool: str | None, ips: Sequence[str]) -> None:
    """Create a domain and print the DNS records to publish."""
    d = ctx.account.domains.create(
        name, dkim_key_size=int(dkim_key_size) if dkim_key_size else None,
        dkim_selector=dkim_selector, spam_action=spam_action, wildcard=wildcard,
        web_scheme=web_scheme, web_prefix=web_prefix, pool=pool, ips=ips,
    )
    emit(ctx, d, lambda: records_table(d))


@domains.command("show")
@click.argument("name")
@pass_ctx
@handled
def domains_show(ctx: Ctx, name: str) -> None:
    """Show a domain and its DNS records."""
    d = ctx.account.domains.get(name)
    emit(ctx, d, lambda: records_table(d))


@domains.command("delete")
@click.argument("name")
@yes_option
@pass_ctx
@handled
def domains_delete(ctx: Ctx, name: str, yes: bool) -> None:
    """Delete a domain."""
    confirm(yes, f"delete {name} from {ctx.provider}")
    ctx.account.domains.delete(name)
    emit(ctx, {"deleted": name}, lambda: message(f"deleted {name}"))


__all__ = ["domains", "domains_create", "domains_delete", "domains_list", "domains_show"]
