"""``espkit dns ...``: the DNS records customers must publish, exported and checked.

    espkit dns export news.acme.com mail.acme.com --format bind
    espkit dns export --all --format csv --out records.csv
    espkit dns export --fleet fleet.yaml --format octodns --zone acme=acme.com --out-dir zones/
    espkit dns check --all --nameserver 192.0.2.53 --only-problems --lookup-timeout 5

Domains come from the account (named ones, ``--all``), or from a fleet file (``--fleet``: its
declared domains that exist in their connection's account, labelled with their customer; the
declared ones not found are listed on stderr). ``check`` exits 0 when every record is
published, 1 otherwise (and when a named domain is not in the account), 2 for bad input.

Names and records come from the ESP (and a fleet file), so an export checks them before it
writes anything (``espkit.dns.formats``, ``espkit.dns.files``): a domain whose name is not a
domain name (``../../x``), a record that cannot be written safely, or a symbolic link where
``--out-dir`` would write stops the export with exit 2 and an error naming it; nothing is
written, not even the files of the good domains. A refusal is never silent, and a directory
is never left half-updated.
"""

from __future__ import annotations

import contextlib
import ipaddress
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from espkit import dns as records
from espkit.account import Account
from espkit.cli.accounts import fleet_trust, trust_options
from espkit.cli.app import (
    EXIT_ESP,
    Ctx,
    clean,
    cli,
    emit,
    err,
    handled,
    out,
    pass_ctx,
    progress_option,
    to_plain,
)
from espkit.cli.tables import cell
from espkit.errors import ConfigError, NotFound
from espkit.fleet import Trust
from espkit.models import Domain

#: domains fetched at once when the list call leaves the records out (Mailgun's does)
FETCH_THREADS = 8

_STATUS_STYLE = {
    records.CheckStatus.PRESENT: "green",
    records.CheckStatus.MISSING: "yellow",
    records.CheckStatus.WRONG: "bold red",
    records.CheckStatus.ERROR: "magenta",
}


@cli.group()
def dns() -> None:
    """Export the DNS records customers must add; check they are published."""


# -- where the domains come from ---------------------------------------------------------------


class _Selection:
    """The domains to work on, each with its customer label, and the names not found."""

    def __init__(self) -> None:
        self.items: list[tuple[Domain, str | None]] = []
        self.not_found: list[str] = []
        self.named_not_found = False
        #: a fleet's sending domain -> its customer's own domain (the default DNS zone)
        self.zones: dict[str, str] = {}

    def report_not_found(self, what: str) -> None:
        if self.not_found:
            err.print(Text(f"{len(self.not_found)} {what} not found in the account: "
                           + ", ".join(clean(n) for n in self.not_found), style="yellow"))


def _domain_sources(fn: Any) -> Any:
    for decorator in reversed([
        click.argument("names", nargs=-1, metavar="[DOMAIN]..."),
        click.option("--all", "all_", is_flag=True, help="Every domain of the account."),
        click.option("--fleet", "fleet_path", type=click.Path(dir_okay=False, exists=True),
                     help="Every domain a fleet file declares, labelled with its customer."),
        trust_options,
    ]):
        fn = decorator(fn)
    return fn


def _select(ctx: Ctx, names: Sequence[str], all_: bool, fleet_path: str | None,
            trust: Trust | None = None) -> _Selection:
    given = sum([bool(names), all_, fleet_path is not None])
    if given == 0:
        raise ConfigError("name the domains, or pass --all or --fleet FILE")
    if given > 1:
        raise ConfigError("give domain names, --all or --fleet FILE: only one of them")
    selection = _Selection()
    if fleet_path is not None:
        _from_fleet(ctx, fleet_path, selection, trust)
        return selection
    account = ctx.account
    wanted: list[str | Domain] = [*dict.fromkeys(names)] if names else [*account.domains.list()]
    for item, domain in zip(wanted, _with_records(account, wanted), strict=True):
        if domain is None:
            selection.not_found.append(item if isinstance(item, str) else item.name)
            selection.named_not_found = True
        else:
            selection.items.append((domain, None))
    return selection


