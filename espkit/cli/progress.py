"""``ProgressBar``: the bulk engine's progress on stderr (done/total, rate, elapsed, ETA,
429s, failures), shown by ``espkit bulk ...`` and, one per connection, by ``espkit apply``.
While the run waits out an outage of the ESP the bar says so, and why ("waiting: ESP
unreachable since 12:01:03, probing every 8 s ..."), instead of looking stuck.
"""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from espkit import bulk as engine
from espkit.cli.app import err, escape


class ProgressBar:
    """rich progress on stderr, so stdout stays the report."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), TextColumn("{task.fields[extra]}"),
            console=err, transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> ProgressBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, p: engine.Progress) -> None:
        rate = f"{p.done / p.elapsed:.0f}/s" if p.elapsed > 0.5 else ""
        extra = f"429s {p.throttled}  failed {p.failed}"
        if p.waiting:
            # the ESP's error text is not ours: shown as text, never as markup
            extra = f"[yellow]waiting: {escape(p.waiting)}[/]"
        if self.task is None:
            self.task = self.bar.add_task(p.operation, total=p.total, completed=p.done,
                                          rate=rate, extra=extra)
        else:
            self.bar.update(self.task, total=p.total, completed=p.done, rate=rate,
                            extra=extra)


__all__ = ["ProgressBar"]
