"""``espkit bulk ...``: the bulk engine from the command line.

    espkit bulk create domains.csv --journal run.db
    espkit bulk resume --journal run.db          # after Ctrl-C, a crash or a kill

A live progress bar on stderr (``espkit.cli.progress``: done/total, rate, ETA, 429s,
failures); the report on stdout as a table or, with ``--output json``, as JSON. Exit code 0
when every item settled without failure, 1 when some failed or the run stopped early, 2 for
bad input, 130 for Ctrl-C.
Failed items are written to a file in the input's own CSV form, so it can be fed back.

What this command writes is private and inert: journals (``espkit.bulk.journal``) and the
failed-items file are created 0600, since they hold ESP error text; and every CSV cell
goes through ``csv_cell``, the one place a cell a spreadsheet would run as a formula is
neutralised.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table
from rich.text import Text

from espkit import bulk as engine
from espkit.bulk import FAILED, REPORT_COLUMNS, Bulk, BulkInterrupted, Journal, Report
from espkit.bulk.identity import identity_of, shown
from espkit.cli.app import (
    EXIT_ESP,
    Ctx,
    clean,
    cli,
    confirm,
    err,
    escape,
    handled,
    out,
    pass_ctx,
    yes_option,
)
from espkit.cli.assign import IP, POOL, one_target
from espkit.cli.progress import ProgressBar
from espkit.cli.tables import cell
from espkit.dns import csv_cell
from espkit.errors import ConfigError, ValidationError
from espkit.transport.ratelimit import parse_rate_limit

F = TypeVar("F", bound=Callable[..., Any])


class _Seconds(click.FloatRange):
    """A number of seconds in a range; ``nan`` (which every range check lets through) and
    ``inf`` are refused as what they are."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


class _RateLimit(click.ParamType[Any]):
    """What ``rate_limit=`` takes: requests a second, or a count per window (``300/min``)."""

    name = "rate"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = parse_rate_limit(value.strip())
        except ValidationError as exc:
            self.fail(f"{value!r} {exc.reason}", param, ctx)
        # the text as given: connect() reads it the same way, and a budget keeps its window
        return parsed if isinstance(parsed, float) else value.strip()


#: the subcommands that run a job
_RUN = ("create", "delete", "verify", "assign", "resume")
#: the bulk options: each is accepted before the subcommand (``bulk --journal J create F``)
#: and after it (``bulk create F --journal J``); the later one wins. (decls, attrs, the
#: ``_Options`` field it sets, the subcommands that take it after them)
_BULK_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any], str, tuple[str, ...]], ...] = (
    (("--journal", "-j", "journal"),
     {"type": click.Path(dir_okay=False),
      "help": "SQLite journal: makes the run resumable and duplicate-free across crashes. "
              "Re-run with the same file to resume."},
     "journal", (*_RUN, "status", "adopt")),
    (("--failed", "failed"),
     {"type": click.Path(dir_okay=False),
      "help": "Where to write failed items (default: <journal>.failed.csv, or "
              "espkit-failed.csv)."},
     "failed", _RUN),
    (("--rate-limit", "rate_limit"),
     {"type": _RateLimit(),
      "help": "The account's API budget, if not the ESP's documented one: requests a "
              "second (5), or a count per window (300/min, 500/10s)."},
     "rate_limit", _RUN),
    (("--max-concurrency", "max_concurrency"),
     {"type": click.IntRange(1, 1024),
      "help": "Cap on requests in flight (the engine sizes below it).  [default: 256]"},
     "max_concurrency", _RUN),
    (("--max-outage", "max_outage"),
     {"type": _Seconds(min=0, max=7 * 86400),
      "help": "Longest ESP outage to wait out, in seconds: while the ESP does not answer the "
              "run pauses and probes it, and stops (resumable) only after this long.  "
              "[default: 300]"},
     "max_outage", _RUN),
    (("--no-progress", "no_progress"),
     {"is_flag": True, "default": None, "help": "No progress display on stderr."},
     "no_progress", _RUN),
)