def _with_records(account: Account, wanted: Sequence[str | Domain]) -> list[Domain | None]:
    """Each domain with its DNS records (a list call may leave them out: fetched again),
    or None when it is not in the account."""

    def fetch(item: str | Domain) -> Domain | None:
        if isinstance(item, Domain) and item.dns_records:
            return item
        try:
            return account.domains.get(item if isinstance(item, str) else item.name)
        except NotFound:
            return None

    if len(wanted) <= 1:
        return [fetch(item) for item in wanted]
    with ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="espkit-dns-get") as pool:
        return list(pool.map(fetch, wanted))


def _from_fleet(ctx: Ctx, path: str, selection: _Selection, trust: Trust | None) -> None:
    from espkit import fleet
    from espkit.cli.accounts import open_connection

    try:
        declared = fleet.load(path, trust=trust)
    except NotImplementedError:  # pragma: no cover - until the fleet loader lands
        raise ConfigError("this espkit cannot read fleet files yet") from None
    wanted = list(declared.domains())
    for customer in declared.customers:
        selection.zones.update(customer.zones())
    found: dict[int, Domain] = {}
    # one account per connection, one scoped handle per subaccount; domains in file order
    scopes: dict[tuple[str, str | None], list[int]] = {}
    for index, desired in enumerate(wanted):
        scopes.setdefault((desired.connection, desired.subaccount), []).append(index)
    accounts: dict[str, Account] = {}
    sub_ids: dict[str, dict[str, str]] = {}  # connection -> subaccount name -> id
    try:
        for (connection, subaccount), indexes in scopes.items():
            if connection not in declared.connections:
                raise ConfigError(f"{path}: no connection named {connection!r}")
            if connection not in accounts:
                accounts[connection] = open_connection(ctx, declared.connections[connection])
            account = accounts[connection]
            if subaccount is not None:
                if connection not in sub_ids:  # one listing per connection, not per scope
                    sub_ids[connection] = account.subaccounts.ids_by_name()
                sub_id = sub_ids[connection].get(subaccount)
                if sub_id is None:  # the subaccount does not exist yet: nor do its domains
                    continue
                account = account.on_behalf_of(sub_id)
            names = [wanted[i].name for i in indexes]
            for index, domain in zip(indexes, _with_records(account, names), strict=True):
                if domain is not None:
                    found[index] = domain
    finally:
        for account in accounts.values():
            account.close()
    for index, desired in enumerate(wanted):
        if index in found:
            selection.items.append((found[index], desired.customer))
        else:
            selection.not_found.append(desired.name)


# -- export -----------------------------------------------------------------------------------


def _zones(pairs: Sequence[str]) -> dict[str, str]:
    zones: dict[str, str] = {}
    for pair in pairs:
        key, sep, zone = pair.partition("=")
        if not sep or not key.strip() or not zone.strip():
            raise ConfigError(f"--zone {pair!r}: expected CUSTOMER=ZONE or DOMAIN=ZONE")
        zones[key.strip()] = zone.strip().rstrip(".").lower()
    return zones


@dns.command("export")
@_domain_sources
@click.option("-f", "--format", "fmt", type=click.Choice(records.FORMATS),
              help="bind (zone-file lines), csv, json, or octodns (YAML per zone). "
                   "Default: bind, or json with -o json.")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write to this file instead of stdout.")
@click.option("--out-dir", type=click.Path(file_okay=False),
              help="octodns: write one <zone>.yaml per zone into this directory. Nothing is "
                   "written if a zone is not a domain name or a symbolic link is in the way.")
@click.option("--zone", "zone_pairs", multiple=True, metavar="KEY=ZONE",
              help="octodns: put the records of a customer (or of a domain) into this zone, "
                   "e.g. acme=acme.com (repeatable). Default: with --fleet, the customer's "
                   "domain; otherwise each sending domain is its own zone.")
@click.option("--ttl", type=click.IntRange(0, 2**31 - 1), default=records.DEFAULT_TTL,
              show_default=True, help="TTL of the bind and octodns records.")
