"""Fixtures shared by the providers' wire-level tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture
def wire() -> Iterator[None]:
    """The network replaced by ``responses``' default mock for one test: an unmocked call
    fails the request, and what a test registered is gone after it."""
    with responses.mock:
        yield
    responses.mock.reset()