def _set_option(field: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(click_ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        # given after the subcommand, it replaces the group's (each defaults to None, the
        # --no-progress flag too, so one not given there leaves the group's alone)
        if value is not None:
            options = click_ctx.meta.get("bulk")
            if isinstance(options, _Options):
                setattr(options, field, value)
    return callback


def _bulk_options(command: str) -> Callable[[F], F]:
    """The bulk group's options that apply to ``command``, accepted after it too."""

    def decorate(fn: F) -> F:
        for decls, attrs, field, commands in reversed(_BULK_OPTIONS):
            if command in commands:
                fn = click.option(*decls, **attrs, expose_value=False,
                                  callback=_set_option(field))(fn)
        return fn

    return decorate


def _group_options(fn: F) -> F:
    """The bulk options where they always were: before the subcommand."""
    for decls, attrs, _field, _commands in reversed(_BULK_OPTIONS):
        fn = click.option(*decls, **attrs)(fn)
    return fn


@cli.group()
@_group_options
@click.pass_context
def bulk(click_ctx: click.Context, journal: str | None, failed: str | None,
         rate_limit: float | str | None, max_concurrency: int | None, max_outage: float | None,
         no_progress: bool | None) -> None:
    """Create, delete, verify or assign many domains: rate-limited, resumable, reported.

    FILE is CSV (a header with name or domain, plus pool, ips, dkim_key_size ...),
    JSON, JSON Lines, or one name per line; '-' reads stdin. The options here are taken
    after the subcommand too.
    """
    click_ctx.meta["bulk"] = _Options(journal, failed, rate_limit, max_concurrency or 256,
                                      bool(no_progress), max_outage)


class _Options:
    """What the bulk options say, before or after the subcommand."""

    def __init__(self, journal: str | None, failed: str | None, rate_limit: float | str | None,
                 max_concurrency: int, no_progress: bool, max_outage: float | None = None
                 ) -> None:
        self.journal = journal
        self.failed = failed
        self.rate_limit = rate_limit
        self.max_concurrency = max_concurrency
        self.no_progress = no_progress
        self.max_outage = max_outage

    def failed_file(self) -> Path:
        if self.failed:
            return Path(self.failed)
        if self.journal:
            return Path(self.journal).with_suffix(".failed.csv")
        return Path("espkit-failed.csv")

    def journal_file(self, command: str) -> str:
        """The journal an earlier run wrote, for ``status``/``adopt``/``resume``."""
        if not self.journal:
            raise click.UsageError(f"bulk {command} needs the journal of an earlier run: "
                                   "pass --journal FILE")
        if not Path(self.journal).exists():
            raise ConfigError(f"no journal at {self.journal}: pass --journal FILE of an "
                              "earlier run")
        return self.journal


def _options(ctx: Ctx | None = None) -> _Options:
    """The bulk options; with ``ctx``, the rate limit is put into the account's options
    (before the account is opened, on first use)."""
    options = click.get_current_context().meta["bulk"]
    assert isinstance(options, _Options)
    if ctx is not None and options.rate_limit is not None:
        ctx.options["rate_limit"] = options.rate_limit
    return options


FILE = click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))


@bulk.command("create")
@FILE
@_bulk_options("create")
@pass_ctx
@handled
def bulk_create(ctx: Ctx, file: str) -> None:
    """Create every domain in FILE (one already there counts as existed)."""
    _run(ctx, lambda b: b.create_domains(engine.read_items(file)))


@bulk.command("delete")
@FILE
@yes_option
@_bulk_options("delete")
@pass_ctx
@handled
def bulk_delete(ctx: Ctx, file: str, yes: bool) -> None:
    """Delete every domain in FILE."""
    confirm(yes, f"delete every domain listed in {file} from {ctx.provider}")
    _run(ctx, lambda b: b.delete_domains(engine.read_items(file)))


@bulk.command("verify")
@FILE
@_bulk_options("verify")
@pass_ctx
@handled
def bulk_verify(ctx: Ctx, file: str) -> None:
    """Ask the ESP to check the DNS of every domain in FILE."""
    _run(ctx, lambda b: b.verify_domains(engine.read_items(file)))


@bulk.command("assign")
@FILE
@POOL
@IP
@_bulk_options("assign")
@pass_ctx
@handled
def bulk_assign(ctx: Ctx, file: str, pool: str | None, ip: str | None) -> None:
    """Make every domain in FILE send from --pool or --ip (exactly one of them)."""
    one_target(pool, ip)
    _run(ctx, lambda b: b.assign(engine.read_items(file), pool=pool, ip=ip))


@bulk.command("resume")
@_bulk_options("resume")
@pass_ctx
@handled
def bulk_resume(ctx: Ctx) -> None:
    """Finish the job recorded in --journal (no FILE needed)."""
    _options().journal_file("resume")
    _run(ctx, lambda b: b.resume())