@pass_ctx
@handled
def dns_export(ctx: Ctx, names: Sequence[str], all_: bool, fleet_path: str | None,
               fmt: str | None, out: str | None, out_dir: str | None,
               zone_pairs: Sequence[str], ttl: int, allow_host: Sequence[str],
               allow_env: Sequence[str], allow_keyring_service: Sequence[str],
               allow_path: Sequence[str]) -> None:
    """Write the records customers must publish, per domain, grouped by customer."""
    fmt = fmt or ("json" if ctx.output == "json" else "bind")
    if out and out_dir:
        raise ConfigError("--out and --out-dir: only one of them")
    if out_dir and fmt != "octodns":
        raise ConfigError("--out-dir writes octoDNS zone files: use it with --format octodns")
    zones = _zones(zone_pairs)
    trust = fleet_trust(allow_host, allow_env, allow_keyring_service, allow_path)
    selection = _select(ctx, names, all_, fleet_path, trust)
    # a fleet customer's own domain is the default zone of its sending domains, unless
    # --zone says otherwise for the domain or the customer
    for domain, customer in selection.items:
        fleet_zone = selection.zones.get(domain.name)
        if fleet_zone and domain.name not in zones and customer not in zones:
            zones[domain.name] = fleet_zone
    if out_dir:
        # every zone checked, and every file to replace, before the first file is written
        documents = records.to_octodns(selection.items, zones=zones, ttl=ttl)
        written = records.write_zone_files(documents, out_dir)
        err.print(Text(f"wrote {len(written)} zone file(s) to {clean(out_dir)}"))
    else:
        text = records.export(selection.items, fmt, zones=zones, ttl=ttl)
        if out and out != "-":
            Path(out).write_text(text)
            err.print(Text(f"wrote the records of {len(selection.items)} domain(s) to "
                           f"{clean(out)}"))
        else:
            click.echo(text, nl=False)
    selection.report_not_found("declared domain(s)" if fleet_path else "domain(s)")
    if selection.named_not_found:
        sys.exit(EXIT_ESP)


# -- check ------------------------------------------------------------------------------------


def _short(text: str, limit: int = 72) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _relative(host: str, domain: str) -> str:
    """``host`` as the customer types it into their DNS console under ``domain``."""
    if host == domain:
        return "@"
    return host[: -len(domain) - 1] if host.endswith("." + domain) else host


def _checks_table(rows: Sequence[tuple[records.RecordCheck, str | None]]) -> Table:
    with_customer = any(customer for _, customer in rows)
    t = Table(title=None)
    if with_customer:
        t.add_column("customer")
    t.add_column("domain", overflow="fold")
    t.add_column("record")
    t.add_column("host", overflow="fold")
    t.add_column("status")
    t.add_column("found / reason", overflow="fold")
    previous = None
    for c, customer in rows:
        # reasons and found values come from DNS servers: cleaned one by one, then joined
        detail = [clean(c.reason)] if c.reason else []
        if not c.ok:
            detail += [f"found: {_short(clean(f))}" for f in c.found]
        first = c.domain != previous  # the domain (and customer) once per group of rows
        if first and previous is not None:
            t.add_section()
        previous = c.domain
        cells = [cell(c.domain if first else ""), cell(f"{c.record.purpose} {c.record.type}"),
                 cell(_relative(c.record.host, c.domain)),
                 cell(c.status, _STATUS_STYLE[c.status]),
                 cell("\n".join(detail), multiline=True)]
        label = [cell(customer or "" if first else "")] if with_customer else []
        t.add_row(*label, *cells)
    return t


def _summary(checks: Iterable[records.RecordCheck], domains: int) -> str:
    counts = records.summary(checks)
    total = sum(counts.values())
    return (f"{total} record(s) of {domains} domain(s): "
            + ", ".join(f"{n} {status}" for status, n in counts.items()))


