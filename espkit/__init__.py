"""espkit: one typed interface to the sending side of email across ESPs.

    import espkit
    acct = espkit.connect("sandbox")
    d = acct.domains.create("news.acme.com")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from espkit.errors import (
    AlreadyExists,
    AuthError,
    ConfigError,
    ConflictingState,
    EspError,
    EspkitError,
    MissingCredentials,
    NotFound,
    ProtocolError,
    RateLimited,
    RegionMismatch,
    Rejected,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
    VerificationTimeout,
)
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    DeliveryStats,
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    Resolution,
    StatsScope,
    Stream,
    StreamKind,
    Subaccount,
    Warmup,
    WarmupState,
)

# Loaded on first use (PEP 562), so that `import espkit` costs less than `import requests`:
# the account pulls in requests and the providers, the waits the bulk engine and SQLite.
_LAZY = {
    "Account": "espkit.account",
    "connect": "espkit.account",
    "RetryPolicy": "espkit.transport",
    "VerificationReport": "espkit.verify",
    "VerificationResult": "espkit.verify",
    "wait_for_fleet": "espkit.verify",
    "wait_until_verified": "espkit.verify",
}

if TYPE_CHECKING:
    from espkit.account import Account, connect
    from espkit.transport import RetryPolicy
    from espkit.verify import (
        VerificationReport,
        VerificationResult,
        wait_for_fleet,
        wait_until_verified,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'espkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup does not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "Account",
    "AlreadyExists",
    "Assignment",
    "AssignmentKind",
    "AuthError",
    "Capability",
    "ConfigError",
    "ConflictingState",
    "DedicatedIp",
    "DeliveryStats",
    "DnsRecord",
    "Domain",
    "DomainSpec",
    "DomainState",
    "EspError",
    "EspkitError",
    "IpPool",
    "MissingCredentials",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RecordPurpose",
    "RecordStatus",
    "RegionMismatch",
    "Rejected",
    "Resolution",
    "RetryPolicy",
    "ServerError",
    "StatsScope",
    "Stream",
    "StreamKind",
    "Subaccount",
    "TransportError",
    "Unsupported",
    "ValidationError",
    "VerificationReport",
    "VerificationResult",
    "VerificationTimeout",
    "Warmup",
    "WarmupState",
    "__version__",
    "connect",
    "wait_for_fleet",
    "wait_until_verified",
]
