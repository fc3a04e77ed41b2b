from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from espkit import ratelimit

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPECS = SHARED / "specs"


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    """Limiters and retry budgets are process-wide by design; isolate tests from each other."""
    ratelimit.reset_shared()
    yield
    ratelimit.reset_shared()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record instead of performing every sleep espkit asks for (retries, limiter waits)."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


@pytest.fixture
def spec_dir() -> Path:
    if not SPECS.is_dir():
        pytest.skip(f"official ESP specs not found at {SPECS} (they live in ../shared/specs)")
    return SPECS
