"""espkit.account."""

from espkit.account.handle import (
    Account,
    Domains,
    Ips,
    Manager,
    Pools,
    Streams,
    Subaccounts,
    VerificationTimeout,
    connect,
    create_safely,
    runner_of,
)

__all__ = [
    "Account",
    "Domains",
    "Ips",
    "Manager",
    "Pools",
    "Streams",
    "Subaccounts",
    "VerificationTimeout",
    "connect",
    "create_safely",
    "runner_of",
]


__all__ = [
    "Account",
    "Domains",
    "Ips",
    "Manager",
    "Pools",
    "Streams",
    "Subaccounts",
    "VerificationTimeout",
    "connect",
    "create_safely",
    "runner_of",
]


__all__ = [
    "Account",
    "Domains",
    "Ips",
    "Manager",
    "Pools",
    "Streams",
    "Subaccounts",
    "VerificationTimeout",
    "connect",
    "create_safely",
    "runner_of",
]
