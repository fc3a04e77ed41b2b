"""``espkit bulk ...``: the bulk engine from the command line.

    espkit bulk create domains.csv --journal run.db
    espkit bulk resume --journal run.db          # after Ctrl-C, a crash or a kill

A live progress bar on stderr (``espkit.cli.progress``: done/total, rate, ETA, 429s,
failures); the report on stdout as a table or, with ``--output json``, as JSON. Exit code 0
when every item settled without failure, 1 when some failed or the run stopped early, 2 for
bad input, 130 for Ctrl-C.
Failed items are written to a file in the input's own CSV form, so it can be fed back.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from espkit import bulk as engine
from espkit.bulk import FAILED, REPORT_COLUMNS, Bulk, BulkInterrupted, Journal, Report
from espkit.cli.app import EXIT_ESP, Ctx, cli, err, escape, handled, out, pass_ctx
from espkit.cli.progress import ProgressBar
from espkit.errors import ConfigError


@cli.group()
@click.option("--journal", "-j", type=click.Path(dir_okay=False),
              help="SQLite journal: makes the run resumable and duplicate-free across "
                   "crashes. Re-run with the same file to resume.")
@click.option("--failed", "failed_path", type=click.Path(dir_okay=False),
              help="Where to write failed items (default: <journal>.failed.csv, or "
                   "espkit-failed.csv).")
@click.option("--rate-limit", type=click.FloatRange(min=0.01),
              help="The account's API rate limit in requests/second, if not the ESP's "
                   "documented one.")
@click.option("--max-concurrency", type=click.IntRange(1, 1024), default=256,
              show_default=True, help="Cap on requests in flight (the engine sizes below it).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.pass_context
def bulk(click_ctx: click.Context, journal: str | None, failed_path: str | None,
         rate_limit: float | None, max_concurrency: int, no_progress: bool) -> None:
    """Create, delete, verify or assign many domains: rate-limited, resumable, reported.

    FILE is CSV (a header with name or domain, plus pool, ips, dkim_key_size ...),
    JSON, JSON Lines, or one name per line; '-' reads stdin.
    """
    ctx = click_ctx.find_object(Ctx)
    assert ctx is not None
    if rate_limit is not None:
        ctx.options["rate_limit"] = rate_limit
    click_ctx.meta["bulk"] = _Options(journal, failed_path, max_concurrency, not no_progress)


class _Options:
    def __init__(self, journal: str | None, failed: str | None, max_concurrency: int,
                 progress: bool) -> None:
        self.journal = journal
        self.failed = failed
        self.max_concurrency = max_concurrency
        self.progress = progress

    def failed_file(self) -> Path:
        if self.failed:
            return Path(self.failed)
        if self.journal:
            return Path(self.journal).with_suffix(".failed.csv")
        return Path("espkit-failed.csv")


def _options() -> _Options:
    options = click.get_current_context().meta["bulk"]
    assert isinstance(options, _Options)
    return options


FILE = click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))


@bulk.command("create")
@FILE
@pass_ctx
@handled
def bulk_create(ctx: Ctx, file: str) -> None:
    """Create every domain in FILE (one already there counts as existed)."""
    _run(ctx, lambda b: b.create_domains(engine.read_items(file)))


@bulk.command("delete")
@FILE
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handled
def bulk_delete(ctx: Ctx, file: str, yes: bool) -> None:
    """Delete every domain in FILE."""
    if not yes:
        click.confirm(f"Delete every domain listed in {file} from {ctx.provider}?",
                      abort=True, err=True)
    _run(ctx, lambda b: b.delete_domains(engine.read_items(file)))


@bulk.command("verify")
@FILE
@pass_ctx
@handled
def bulk_verify(ctx: Ctx, file: str) -> None:
    """Ask the ESP to check the DNS of every domain in FILE."""
    _run(ctx, lambda b: b.verify_domains(engine.read_items(file)))


@bulk.command("assign")
@FILE
@click.option("--pool", help="Send from this IP pool.")
@click.option("--ip", help="Send from this dedicated IP.")
@pass_ctx
@handled
def bulk_assign(ctx: Ctx, file: str, pool: str | None, ip: str | None) -> None:
    """Make every domain in FILE send from --pool or --ip."""
    _run(ctx, lambda b: b.assign(engine.read_items(file), pool=pool, ip=ip))


@bulk.command("resume")
@pass_ctx
@handled
def bulk_resume(ctx: Ctx) -> None:
    """Finish the job recorded in --journal (no FILE needed)."""
    if not _options().journal:
        raise ConfigError("resume needs --journal FILE (the journal of the run to finish)")
    _run(ctx, lambda b: b.resume())


@bulk.command("status")
@pass_ctx
@handled
def bulk_status(ctx: Ctx) -> None:
    """Show what the job in --journal has done so far (no request is sent)."""
    path = _options().journal
    if not path or not Path(path).exists():
        raise ConfigError(f"no journal at {path!r}: pass --journal FILE of an earlier run")
    with Journal(path) as journal:
        meta, states, outcomes = journal.meta(), journal.counts(), journal.outcomes()
    data = {"journal": path, "job": {k: v for k, v in meta.items() if k != "version"},
            "states": states, "outcomes": outcomes}
    if ctx.output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    t = Table("state", "items", title=f"{path}: {meta.get('operation', '?')} on "
                                       f"{meta.get('provider', '?')}")
    for state, n in states.items():
        t.add_row(state, str(n))
    for outcome, n in outcomes.items():
        t.add_row(f"  {outcome}", str(n))
    out.print(t)


# -- running and reporting -----------------------------------------------------------------


def _run(ctx: Ctx, start: Callable[[Bulk], Report]) -> None:
    options = _options()
    progress = ProgressBar() if options.progress and ctx.output != "json" else None
    runner = Bulk(ctx.account, journal=options.journal,
                  max_concurrency=options.max_concurrency,
                  on_progress=progress.update if progress else None)
    with runner.journal:
        try:
            with progress or contextlib.nullcontext():
                report = start(runner)
        except BulkInterrupted as stop:
            _finish(ctx, runner.journal, options, stop.report)
            err.print(f"[yellow]{escape(str(stop))}[/]", highlight=False)
            sys.exit(130)
        _finish(ctx, runner.journal, options, report)
    if not report.ok:
        sys.exit(EXIT_ESP)


def _finish(ctx: Ctx, journal: Journal, options: _Options, report: Report) -> None:
    _show(ctx, report)
    written = _write_failed(journal, options.failed_file(), report)
    if written:
        err.print(f"{len(report.failed)} failed item(s) written to {written}: fix them and "
                  "feed the file back to the same command", highlight=False)


def _show(ctx: Ctx, report: Report) -> None:
    if ctx.output == "json":
        click.echo(report.to_json(indent=2))
        return
    t = Table("outcome", "items", title=f"bulk {report.operation}")
    for outcome, n in sorted(report.counts.items()):
        t.add_row(outcome, str(n))
    if report.remaining:
        t.add_row("not done yet", str(report.remaining))
    out.print(t)
    out.print(escape(report.summary()), highlight=False)
    if report.failed:
        f = Table("domain", "error", title="failed")
        f.add_column("message", overflow="fold")
        for item in report.failed[:20]:
            f.add_row(item.key, type(item.error).__name__, str(item.error))
        out.print(f)
        if len(report.failed) > 20:
            out.print(f"... and {len(report.failed) - 20} more (see the failed-items file)")


def _write_failed(journal: Journal, path: Path, report: Report) -> Path | None:
    """Write the failed items as CSV in their input form plus what went wrong. Items the
    journal no longer holds as failed (a later pass settled them) are left out."""
    if not report.failed:
        return None
    rows = list(_failed_rows(journal))
    if not rows:
        return None
    columns = ["name", *sorted({k for r in rows for k in r} - {"name", *REPORT_COLUMNS})]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*columns, *REPORT_COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _failed_rows(journal: Journal) -> Iterable[dict[str, Any]]:
    for entry in journal.entries(FAILED):
        row = {k: " ".join(v) if isinstance(v, list) else v for k, v in entry.payload.items()}
        row.setdefault("name", entry.key)
        row.update(outcome="failed", error_type=entry.error_type or "",
                   error=entry.error or "")
        yield row


__all__ = ["bulk", "bulk_assign", "bulk_create", "bulk_delete", "bulk_resume", "bulk_status",
           "bulk_verify"]
