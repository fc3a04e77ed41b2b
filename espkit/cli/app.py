"""The ``espkit`` command line: tables for people, ``--output json`` for scripts.

Errors print as one line on stderr (a traceback only with ``--debug``). Exit codes:
0 ok, 1 the ESP refused or failed, 2 bad input or configuration, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

try:
    import click
    from rich import box
    from rich.console import Console
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise SystemExit(
        "the espkit command line needs its extra: pip install 'espkit[cli]'"
    ) from exc

import attrs

from espkit import credentials
from espkit import providers as registry
from espkit.account import Account, connect
from espkit.errors import ConfigError, EspError, EspkitError
from espkit.models import Capability, Domain
from espkit.verify import (
    VerificationInterrupted,
    VerificationReport,
    WaitProgress,
    describe_records,
    verify_once,
    wait_until_verified,
)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ESP = 1
EXIT_CONFIG = 2

out = Console()
err = Console(stderr=True)


class Ctx:
    """What the global options say; the account is opened on first use."""

    def __init__(self, provider: str, options: dict[str, Any], output: str,
                 subaccount: str | None, debug: bool) -> None:
        self.provider = provider
        self.options = options
        self.output = output
        self.subaccount = subaccount
        self.debug = debug
        self._account: Account | None = None

    @property
    def account(self) -> Account:
        if self._account is None:
            acct = connect(self.provider, **self.options)
            self._account = acct.on_behalf_of(self.subaccount) if self.subaccount else acct
        return self._account


def to_plain(value: Any) -> Any:
    """Models -> JSON-ready data (``raw`` payloads left out)."""
    if attrs.has(type(value)):
        return {
            f.name: to_plain(getattr(value, f.name))
            for f in attrs.fields(type(value)) if f.name != "raw"
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def emit(ctx: Ctx, data: Any, table: Callable[[], Table] | None = None) -> None:
    if ctx.output == "json" or table is None:
        click.echo(json.dumps(to_plain(data), indent=2))
    else:
        out.print(table())


def fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(code)


def handled(fn: F) -> F:
    """Turn espkit errors into one readable line and an exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Ctx)
        try:
            return fn(*args, **kwargs)
        except EspkitError as exc:
            if ctx is not None and ctx.debug:
                raise
            fail(escape(str(exc)), EXIT_ESP if isinstance(exc, EspError) else EXIT_CONFIG)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


def escape(text: str) -> str:
    return text.replace("[", r"\[")


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--provider", envvar="ESPKIT_PROVIDER", default="sandbox", show_default=True,
              help="ESP to talk to: " + ", ".join(registry.names()) + ".")
@click.option("--region", envvar="ESPKIT_REGION", help="ESP region, e.g. us or eu.")
@click.option("--base-url", help="Override the API base URL (proxy or local mock).")
@click.option("--sandbox-db", type=click.Path(dir_okay=False),
              help="Sandbox state file (':memory:' for none).")
@click.option("--subaccount", help="Act on behalf of this subaccount id.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP debug logs.")
@click.version_option(package_name="espkit")
@click.pass_context
def cli(click_ctx: click.Context, provider: str, region: str | None, base_url: str | None,
        sandbox_db: str | None, subaccount: str | None, output: str, debug: bool) -> None:
    """Manage sending domains, DNS records, dedicated IPs, pools and subaccounts on any ESP."""
    options: dict[str, Any] = {}
    if provider == "sandbox":
        if sandbox_db:
            options["path"] = sandbox_db
    else:
        if region:
            options["region"] = region
        if base_url:
            options["base_url"] = base_url
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
    click_ctx.obj = Ctx(provider, options, output, subaccount, debug)


# -- domains ---------------------------------------------------------------------------------

@cli.group()
def domains() -> None:
    """Sending domains and the DNS records they need."""


def _domains_table(items: Iterable[Domain]) -> Table:
    t = Table("domain", "state", "records valid", "id", title=None)
    for d in items:
        valid = sum(r.valid for r in d.dns_records)
        t.add_row(d.name, str(d.state), f"{valid}/{len(d.dns_records)}", d.id or "")
    return t


