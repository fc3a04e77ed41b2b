"""espkit.fleet."""

from espkit.fleet.applier import (
    ApplyReport,
    apply,
    apply_fleet,
)
from espkit.fleet.files import (
    load,
    loads,
)
from espkit.fleet.model import (
    Connection,
    CredentialRef,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    FleetFileError,
    Ownership,
    PoolSpec,
    Problem,
    Safety,
    StreamSpec,
    schema,
)
from espkit.fleet.planner import (
    Action,
    Change,
    Kind,
    Live,
    Plan,
    Unknown,
    diff,
    plan,
    read_live,
)

__all__ = [
    "Action",
    "ApplyReport",
    "Change",
    "Connection",
    "CredentialRef",
    "CustomerSpec",
    "DesiredDomain",
    "Fleet",
    "FleetFileError",
    "Kind",
    "Live",
    "Ownership",
    "Plan",
    "PoolSpec",
    "Problem",
    "Safety",
    "StreamSpec",
    "Unknown",
    "apply",
    "apply_fleet",
    "diff",
    "load",
    "loads",
    "plan",
    "read_live",
    "schema",
]
