"""Every fenced block of README.md and docs/ runs, one test per block (``file:line``).

A page's blocks run in order, in one fresh directory with a fresh sandbox file, Python blocks
in one namespace (``mdrunner``); markers in the Markdown say what a block that does not run is
(``mdsnippets``). What needs an ESP account runs against the wire-level fakes (``espfakes``).
The counts of blocks run, skipped (with their reasons) and outputs compared are printed at the
end of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import mdrunner
import mdsnippets
import pytest
from espfakes import PageWorld
from support.dnsserver import LocalDns

ROOT = Path(__file__).resolve().parents[2]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def collect() -> tuple[list[tuple[Path, int, mdsnippets.Block]], dict[Path, str]]:
    """Every block of every page, and the pages whose markers cannot be read."""
    found, broken = [], {}
    for page in pages():
        try:
            blocks = mdsnippets.parse(page)
        except mdsnippets.MarkdownError as exc:
            broken[page] = str(exc)
            continue
        found += [(page, i, block) for i, block in enumerate(blocks)]
    return found, broken


BLOCKS, BROKEN = collect()


@pytest.fixture(scope="module")
def page_run(tmp_path_factory: pytest.TempPathFactory, local_dns: LocalDns
             ) -> Iterator[Callable[[Path], mdrunner.Page]]:
    """A page's run, made when its first block is tested and kept for the others (a page's
    blocks build on each other). Its fakes are closed when the next page starts (the tests
    run page by page) and the last ones with this module: moto's mock and the patched
    boto3.Session must not outlive the docs tests, or later SES tests see their state."""
    runs: dict[Path, mdrunner.Page] = {}
    worlds: list[PageWorld] = []

    def get(page: Path) -> mdrunner.Page:
        if page not in runs:
            while worlds:
                worlds.pop().stack.close()
            blocks = [b for p, _, b in BLOCKS if p == page]
            workdir = tmp_path_factory.mktemp(page.stem)
            world = PageWorld(blocks, workdir, local_dns)
            worlds.append(world)
            runs[page] = mdrunner.Page(ROOT, page, blocks, workdir, world.services)
        return runs[page]

    yield get
    while worlds:
        worlds.pop().stack.close()


@pytest.mark.parametrize(
    ("page", "index"),
    [pytest.param(p, i, id=f"{p.relative_to(ROOT)}:{b.line}") for p, i, b in BLOCKS],
)
def test_snippet(page: Path, index: int, page_run: Callable[[Path], mdrunner.Page]) -> None:
    """Block ``index`` of ``page`` (and the blocks before it, if not run yet)."""
    page_run(page).run(index)


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markers_read(page: Path) -> None:
    """A page whose markers or fences cannot be read fails here, not at collection."""
    assert page not in BROKEN, BROKEN.get(page)