def _records_table(d: Domain) -> Table:
    # fold rather than truncate: a person copies these values into their DNS
    t = Table("purpose", "type", title=f"{d.name}  [{d.state}]")
    t.add_column("host", overflow="fold")
    t.add_column("value", overflow="fold")
    t.add_column("priority")
    t.add_column("status")
    for r in d.dns_records:
        t.add_row(str(r.purpose), r.type, r.host, r.value,
                  "" if r.priority is None else str(r.priority), str(r.status))
    return t


@domains.command("list")
@click.option("--limit", type=int, help="Stop after this many.")
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
@click.option("--dkim-key-size", type=click.Choice(["1024", "2048"]))
@click.option("--dkim-selector")
@click.option("--spam-action", type=click.Choice(["disabled", "block", "tag"]))
@click.option("--wildcard/--no-wildcard", default=None)
@click.option("--web-scheme", type=click.Choice(["http", "https"]))
@click.option("--web-prefix")
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
    emit(ctx, d, lambda: _records_table(d))


@domains.command("show")
@click.argument("name")
@pass_ctx
@handled
def domains_show(ctx: Ctx, name: str) -> None:
    """Show a domain and its DNS records."""
    d = ctx.account.domains.get(name)
    emit(ctx, d, lambda: _records_table(d))


@domains.command("verify")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Also the names in FILE: one a line, CSV with a name column, JSON or "
                   "JSON Lines ('-' reads stdin).")
@click.option("--fleet", "fleet_path", type=click.Path(dir_okay=False, exists=True),
              metavar="FLEET",
              help="Every domain the fleet file FLEET declares, in its subaccounts and "
                   "connections (NAMEs restrict it to those).")
@click.option("--wait", is_flag=True,
              help="Keep re-checking the unverified ones until all are verified or --timeout.")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="With --wait: seconds to wait in all; the last check is at the deadline.")
@click.option("--poll", type=float, default=None,
              help="With --wait: seconds before the second check, then 1.5 times longer each "
                   "round up to 300 s.  [default: 15]")
@click.option("--interval", type=float, default=None, hidden=True)  # the old name of --poll
@click.option("--no-progress", is_flag=True, help="No progress display.")
@pass_ctx
@handled
def domains_verify(ctx: Ctx, names: Sequence[str], from_file: str | None,
                   fleet_path: str | None, wait: bool, timeout: float, poll: float | None,
                   interval: float | None, no_progress: bool) -> None:
    """Ask the ESP to check the DNS records of each NAME now; with --wait, until verified.

    With --fleet FLEET: every domain the fleet file declares (or the NAMEs among them), each
    in its subaccount and connection; one not in the account yet is reported failed (run
    `espkit apply FLEET` first).

    Exit code 0 when every domain is verified, 1 when some are pending or failed, 2 for bad
    input, 130 after Ctrl-C (the report so far is printed).
    """
    from espkit.bulk import read_items

    if interval is not None:
        if poll is not None and poll != interval:
            raise ConfigError("--interval is the old name of --poll: give one of them")
        poll = interval
    every = 15.0 if poll is None else poll
    if fleet_path is not None:
        if from_file is not None:
            raise click.UsageError("give --fleet FLEET or --from-file FILE, not both")
        _verify_fleet(ctx, fleet_path, names, wait, timeout, every, no_progress)
        return
    items: list[Any] = list(names)
    if from_file is not None:
        items.extend(read_items(from_file))
    if not items:
        raise click.UsageError("give at least one NAME, --from-file FILE or --fleet FLEET")
    if not wait and len(items) == 1 and from_file is None:
        d = ctx.account.domains.verify(items[0])
        emit(ctx, d, lambda: _records_table(d))
        if not d.verified:
            sys.exit(EXIT_ESP)
        return
    display = None if no_progress or ctx.output == "json" else _VerifyDisplay(wait)
    try:
        with display or contextlib.nullcontext():
            on_progress = display.update if display else None
            if wait:
                report = wait_until_verified(
                    ctx.account, items, timeout=timeout, poll=every,
                    max_poll=max(300.0, every), on_progress=on_progress)
            else:
                report = verify_once(ctx.account, items, on_progress=on_progress)
    except VerificationInterrupted as stop:
        _show_verification(ctx, stop.report)
        err.print(f"[yellow]{escape(str(stop))}[/]", highlight=False)
        sys.exit(130)
    _show_verification(ctx, report)
    if not report.ok:
        sys.exit(EXIT_ESP)


