"""``Provider.runner``, the hook the account layer (and bulk runs and verification waits,
through ``espkit.account.runner_of``) reads a provider's retry runner from; and the account
package's public names and layering."""

from __future__ import annotations

import ast
import pathlib

import boto3
from support.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY

import espkit
import espkit.account
from espkit.account import Account, runner_of
from espkit.models import Capability
from espkit.providers.base import Provider
from espkit.providers.sandbox import SandboxProvider
from espkit.providers.ses import SesProvider
from espkit.transport import RetryRunner


class NoRunnerEsp(Provider):
    name = "norunneresp"
    SUPPORTS = frozenset({Capability.DOMAINS})


def test_a_provider_without_a_runner_says_none() -> None:
    assert Provider().runner is None
    provider = NoRunnerEsp()
    assert provider.runner is None
    assert runner_of(provider) is None
    assert Account(provider).domains._runner is None


def test_an_http_provider_answers_with_its_transports_runner() -> None:
    with espkit.connect("sandbox", path=":memory:") as acct:
        provider = acct.provider
        assert isinstance(provider, SandboxProvider)
        assert isinstance(provider.runner, RetryRunner)
        assert provider.runner is provider.transport.runner
        assert runner_of(provider) is provider.runner
        # the managers re-send ambiguous creates under that runner
        assert acct.domains._runner is provider.runner
        assert acct.pools._runner is provider.runner


def test_a_subaccount_handle_shares_the_accounts_runner() -> None:
    with espkit.connect("sandbox", path=":memory:") as acct:
        scoped = acct.on_behalf_of("customer-1")  # scoping alone sends nothing
        assert runner_of(scoped.provider) is runner_of(acct.provider)


def test_ses_answers_with_the_runner_it_built() -> None:
    session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            region_name=REGION)
    with espkit.connect("ses", session=session) as acct:
        provider = acct.provider
        assert isinstance(provider, SesProvider)
        assert isinstance(provider.runner, RetryRunner)
        assert runner_of(provider) is provider.runner
        assert acct.subaccounts._runner is provider.runner


def test_the_package_re_exports_what_outside_code_uses() -> None:
    for name in ("Account", "Domains", "Ips", "Manager", "Pools", "Streams", "Subaccounts",
                 "VerificationTimeout", "connect", "create_safely", "runner_of"):
        assert name in espkit.account.__all__
        assert getattr(espkit.account, name) is not None
    assert espkit.account.VerificationTimeout is espkit.VerificationTimeout
    assert espkit.connect is espkit.account.connect


def test_the_account_layer_imports_nothing_above_it() -> None:
    above = ("espkit.bulk", "espkit.verify", "espkit.fleet", "espkit.cli", "espkit.dns")
    package = pathlib.Path(espkit.account.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                assert not name.startswith(above), f"{path.name} imports {name}"