def check_nameservers(_ctx: click.Context, _param: click.Parameter, values: Sequence[str]
                 ) -> tuple[str, ...]:
    """Each ``--nameserver`` an IP address with an optional port, or a usage error (exit 2)
    before anything is looked up: a typo would otherwise time out on every record."""
    for value in values:
        try:
            address, _port = records.parse_nameserver(value)
            ipaddress.ip_address(address)
        except (ConfigError, ValueError):
            raise click.BadParameter(
                f"{clean(value)!r} is not IP, IP:PORT or [IPv6]:PORT (a nameserver is "
                "given by address, e.g. 192.0.2.53 or 127.0.0.1:5353)") from None
    return tuple(values)


def _deprecated(old: str, new: str, old_value: Any, new_value: Any, default: Any) -> Any:
    """The value of ``new``, or of its old name ``old`` (with a note on stderr)."""
    if old_value is None:
        return default if new_value is None else new_value
    if new_value is not None and new_value != old_value:
        raise click.UsageError(f"{old} is the old name of {new}: give one of them")
    err.print(Text(f"note: {old} is now {new} here; the old name will go", style="yellow"))
    return old_value


@dns.command("check")
@_domain_sources
@click.option("--nameserver", "nameservers", multiple=True, metavar="IP[:PORT]",
              callback=check_nameservers,
              help="Ask the DNS server at this address (repeatable). Default: the system's "
                   "resolver.")
@click.option("--lookup-timeout", type=click.FloatRange(min=0, min_open=True),
              help="Seconds one lookup may take.  [default: 2]")
@click.option("--timeout", "old_timeout", type=click.FloatRange(min=0, min_open=True),
              hidden=True)  # the old name of --lookup-timeout (--timeout is a whole wait)
@click.option("--max-concurrency", type=click.IntRange(1, 512),
              help=f"Cap on DNS lookups in flight.  [default: {records.DEFAULT_CONCURRENCY}]")
@click.option("--concurrency", "old_concurrency", type=click.IntRange(1, 512),
              hidden=True)  # the old name of --max-concurrency
@click.option("--only-problems", is_flag=True, help="Show only records not present.")
@progress_option
@pass_ctx
@handled
def dns_check(ctx: Ctx, names: Sequence[str], all_: bool, fleet_path: str | None,
              nameservers: Sequence[str], lookup_timeout: float | None,
              old_timeout: float | None, max_concurrency: int | None,
              old_concurrency: int | None, only_problems: bool, no_progress: bool,
              allow_host: Sequence[str], allow_env: Sequence[str],
              allow_keyring_service: Sequence[str], allow_path: Sequence[str]) -> None:
    """Look every required record up in live DNS: present, missing, wrong or error."""
    timeout = _deprecated("--timeout", "--lookup-timeout", old_timeout, lookup_timeout, 2.0)
    concurrency = _deprecated("--concurrency", "--max-concurrency", old_concurrency,
                              max_concurrency, records.DEFAULT_CONCURRENCY)
    trust = fleet_trust(allow_host, allow_env, allow_keyring_service, allow_path)
    # a spinner on stderr (the lookups report no progress of their own); never in JSON
    quiet = no_progress or ctx.output == "json" or not err.is_terminal
    with contextlib.nullcontext() if quiet else err.status("reading the domains ...") as status:
        selection = _select(ctx, names, all_, fleet_path, trust)
        if status is not None:
            count = sum(len(d.dns_records) for d, _ in selection.items)
            status.update(f"looking up {count} record(s) of {len(selection.items)} "
                          "domain(s) ...")
        customer = {d.name: label for d, label in selection.items}
        checks = records.check([d for d, _ in selection.items],
                               nameservers=nameservers or None, timeout=timeout,
                               concurrency=concurrency)
    rows = [(c, customer.get(c.domain)) for c in checks if not (only_problems and c.ok)]
    data = [{"customer": label, **to_plain(c)} for c, label in rows]
    emit(ctx, data, lambda: _checks_table(rows))
    summary = _summary(checks, len(selection.items))
    if ctx.output == "json":
        err.print(Text(summary))
    else:
        out.print(Text(summary))
    selection.report_not_found("declared domain(s)" if fleet_path else "domain(s)")
    if selection.named_not_found or not all(c.ok for c in checks):
        sys.exit(EXIT_ESP)


__all__ = ["dns", "dns_check", "dns_export"]