def _verify_fleet(ctx: Ctx, fleet_path: str, names: Sequence[str], wait: bool,
                  timeout: float, poll: float, no_progress: bool) -> None:
    """``domains verify --fleet``: the fleet's accounts opened as ``espkit apply`` opens
    them (the global --sandbox-db for sandbox connections without a path of their own)."""
    from espkit import fleet as fleet_file
    from espkit.cli.fleet import open_accounts
    from espkit.verify import for_fleet as _for_fleet

    if ctx.subaccount:
        raise ConfigError("--subaccount does not apply with --fleet: the fleet file says "
                          "which subaccount each domain is in")
    fleet = fleet_file.load(fleet_path)
    display = None if no_progress or ctx.output == "json" else _VerifyDisplay(wait)
    try:
        with open_accounts(ctx, fleet) as accounts, display or contextlib.nullcontext():
            report = _for_fleet(
                fleet, accounts, timeout=timeout, poll=poll, max_poll=max(300.0, poll),
                backoff=1.5, on_progress=display.update if display else None,
                sleep=time.sleep, clock=time.monotonic, names=names or None, once=not wait)
    except VerificationInterrupted as stop:
        _show_verification(ctx, stop.report, fleet_path)
        err.print(f"[yellow]{escape(str(stop))}[/]", highlight=False)
        sys.exit(130)
    _show_verification(ctx, report, fleet_path)
    if not report.ok:
        sys.exit(EXIT_ESP)


class _VerifyDisplay:
    """rich progress on stderr: verified/total, round, the check under way or the countdown
    to the next one, elapsed."""

    def __init__(self, wait: bool) -> None:
        import math
        import time

        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        self.clock = time.monotonic

        class Status(ProgressColumn):
            # re-rendered about ten times a second: the countdown moves between updates
            def render(self, task: Any) -> Text:
                f = task.fields
                if f.get("checking"):
                    text = f"round {f['round']}: checking {f['checked']}/{f['to_check']}"
                elif f.get("next_at") is not None:
                    left = math.ceil(max(0.0, f["next_at"] - time.monotonic()))
                    text = f"round {f['round']}, next in {left} s"
                else:
                    text = f"round {f.get('round', 0)}"
                if f.get("failed"):
                    text += f", {f['failed']} failed"
                return Text(text)

        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=20),
            MofNCompleteColumn(), TextColumn("verified"), Status(), TimeElapsedColumn(),
            console=err, transient=False,
        )
        self.description = "waiting" if wait else "verifying"
        self.task: Any = None

    def __enter__(self) -> _VerifyDisplay:
        return self  # started by the first update: nothing shows if the input is refused

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, p: WaitProgress) -> None:
        fields: dict[str, Any] = {
            "round": p.round, "checking": p.checking, "checked": p.checked,
            "to_check": p.to_check, "failed": p.failed,
            "next_at": None if p.next_check_in is None else self.clock() + p.next_check_in,
        }
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=p.total,
                                          completed=p.verified, **fields)
        else:
            self.bar.update(self.task, total=p.total, completed=p.verified, **fields)


#: with more domains than this, the table leaves the verified ones out (JSON has them all)
_VERIFY_TABLE_ALL = 50


