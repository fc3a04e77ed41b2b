from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from espkit import providers, ratelimit

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SPECS = SHARED / "specs"


@pytest.fixture(autouse=True)
def _fresh_limiters(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Limiters and retry budgets are process-wide by design; isolate tests from each other.
    A developer's exported ESPKIT_LIMITER_URL must not put the suite on their Redis (the
    Redis tests set it themselves)."""
    monkeypatch.delenv(ratelimit.ENV_LIMITER_URL, raising=False)
    ratelimit.reset_shared()
    yield
    ratelimit.reset_shared()


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    """Providers registered by a test module do not leak into other tests (or the CLI)."""
    saved = dict(providers._registered)
    yield
    providers._registered.clear()
    providers._registered.update(saved)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record instead of performing every sleep espkit asks for (retries, limiter waits)."""
    recorded: list[float] = []
    skipped = [0.0]
    real_monotonic = time.monotonic

    def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)
        skipped[0] += seconds

    # the limiters' clock moves on by every skipped sleep, so a wait they ask for is over
    monkeypatch.setattr(time, "sleep", fake_sleep)
    monkeypatch.setattr(ratelimit, "_monotonic", lambda: real_monotonic() + skipped[0])
    return recorded


@pytest.fixture
def spec_dir() -> Path:
    if not SPECS.is_dir():
        pytest.skip(f"official ESP specs not found at {SPECS} (they live in ../shared/specs)")
    return SPECS
