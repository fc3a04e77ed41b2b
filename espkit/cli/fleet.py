"""``espkit plan`` / ``espkit apply``: a fleet file made real, octoDNS-style.

    espkit plan fleet.yaml                 # what would change; changes nothing
    espkit apply fleet.yaml                # shows the plan, asks, applies
    espkit apply fleet.yaml --yes          # for CI; --force for plans over the safety share

The accounts come from the fleet file's ``connections``, opened by ``espkit.cli.accounts``:
a sandbox connection without its own ``path`` uses the global ``--sandbox-db`` when given.
A connection may send its key only to its provider's own API hosts and read only its own
variables, keyring entries and files (``espkit.fleet.trust``) unless ``--allow-host``,
``--allow-env``, ``--allow-keyring-service``, ``--allow-path`` (or ``$ESPKIT_ALLOW_*``)
say otherwise: the file comes from whoever opened the pull request, the options do not.
Exit codes: 0 done (or nothing to do), 1 some changes failed or conflicts remain, 2 bad file
or an unsafe plan without ``--force``, 130 interrupted; ``plan --exit-code`` exits 3 when the
accounts differ from the file.
"""

from __future__ import annotations

import contextlib
import sys

import attrs
import click
from rich.table import Table

from espkit import fleet as fleet_file
from espkit.account import Account
from espkit.bulk import BulkInterrupted, Progress
from espkit.cli.accounts import fleet_trust, open_accounts, trust_options
from espkit.cli.app import (
    EXIT_CONFIG,
    EXIT_ESP,
    Ctx,
    cli,
    confirm,
    err,
    escape,
    handled,
    out,
    pass_ctx,
    progress_option,
    yes_option,
)
from espkit.cli.progress import ProgressBar
from espkit.errors import TooMuchChange
from espkit.fleet import Action, ApplyReport, Plan, apply, plan
from espkit.fleet.planner import runs

_COLOURS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.ASSIGN: "cyan",
            Action.DELETE: "red", Action.START: "magenta", Action.STOP: "magenta"}
FLEET = click.argument("fleet_path", metavar="FLEET", type=click.Path(dir_okay=False))
DELETE_UNKNOWN = click.option(
    "--delete-unknown", is_flag=True,
    help="Also delete domains and pools the file neither declares nor owns.")


def _read_plan(ctx: Ctx, accounts: dict[str, Account], fleet: fleet_file.Fleet,
               delete_unknown: bool, no_progress: bool) -> Plan:
    quiet = no_progress or ctx.output == "json" or not err.is_terminal
    status = contextlib.nullcontext() if quiet else err.status("reading the accounts ...")
    with status:
        return plan(fleet, accounts, delete_unknown=delete_unknown)


def _plan_table(p: Plan) -> Table:
    t = Table(title=f"plan: {p.source}")
    for column in ("action", "kind", "name"):
        t.add_column(column, no_wrap=True)
    for column in ("subaccount", "detail", "reason"):
        t.add_column(column, overflow="fold")
    for c in p.changes:
        colour = _COLOURS[c.action]
        t.add_row(f"[{colour}]{c.action}[/]", str(c.kind), c.name, c.subaccount or "",
                  escape(c.detail), escape(c.reason))
    return t


def _show_plan(ctx: Ctx, p: Plan) -> None:
    if ctx.output == "json":
        click.echo(p.to_json(indent=2))
        return
    if p.changes:
        out.print(_plan_table(p))
    if p.unknown:
        shown = ", ".join(u.name for u in p.unknown[:10])
        more = f" and {len(p.unknown) - 10} more" if len(p.unknown) > 10 else ""
        err.print(f"[yellow]unknown, left alone:[/] {escape(shown)}{more} (declare them, "
                  "add an ownership pattern, or pass --delete-unknown)", highlight=False)
    for conflict in p.conflicts:
        err.print(f"[red]conflict:[/] {escape(conflict)}", highlight=False)
    out.print(escape(p.summary()), highlight=False)
    if not p.safe():
        try:
            p.check()
        except TooMuchChange as exc:
            err.print(f"[bold red]unsafe:[/] {escape(str(exc))}", highlight=False)


#: ``plan --exit-code``: the accounts differ from the fleet (drift, or work not yet applied)
EXIT_CHANGES = 3


@cli.command("plan")
@FLEET
@DELETE_UNKNOWN
@click.option("--exit-code", "exit_code", is_flag=True,
              help=f"Exit {EXIT_CHANGES} when there is anything to change or a conflict, 0 "
                   "when the accounts match the file (for a scheduled drift check).")