def _show_verification(ctx: Ctx, report: VerificationReport,
                       fleet_path: str | None = None) -> None:
    from rich.text import Text

    if ctx.output == "json":
        click.echo(report.to_json(indent=2))
        return
    rows = list(report.results)
    if len(rows) > _VERIFY_TABLE_ALL:
        rows = [r for r in rows if not r.verified]
    if rows:
        scoped = any(r.scope is not None for r in report.results)
        t = Table("domain", title="verification")
        if scoped:
            t.add_column("subaccount", overflow="fold")
        t.add_column("outcome")
        t.add_column("failing records or error", overflow="fold")
        for r in rows:
            if r.error is not None:
                why = f"{type(r.error).__name__}: {r.error}"
            elif r.verified:
                why = ""
            else:
                why = describe_records(r.failing).replace(", ", "\n")
            cells = [r.domain, *([r.scope or ""] if scoped else []), str(r.outcome),
                     escape(why)]
            t.add_row(*cells)
        out.print(t)
    counts = report.counts()
    line = (f"{counts['verified']} of {len(report.results)} domain(s) verified, "
            f"{counts['pending']} pending, {counts['failed']} failed "
            f"({report.rounds} round(s), {report.elapsed:.0f} s)")
    hidden = len(report.results) - len(rows)
    if hidden:
        line += f"; {hidden} verified domain(s) not listed (-o json lists every one)"
    out.print(Text(line), soft_wrap=True)
    if report.pending:
        if fleet_path is not None:
            check = f"espkit dns check --fleet {fleet_path} --only-problems"
        else:
            some = " ".join(r.domain for r in report.pending[:5])
            more = " ..." if len(report.pending) > 5 else ""
            check = f"espkit dns check --only-problems {some}{more}"
        out.print(Text(f"next: publish the failing records, see what DNS serves with "
                       f"`{check}`, then verify again"), soft_wrap=True)


@domains.command("delete")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handled
def domains_delete(ctx: Ctx, name: str, yes: bool) -> None:
    """Delete a domain."""
    if not yes:
        click.confirm(f"Delete {name} from {ctx.provider}?", abort=True)
    ctx.account.domains.delete(name)
    emit(ctx, {"deleted": name}, lambda: _message(f"deleted {name}"))


def _message(text: str) -> Table:
    t = Table.grid()
    t.add_row(text)
    return t


# -- assignment ------------------------------------------------------------------------------

@cli.command("assign")
@click.argument("domain")
@click.option("--pool")
@click.option("--ip")
@pass_ctx
@handled
def assign(ctx: Ctx, domain: str, pool: str | None, ip: str | None) -> None:
    """Make DOMAIN send from a pool (--pool) or a dedicated IP (--ip)."""
    a = ctx.account.domains.assign(domain, pool=pool, ip=ip)
    emit(ctx, a, lambda: _message(f"{a.domain} now sends from {a.kind} {a.target}"))


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
         lambda: _message(f"{domain} no longer sends from {target}"))


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


