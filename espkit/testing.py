"""pytest fixtures for code that uses espkit: a real, stateful sandbox ESP per test.

Installed with espkit (entry point ``pytest11``), so in any test suite::

    def test_onboarding(espkit_sandbox):
        my_app.onboard(espkit_sandbox, "news.acme.com")
        assert espkit_sandbox.domains.get("news.acme.com").dns_records

    def test_survives_throttling(espkit_sandbox_factory):
        acct = espkit_sandbox_factory(rate_limit=5, clock=FakeClock())
        ...

The accounts are in-memory sandboxes (see ``espkit.sandbox``) going through the same
transport as real ESPs, so retries, rate limits and read-back after timeouts really happen.
Use ``emulator(acct)`` to reach the simulated ESP (inject faults, revoke keys, ...).

This module is imported by pytest in every project that has espkit installed, so it imports
nothing heavy up front and still imports (without fixtures) where pytest is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from espkit.account import Account
    from espkit.sandbox import Clock, Emulator
    from espkit.transport import RetryPolicy


class SandboxFactory:
    """Makes sandbox accounts (in memory unless ``path`` is given) and closes them all at
    the end of the test. Keywords are ``SandboxProvider.from_options``'s knobs."""

    def __init__(self) -> None:
        self._made: list[Account] = []

    def __call__(
        self,
        *,
        path: str = ":memory:",
        latency: float = 0.0,
        rate_limit: float | None = None,
        faults: float = 0.0,
        verify_delay: float = 0.0,
        seed: int | None = 0,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
    ) -> Account:
        from espkit import connect

        acct = connect(
            "sandbox", path=path, latency=latency, rate_limit=rate_limit, faults=faults,
            verify_delay=verify_delay, seed=seed, api_key=api_key, retry=retry, clock=clock,
        )
        self._made.append(acct)
        return acct

    def close(self) -> None:
        while self._made:
            self._made.pop().close()


def emulator(account: Account) -> Emulator:
    """The simulated ESP behind a sandbox account."""
    from espkit.providers.sandbox import SandboxProvider

    provider = account.provider
    if not isinstance(provider, SandboxProvider):
        raise TypeError(f"{account!r} is not a sandbox account")
    return provider.emulator


def _factory() -> Iterator[SandboxFactory]:
    factory = SandboxFactory()
    yield factory
    factory.close()


def _sandbox(espkit_sandbox_factory: SandboxFactory) -> Account:
    return espkit_sandbox_factory()


try:
    import pytest
except ImportError:  # pragma: no cover - plain `import espkit.testing` without pytest
    pass
else:
    espkit_sandbox_factory = pytest.fixture(_factory, name="espkit_sandbox_factory")
    espkit_sandbox = pytest.fixture(_sandbox, name="espkit_sandbox")


__all__ = ["SandboxFactory", "emulator"]
