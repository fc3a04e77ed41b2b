"""espkit: one typed interface to the sending side of email across ESPs.

    import espkit
    acct = espkit.connect("sandbox")
    d = acct.domains.create("news.acme.com")
"""

from __future__ import annotations

from espkit.account import Account, VerificationTimeout, connect
from espkit.errors import (
    AlreadyExists,
    AuthError,
    ConfigError,
    ConflictingState,
    EspError,
    EspkitError,
    MissingCredentials,
    NotFound,
    RateLimited,
    RegionMismatch,
    Rejected,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
)
from espkit.models import (
    Assignment,
    AssignmentKind,
    Capability,
    DedicatedIp,
    DnsRecord,
    Domain,
    DomainSpec,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    Stream,
    StreamKind,
    Subaccount,
)
from espkit.transport import RetryPolicy
from espkit.verify import (
    VerificationReport,
    VerificationResult,
    wait_for_fleet,
    wait_until_verified,
)

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
    "DnsRecord",
    "Domain",
    "DomainSpec",
    "DomainState",
    "EspError",
    "EspkitError",
    "IpPool",
    "MissingCredentials",
    "NotFound",
    "RateLimited",
    "RecordPurpose",
    "RecordStatus",
    "RegionMismatch",
    "Rejected",
    "RetryPolicy",
    "ServerError",
    "Stream",
    "StreamKind",
    "Subaccount",
    "TransportError",
    "Unsupported",
    "ValidationError",
    "VerificationReport",
    "VerificationResult",
    "VerificationTimeout",
    "__version__",
    "connect",
    "wait_for_fleet",
    "wait_until_verified",
]