# -- IPs and pools ---------------------------------------------------------------------------

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
@click.option("--description")
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
@click.option("--replacement", help="IP, pool or 'shared' for the pool's domains.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handled
def pools_delete(ctx: Ctx, name: str, replacement: str | None, yes: bool) -> None:
    """Delete an IP pool."""
    if not yes:
        click.confirm(f"Delete pool {name} from {ctx.provider}?", abort=True)
    ctx.account.pools.delete(name, replacement=replacement)
    emit(ctx, {"deleted": name}, lambda: _message(f"deleted pool {name}"))


# -- subaccounts -----------------------------------------------------------------------------

@cli.group()
def subaccounts() -> None:
    """Subaccounts (one per customer, typically)."""


def _subs_table(items: Sequence[Any]) -> Table:
    t = Table("id", "name", "enabled")
    for s in items:
        t.add_row(s.id, s.name, "yes" if s.enabled else "no")
    return t


@subaccounts.command("list")
@pass_ctx
@handled
def subaccounts_list(ctx: Ctx) -> None:
    """List subaccounts."""
    items = list(ctx.account.subaccounts.list())
    emit(ctx, items, lambda: _subs_table(items))


@subaccounts.command("create")
@click.argument("name")
@pass_ctx
@handled
def subaccounts_create(ctx: Ctx, name: str) -> None:
    """Create a subaccount."""
    s = ctx.account.subaccounts.create(name)
    emit(ctx, s, lambda: _subs_table([s]))


@subaccounts.command("show")
@click.argument("subaccount_id")
@pass_ctx
@handled
def subaccounts_show(ctx: Ctx, subaccount_id: str) -> None:
    """Show one subaccount."""
    s = ctx.account.subaccounts.get(subaccount_id)
    emit(ctx, s, lambda: _subs_table([s]))


@subaccounts.command("enable")
@click.argument("subaccount_id")
@pass_ctx
@handled
def subaccounts_enable(ctx: Ctx, subaccount_id: str) -> None:
    """Enable a subaccount."""
    s = ctx.account.subaccounts.enable(subaccount_id)
    emit(ctx, s, lambda: _subs_table([s]))


@subaccounts.command("disable")
@click.argument("subaccount_id")
@pass_ctx
@handled
def subaccounts_disable(ctx: Ctx, subaccount_id: str) -> None:
    """Disable a subaccount."""
    s = ctx.account.subaccounts.disable(subaccount_id)
    emit(ctx, s, lambda: _subs_table([s]))


# -- account-level ---------------------------------------------------------------------------

@cli.command("capabilities")
@pass_ctx
@handled
def capabilities(ctx: Ctx) -> None:
    """What each provider supports natively."""
    from espkit.capabilities import matrix

    rows = matrix()
    for r in rows:
        if r.unavailable:
            err.print(f"[yellow]{escape(r.unavailable)}[/]")
    rows = [r for r in rows if not r.unavailable]
    data = {r.name: sorted(str(c) for c in r.supports) for r in rows}

    def table() -> Table:
        # compact, so that many providers still fit a terminal without folding names
        t = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
        t.add_column("capability", overflow="fold")
        for r in rows:
            t.add_column(r.name, justify="center", no_wrap=True, min_width=len(r.name))
        for cap in Capability:
            t.add_row(str(cap), *("yes" if cap in r.supports else "-" for r in rows))
        return t

    emit(ctx, data, table)


@cli.command("login")
@click.argument("provider")
@click.option("--profile", help="Store under a named profile (several accounts).")
@click.option("--key-stdin", is_flag=True, help="Read the key from standard input.")
@handled
def login(provider: str, profile: str | None, key_stdin: bool) -> None:
    """Store PROVIDER's API key in the system keyring."""
    name = registry.get(provider).name
    key = sys.stdin.readline().strip() if key_stdin else click.prompt(
        f"{name} API key", hide_input=True)
    if not key:
        raise ConfigError("no key given")
    try:
        credentials.store(name, key, profile)
    except Exception as exc:
        raise ConfigError(f"could not write to the system keyring: {type(exc).__name__}: "
                          f"{exc}") from None
    click.echo(f"stored the {name} key in the keyring (service {credentials.KEYRING_SERVICE!r},"
               f" user {credentials.keyring_username(name, profile)!r})")


@cli.command("demo")
@click.option("--customers", type=click.IntRange(1, 500), default=20, show_default=True)
@pass_ctx
@handled
def demo(ctx: Ctx, customers: int) -> None:
    """Provision a small fleet on the sandbox and show it."""
    from espkit.cli.demo import run_demo

    if ctx.provider != "sandbox":
        raise ConfigError("the demo runs on the sandbox only (use --provider sandbox)")
    run_demo(ctx.options.get("path"), customers, out, json_output=ctx.output == "json")


__all__ = ["EXIT_CONFIG", "EXIT_ESP", "Ctx", "cli", "emit", "err", "escape", "fail", "handled",
           "out", "pass_ctx", "to_plain"]
