"""``acct.domains.assign_many`` and ``create``: the behaviours mutation testing found unpinned
(scripts/mutation.py domains).

On an ESP without a batch link (the sandbox) every domain is linked to the pool on its own
request, once per canonical name, with its own result; a lone string is refused naming the
argument before anything is sent; a create whose read-back finds a different domain names
the create in its conflict.
"""

from __future__ import annotations

import pytest

from espkit import Account
from espkit.errors import ConflictingState, NotFound, ServerError, ValidationError
from espkit.models import AssignmentKind, Domain
from espkit.testing import SandboxFactory, emulator


@pytest.fixture
def acct(espkit_sandbox_factory: SandboxFactory) -> Account:
    account = espkit_sandbox_factory()
    ips = [ip.address for ip in account.ips.list()]
    account.pools.create("mkt", ips=ips[:1])
    for name in ("a.example.com", "b.example.com"):
        account.domains.create(name)
    return account


def puts(acct: Account) -> list[str]:
    return [path for method, path, *_ in emulator(acct).history if method == "PUT"]


def test_without_a_batch_link_each_domain_is_linked_to_the_pool_once(acct: Account) -> None:
    results = acct.domains.assign_many(
        ["A.Example.com", "b.example.com", "a.example.com", "missing.example.com"], pool="mkt")
    assert list(results) == ["a.example.com", "b.example.com", "missing.example.com"]
    assert results["a.example.com"] is None
    assert results["b.example.com"] is None
    assert isinstance(results["missing.example.com"], NotFound)
    assert puts(acct) == [f"/v1/domains/{n}/assignments/pool/mkt"
                          for n in ("a.example.com", "b.example.com", "missing.example.com")]
    for name in ("a.example.com", "b.example.com"):
        (got,) = acct.domains.assignments(name)
        assert (got.kind, got.target) == (AssignmentKind.POOL, "mkt")


@pytest.mark.parametrize("one", ["a.example.com", b"a.example.com"])
def test_one_name_instead_of_many_is_refused_naming_the_argument(acct: Account,
                                                                 one: object) -> None:
    before = len(emulator(acct).history)
    with pytest.raises(ValidationError) as info:
        acct.domains.assign_many(one, pool="mkt")  # type: ignore[arg-type]
    assert (info.value.field, info.value.value, info.value.reason) == (
        "names", one, "must be an iterable of domain names, not one")
    assert len(emulator(acct).history) == before


def test_a_create_read_back_finding_another_domain_names_the_create(
        acct: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = acct.provider

    def lost(spec: object) -> Domain:
        raise ServerError("answer lost", provider=provider.name, maybe_applied=True)

    monkeypatch.setattr(provider, "create_domain", lost)
    monkeypatch.setattr(provider, "get_domain",
                        lambda name: Domain("other.example.com", provider.name))
    with pytest.raises(ConflictingState) as info:
        acct.domains.create("c.example.com")
    assert str(info.value).startswith(
        "sandbox conflict: create domain c.example.com exists but differs from what "
        "was requested: ")
