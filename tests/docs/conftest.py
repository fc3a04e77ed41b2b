"""The documentation tests' summary: how many blocks ran, were skipped (and why), were
compared as output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mdrunner
import pytest
from support.dnsserver import LocalDns


@pytest.fixture(scope="session")
def local_dns() -> Iterator[LocalDns]:
    """The "live DNS" of the documentation's blocks: a server on 127.0.0.1 that knows no
    record until a block adds one."""
    with LocalDns() as server:
        yield server


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = mdrunner.STATS
    if stats.blocks_run or stats.blocks_skipped or stats.samples or stats.failed:
        terminalreporter.section("documentation snippets")
        for line in stats.lines():
            terminalreporter.write_line(line)
