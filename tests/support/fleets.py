"""Shared by the plan and apply tests: the fleet connection to the sandbox in memory, and a
one-customer fleet built from desired domains."""

from __future__ import annotations

import espkit
from espkit.fleet import Connection, CustomerSpec, DesiredDomain, Fleet, Ownership, PoolSpec

#: a fleet's one connection, to the sandbox in memory
CONN = {"default": Connection("default", "sandbox", {"path": ":memory:"})}
#: what the fleets below own unless told otherwise
OWN = Ownership(domains=("*.example.com",))


def fleet_of(*domains: DesiredDomain, pools: tuple[PoolSpec, ...] = (),
             conn: dict[str, Connection] = CONN, own: Ownership = OWN,
             sub: str | None = None) -> Fleet:
    """A fleet of one customer, ``acme`` (on subaccount ``sub``), wanting ``domains``."""
    return Fleet(conn, pools=pools, customers=(CustomerSpec("acme", domains, subaccount=sub),),
                 ownership=own)


def v4(acct: espkit.Account) -> list[str]:
    """The account's IPv4 addresses, in its order."""
    return [ip.address for ip in acct.ips.list() if ":" not in ip.address]
