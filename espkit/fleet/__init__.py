"""espkit.fleet: a platform's sending side declared in one YAML file (``load``), diffed
against the live accounts (``plan``) and made so (``apply``).

Re-exports the public names of ``model``, ``files``, ``trust``, ``planner`` and ``applier``.
``Trust`` is what the caller allows a file's connections beyond their providers' own hosts,
key variables, keyring entries and directory (``docs/security.md``). Reading a
file needs PyYAML and jsonschema (the ``fleet`` extra): ``files.loads`` imports the
checker (``loader``, ``reader`` and the section modules they use) on first use, so
importing this package never imports them.
"""

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
    WarmupSpec,
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
from espkit.fleet.ready import ramp_readiness
from espkit.fleet.trust import (
    Trust,
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
    "Trust",
    "Unknown",
    "WarmupSpec",
    "apply",
    "apply_fleet",
    "diff",
    "load",
    "loads",
    "plan",
    "ramp_readiness",
    "read_live",
    "schema",
]
