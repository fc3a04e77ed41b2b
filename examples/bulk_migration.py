"""Recreate a fleet on a new ESP account: thousands of domains, one stream each, resumable.

The first run is interrupted part-way (as Ctrl-C, a crash or a deploy would), then the same
call with the same journal finishes the job without creating anything twice. Then every
marketing domain is moved onto the marketing pool in one more bulk job.

    python examples/bulk_migration.py [customers] [journal-dir]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import espkit
from espkit.bulk import Bulk, BulkInterrupted, Progress


def fleet(customers: int) -> list[espkit.DomainSpec]:
    """Two streams per customer: marketing and receipts."""
    return [
        espkit.DomainSpec(name=f"{stream}.customer{c}.example", dkim_key_size=2048)
        for c in range(customers)
        for stream in ("news", "mail")
    ]


def stop_after(done: int) -> Callable[[Progress], None]:
    def hook(progress: Progress) -> None:
        if progress.done >= done:
            raise KeyboardInterrupt  # what Ctrl-C does
    return hook


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    workdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp())
    journal = str(workdir / "migration.db")
    acct = espkit.connect("sandbox")
    specs = fleet(customers)

    try:
        Bulk(acct, journal=journal, on_progress=stop_after(len(specs) // 3)).create_domains(specs)
    except BulkInterrupted as stop:
        print(f"interrupted: {stop}")

    report = Bulk(acct, journal=journal).create_domains(specs)
    print(report.summary())
    print(f"skipped (done before the interruption): {report.counts.get('skipped', 0)}")

    acct.pools.create("marketing")
    marketing = [s.name for s in specs if s.name.startswith("news.")]
    moved = Bulk(acct, journal=str(workdir / "assign.db")).assign(marketing, pool="marketing")
    print(moved.summary())
    if not (report.ok and moved.ok):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
