"""The README, run top to bottom twice in a row in one directory, as a newcomer who tries
it again would: the second run meets the first one's sandbox file, journal and files, and
every block still does what the README says."""

from __future__ import annotations

from pathlib import Path

import mdrunner
import mdsnippets
from espfakes import PageWorld
from support.dnsserver import LocalDns

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_runs_twice_in_a_row(tmp_path: Path, local_dns: LocalDns) -> None:
    blocks = mdsnippets.parse(README)
    world = PageWorld(blocks, tmp_path, local_dns)
    stats = mdrunner.Stats()
    with world.stack:
        for attempt in (1, 2):
            # a new Python process each time; the same directory, sandbox file and ESPs
            page = mdrunner.Page(README.parent, README, blocks, tmp_path, world.services, stats)
            page.run_all()
            assert page.errors == {}, f"run {attempt}: {page.errors}"
    assert (tmp_path / "sandbox.db").is_file()
    assert stats.failed == []
    runnable = sum(1 for b in blocks if b.kind and not b.marker("skip"))
    assert stats.blocks_run == 2 * runnable
    assert stats.commands_run >= 2 * 12  # every espkit line of the README, twice