@progress_option
@trust_options
@pass_ctx
@handled
def plan_command(ctx: Ctx, fleet_path: str, delete_unknown: bool, exit_code: bool,
                 no_progress: bool, allow_host: tuple[str, ...], allow_env: tuple[str, ...],
                 allow_keyring_service: tuple[str, ...], allow_path: tuple[str, ...]) -> None:
    """Show what applying FLEET would change. Changes nothing.

    FLEET's connections reach only their providers' own hosts, key variables, keyring
    entries and FLEET's directory, unless the --allow-* options say otherwise."""
    trust = fleet_trust(allow_host, allow_env, allow_keyring_service, allow_path)
    fleet = fleet_file.load(fleet_path, trust=trust)
    with open_accounts(ctx, fleet) as accounts:
        p = _read_plan(ctx, accounts, fleet, delete_unknown, no_progress)
    _show_plan(ctx, p)
    if exit_code and (p.changes or p.conflicts):
        sys.exit(EXIT_CHANGES)


class _Bars:
    """One progress bar per connection's domain changes."""

    def __init__(self) -> None:
        self.bars: dict[str, ProgressBar] = {}

    def update(self, connection: str, p: Progress) -> None:
        bar = self.bars.get(connection)
        if bar is None:
            bar = self.bars[connection] = ProgressBar().__enter__()
        bar.update(attrs.evolve(p, operation=f"apply {connection}"))

    def close(self) -> None:
        for bar in self.bars.values():
            bar.__exit__()


@cli.command("apply")
@FLEET
@yes_option
@click.option("--force", is_flag=True,
              help="Apply even when the plan deletes or moves more than the safety share.")
@DELETE_UNKNOWN
@click.option("--checksum", help="Apply only if the plan is still the one with this checksum "
                                 "(from `espkit plan`), e.g. the one reviewed in a pull request.")
@click.option("--max-concurrency", type=click.IntRange(1, 1024), default=256,
              show_default=True, help="Cap on requests in flight.")
@progress_option
@trust_options
@pass_ctx
@handled
def apply_command(ctx: Ctx, fleet_path: str, yes: bool, force: bool, delete_unknown: bool,
                  checksum: str | None, max_concurrency: int, no_progress: bool,
                  allow_host: tuple[str, ...], allow_env: tuple[str, ...],
                  allow_keyring_service: tuple[str, ...], allow_path: tuple[str, ...]) -> None:
    """Make the accounts match FLEET: plan, confirm, apply. Run it again to resume.

    FLEET's connections reach only what `espkit plan` lets them (see its --allow-*)."""
    trust = fleet_trust(allow_host, allow_env, allow_keyring_service, allow_path)
    fleet = fleet_file.load(fleet_path, trust=trust)
    with open_accounts(ctx, fleet) as accounts, runs(fleet, accounts):
        p = _read_plan(ctx, accounts, fleet, delete_unknown, no_progress)
        if ctx.output != "json":
            _show_plan(ctx, p)
        if checksum is not None and checksum != p.checksum:
            if ctx.output == "json":  # a refusal prints the plan it refused, as below
                click.echo(p.to_json(indent=2))
            err.print(f"[bold red]refused:[/] the plan changed since it was reviewed: its "
                      f"checksum is now {p.checksum}, not {escape(checksum)}; plan again and "
                      "review it", highlight=False)
            sys.exit(EXIT_CONFIG)
        if p.empty:
            if ctx.output == "json":
                click.echo(ApplyReport(p).to_json(indent=2))
            sys.exit(EXIT_ESP if p.conflicts else 0)
        try:
            p.check(force=force)
        except TooMuchChange as exc:
            if ctx.output == "json":
                click.echo(p.to_json(indent=2))
            err.print(f"[bold red]refused:[/] {escape(str(exc))}", highlight=False)
            sys.exit(EXIT_CONFIG)
        confirm(yes, f"apply {len(p.changes)} change(s)")
        bars = _Bars() if not no_progress and ctx.output != "json" else None
        try:
            report = apply(p, accounts, force=force, max_concurrency=max_concurrency,
                           on_progress=bars.update if bars else None)
        except BulkInterrupted as stop:
            done = sum(stop.report.counts.values())
            if bars:
                bars.close()
                bars = None
            err.print(f"[yellow]interrupted after {done} domain change(s): run the same "
                      "apply again to finish; it re-reads the accounts and does only what "
                      "is left[/]",
                      highlight=False)
            sys.exit(130)
        finally:
            if bars:
                bars.close()
    _show_report(ctx, report)
    if not report.ok:
        sys.exit(EXIT_ESP)


def _show_report(ctx: Ctx, report: ApplyReport) -> None:
    if ctx.output == "json":
        click.echo(report.to_json(indent=2))
        return
    t = Table("outcome", "items", title="apply")
    for outcome, n in sorted(report.counts().items()):
        t.add_row(outcome, str(n))
    out.print(t)
    out.print(escape(report.summary()), highlight=False)
    failed = report.failed
    if failed:
        f = Table("change", "error", title="failed")
        f.add_column("message", overflow="fold")
        for item in failed[:20]:
            f.add_row(item.key, type(item.error).__name__, escape(str(item.error)))
        out.print(f)
        if len(failed) > 20:
            out.print(f"... and {len(failed) - 20} more (run apply again to retry them)")


__all__ = ["EXIT_CHANGES", "apply_command", "plan_command"]
