"""The public API is pinned: what ``espkit`` and each documented package export, in the manner
of httpx's test of its exported members. A name added, renamed or dropped fails here first,
so the change is deliberate (and the docs' API reference, built from ``__all__``, follows).
"""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path

import pytest

import espkit

ROOT = Path(__file__).resolve().parents[2]

ESPKIT = {
    "Account", "AlreadyExists", "Assignment", "AssignmentKind", "AuthError", "Capability",
    "ConfigError", "ConflictingState", "DedicatedIp", "DeliveryStats", "DnsRecord", "Domain",
    "DomainSpec", "DomainState", "EspError", "EspkitError", "IpPool", "MissingCredentials",
    "NotFound", "ProtocolError", "RateLimited", "RecordPurpose", "RecordStatus", "RegionMismatch",
    "Rejected", "Resolution", "RetryPolicy", "ServerError", "StatsScope", "Stream", "StreamKind",
    "Subaccount", "TransportError", "Unsupported", "ValidationError", "VerificationReport",
    "VerificationResult", "VerificationTimeout", "Warmup", "WarmupState", "__version__", "connect",
    "wait_for_fleet", "wait_until_verified",
}

# the entry points the docs name; each package's whole __all__ is checked below
DOCUMENTED = {
    "espkit.bulk": {"Bulk", "BulkInterrupted", "Journal", "Report", "ItemResult", "Outcome",
                    "Progress", "read_items", "create_domains", "delete_domains",
                    "verify_domains", "assign"},
    "espkit.fleet": {"Fleet", "FleetFileError", "load", "loads", "schema", "plan", "Plan",
                     "apply", "apply_fleet", "ApplyReport"},
    "espkit.dns": {"export", "check", "to_bind", "to_csv", "to_json", "to_octodns",
                   "CheckStatus", "RecordCheck", "DnsExportError"},
    "espkit.verify": {"wait_until_verified", "wait_for_fleet", "verify_once",
                      "VerificationReport", "VerificationResult", "VerificationInterrupted",
                      "WaitProgress"},
    "espkit.account": {"Account", "connect", "Domains", "Pools", "Subaccounts", "Streams",
                       "Ips", "Stats", "create_safely", "runner_of"},
    "espkit.providers": {"Provider", "HttpProvider", "get", "names", "register",
                         "registry_snapshot"},
    "espkit.transport": {"Transport", "RetryPolicy", "RetryRunner", "ErrorDetail",
                         "default_error_parser"},
    "espkit.transport.ratelimit": {"RateLimiter", "RetryBudget", "Limiter", "RedisLimiter",
                                   "shared_limiter", "shared_budget", "reset_shared",
                                   "set_default_clock"},
    "espkit.testing": {"SandboxFactory", "emulator"},
    "espkit.ramp": {"Ramp", "SendingRoute", "RampState", "parse_ramps", "route", "router",
                    "advance", "hold", "resume", "rollback", "status", "plan", "export",
                    "load_export", "load_state", "save_state", "state_path"},
    "espkit.cli": {"cli", "main"},
}

PACKAGES = sorted({*DOCUMENTED, "espkit.errors", "espkit.models", "espkit.sandbox",
                   "espkit.capabilities", "espkit.credentials", "espkit.validate",
                   "espkit.warmup"})


def test_espkit_exports_exactly_its_pinned_names() -> None:
    assert set(espkit.__all__) == ESPKIT
    assert len(espkit.__all__) == len(ESPKIT)  # no name listed twice


def test_every_espkit_name_resolves_and_lazy_names_are_the_real_objects() -> None:
    from espkit.account import Account, connect
    from espkit.verify import wait_until_verified

    for name in espkit.__all__:
        assert getattr(espkit, name) is not None
    assert espkit.Account is Account
    assert espkit.connect is connect
    assert espkit.wait_until_verified is wait_until_verified
    assert set(espkit.__all__) <= set(dir(espkit))
    with pytest.raises(AttributeError, match="no_such_name"):
        espkit.no_such_name


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_entry_points_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    assert DOCUMENTED[name] <= set(module.__all__)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_only_names_that_resolve_once(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def test_the_installed_entry_points_resolve() -> None:
    points = {(ep.group, ep.name): ep for ep in metadata.distribution("espkit").entry_points}
    assert points[("console_scripts", "espkit")].value == "espkit.cli:main"
    assert callable(points[("console_scripts", "espkit")].load())
    assert points[("pytest11", "espkit")].value == "espkit.testing"
    plugin = points[("pytest11", "espkit")].load()
    assert callable(plugin.espkit_sandbox)  # the fixtures users' tests ask for by name
    assert callable(plugin.espkit_sandbox_factory)
    # third-party providers register under this group (espkit.providers reads it)
    source = (ROOT / "espkit" / "providers" / "__init__.py").read_text()
    assert 'group="espkit.providers"' in source
