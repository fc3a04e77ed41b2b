"""``espkit domains verify``: ask the ESP to check domains' DNS records, once or (with
``--wait``) until verified, with a live display on stderr and a report on stdout.

    espkit domains verify news.acme.com
    espkit domains verify --from-file domains.csv --wait --timeout 1800
    espkit domains verify --fleet fleet.yaml --wait

With ``-o json`` the output is always the verification report (``{"ok", "counts",
"results": [...]}``), a list of results even for one name; the table of one name without
``--wait`` shows its DNS records instead. Named domains and ``--from-file`` ones are checked
in the global options' account (``--subaccount`` by name or id);
``--fleet`` checks the fleet file's domains, each in its connection and subaccount (the
accounts opened as ``espkit apply`` opens them). The command is added to the ``domains``
group.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import click
from rich.table import Table

from espkit.cli.accounts import fleet_trust, open_accounts, trust_options
from espkit.cli.app import (
    EXIT_ESP,
    Ctx,
    emit,
    err,
    escape,
    handled,
    out,
    pass_ctx,
    progress_option,
)
from espkit.cli.domains import domains
from espkit.cli.tables import records_table
from espkit.errors import ConfigError
from espkit.fleet import Trust
from espkit.verify import (
    VerificationInterrupted,
    VerificationReport,
    WaitProgress,
    describe_records,
    verify_once,
    wait_until_verified,
)


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
@progress_option
@trust_options
@pass_ctx
@handled
def domains_verify(ctx: Ctx, names: Sequence[str], from_file: str | None,
                   fleet_path: str | None, wait: bool, timeout: float, poll: float | None,
                   interval: float | None, no_progress: bool, allow_host: Sequence[str],
               allow_env: Sequence[str], allow_keyring_service: Sequence[str],
               allow_path: Sequence[str]) -> None:
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
        _verify_fleet(ctx, fleet_path, names, wait, timeout, every, no_progress,
                      fleet_trust(allow_host, allow_env, allow_keyring_service, allow_path))
        return
    items: list[Any] = list(names)
    if from_file is not None:
        items.extend(read_items(from_file))
    if not items:
        raise click.UsageError("give at least one NAME, --from-file FILE or --fleet FLEET")
    if not wait and len(items) == 1 and from_file is None and ctx.output != "json":
        # one name, for a person: the domain's records, what to publish (JSON is the
        # report, however many names: one shape for scripts)
        d = ctx.account.domains.verify(items[0])
        emit(ctx, d, lambda: records_table(d))
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
                  timeout: float, poll: float, no_progress: bool, trust: Trust) -> None:
    """``domains verify --fleet``: the fleet's accounts opened as ``espkit apply`` opens
    them (the global --sandbox-db for sandbox connections without a path of their own)."""
    from espkit import fleet as fleet_file
    from espkit.verify import for_fleet as _for_fleet

    if ctx.subaccount:
        raise ConfigError("--subaccount does not apply with --fleet: the fleet file says "
                          "which subaccount each domain is in")
    fleet = fleet_file.load(fleet_path, trust=trust)
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


__all__ = ["domains_verify"]
