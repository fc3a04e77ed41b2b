"""The back-offs a fresh retry budget gives: sporadic failures (the budget full) wait the
policy's caps times ``MIN_STRAIN`` (``RetryRunner.backoff_cap``)."""

from __future__ import annotations

import pytest

from espkit.transport.retry import MIN_STRAIN


def scaled(delays: list[float]) -> object:
    return pytest.approx([d * MIN_STRAIN for d in delays])
