"""What the plan and apply tests share: one in-memory sandbox account, sleeps recorded rather
than slept (``support.fleets.CONN`` is the fleet connection that names it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import espkit


@pytest.fixture
def acct(sleeps: list[float]) -> Iterator[espkit.Account]:
    with espkit.connect("sandbox", path=":memory:") as a:
        yield a
