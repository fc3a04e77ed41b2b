"""The pytest kit espkit ships to its users (``espkit.testing``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import espkit
from espkit.providers.base import Provider
from espkit.sandbox import FakeClock
from espkit.testing import SandboxFactory, emulator

pytest_plugins = ["pytester"]


def test_espkit_sandbox_fixture(espkit_sandbox: espkit.Account) -> None:
    assert espkit_sandbox.name == "sandbox"
    assert list(espkit_sandbox.domains.list()) == []
    espkit_sandbox.domains.create("a.example.com")
    assert emulator(espkit_sandbox).store.path == ":memory:"


def test_each_test_gets_a_fresh_sandbox(espkit_sandbox: espkit.Account) -> None:
    assert list(espkit_sandbox.domains.list()) == []


def test_factory_takes_the_knobs(espkit_sandbox_factory: SandboxFactory) -> None:
    clock = FakeClock()
    acct = espkit_sandbox_factory(verify_delay=30, rate_limit=10, clock=clock)
    acct.domains.create("a.example.com")
    assert not acct.domains.verify("a.example.com").verified
    clock.advance(30)
    assert acct.domains.verify("a.example.com").verified
    assert emulator(acct).rate_limit == 10
    other = espkit_sandbox_factory()
    assert list(other.domains.list()) == []  # every call is its own account


def test_factory_closes_what_it_made() -> None:
    factory = SandboxFactory()
    acct = factory()
    factory.close()
    with pytest.raises(espkit.ConfigError, match="closed"):
        acct.domains.create("a.example.com")


def test_emulator_helper_refuses_other_providers() -> None:
    with pytest.raises(TypeError, match="not a sandbox"):
        emulator(espkit.Account(Provider()))


def test_fixtures_in_a_user_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from espkit.testing import emulator

        def test_onboarding(espkit_sandbox):
            d = espkit_sandbox.domains.create("news.acme.example")
            assert d.records("dkim")

        def test_survives_a_timeout(espkit_sandbox_factory):
            acct = espkit_sandbox_factory(seed=1)
            emulator(acct).inject("timeout_after_commit", method="POST", path="/v1/domains")
            assert acct.domains.create("news.acme.example").name == "news.acme.example"
            assert len(list(acct.domains.list())) == 1
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_importable_without_pytest() -> None:
    code = (
        "import sys; sys.modules['pytest'] = None\n"
        "import espkit.testing as t\n"
        "assert not hasattr(t, 'espkit_sandbox')\n"
        "acct = t.SandboxFactory()()\n"
        "acct.domains.create('a.example.com')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