@bulk.command("status")
@_bulk_options("status")
@pass_ctx
@handled
def bulk_status(ctx: Ctx) -> None:
    """Show what the job in --journal has done so far (no request is sent)."""
    path = _options().journal_file("status")
    with Journal(path) as journal:
        journal.check_rows()  # an unreadable row is named here, not counted as nothing
        meta, states, outcomes = journal.meta(), journal.counts(), journal.outcomes()
        identity = journal.identity
    data = {"journal": path, "job": {k: v for k, v in meta.items() if k != "version"},
            "states": states, "outcomes": outcomes}
    if ctx.output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    # the journal's text is not ours: bounded, control characters escaped, no markup
    account = identity.describe() if identity else shown(meta.get("provider", "?"))
    # the heading as a line of its own: a table's title folds to the table's narrow width
    out.print(Text(clean(f"{path}: {shown(meta.get('operation', '?'))} on {account}")),
              soft_wrap=True)
    t = Table("state", "items")
    for state, n in states.items():
        t.add_row(state, str(n))
    for outcome, n in outcomes.items():
        t.add_row(cell(f"  {outcome}"), str(n))
    out.print(t)


@bulk.command("adopt")
@_bulk_options("adopt")
@pass_ctx
@handled
def bulk_adopt(ctx: Ctx) -> None:
    """Record this account in --journal, written by an earlier espkit (no request is sent).

    Journals now record the account they belong to, and one that does not is refused once
    it holds finished items: adopt it only if it was started on this account."""
    path = _options().journal_file("adopt")
    identity = identity_of(ctx.account)
    with Journal(path) as journal:
        journal.adopt(identity)
    if ctx.output == "json":
        click.echo(json.dumps({"journal": path, "account": identity.describe()}, indent=2))
    else:
        err.print(escape(f"journal {path} belongs to {identity.describe()}"), highlight=False)


# -- running and reporting -----------------------------------------------------------------


def _run(ctx: Ctx, start: Callable[[Bulk], Report]) -> None:
    options = _options(ctx)
    progress = ProgressBar() if not options.no_progress and ctx.output != "json" else None
    runner = Bulk(ctx.account, journal=options.journal,
                  max_concurrency=options.max_concurrency,
                  on_progress=progress.update if progress else None,
                  max_outage=engine.MAX_OUTAGE if options.max_outage is None
                  else options.max_outage)
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
    written = write_failed(journal, options.failed_file(), report)
    if written:
        err.print(f"{len(report.failed)} failed item(s) written to {escape(str(written))}: "
                  "fix them and feed the file back to the same command", highlight=False)


def _show(ctx: Ctx, report: Report) -> None:
    if ctx.output == "json":
        click.echo(report.to_json(indent=2))
        return
    t = Table("outcome", "items", title=escape(f"bulk {report.operation}"))
    for outcome, n in sorted(report.counts.items()):
        t.add_row(cell(outcome), str(n))
    if report.remaining:
        t.add_row("not done yet", str(report.remaining))
    out.print(t)
    out.print(escape(report.summary()), highlight=False)
    if report.failed:
        f = Table("domain", "error", title="failed")
        f.add_column("message", overflow="fold")
        for item in report.failed[:20]:
            # what the ESP said is shown as text: no markup, no control characters
            f.add_row(cell(item.key), cell(type(item.error).__name__), cell(str(item.error)))
        out.print(f)
        if len(report.failed) > 20:
            out.print(f"... and {len(report.failed) - 20} more (see the failed-items file)")


def write_failed(journal: Journal, path: Path, report: Report) -> Path | None:
    """Write the failed items as CSV in their input form plus what went wrong. Items the
    journal no longer holds as failed (a later pass settled them) are left out."""
    if not report.failed:
        return None
    rows = list(_failed_rows(journal))
    if not rows:
        return None
    columns = ["name", *sorted({k for r in rows for k in r} - {"name", *REPORT_COLUMNS})]
    fields = [*columns, *REPORT_COLUMNS]
    write_private_csv(path, [fields, *([r.get(f, "") for f in fields] for r in rows)])
    return path


#: what a spreadsheet takes as the start of a formula (OWASP, CSV injection)
def write_private_csv(path: Path, rows: Iterable[Iterable[object]]) -> None:
    """Write ``rows`` (the first is the header) to ``path`` as CSV, every cell through
    ``csv_cell``. The file is 0600 from its creation (``mkstemp``) and takes the place of
    ``path`` only when complete, so a crash never leaves half a file, and an earlier file
    readable by others is replaced rather than written into."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in rows:
                writer.writerow([csv_cell(cell) for cell in row])
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _failed_rows(journal: Journal) -> Iterable[dict[str, Any]]:
    for entry in journal.entries(FAILED):
        row = {k: " ".join(map(str, v)) if isinstance(v, list) else v
               for k, v in entry.payload.items()}
        row.setdefault("name", entry.key)
        row.update(outcome="failed", error_type=entry.error_type or "",
                   error=entry.error or "")
        yield row


__all__ = ["bulk", "bulk_adopt", "bulk_assign", "bulk_create", "bulk_delete", "bulk_resume",
           "bulk_status", "bulk_verify", "csv_cell", "write_private_csv"]
