"""Whether a ramp's new side can take traffic: what ``plan`` would still change there for
the ramp's streams, and the domains its ESP has not verified. ``espkit ramp check`` and
``espkit ramp advance`` (before traffic grows) ask this; so can a script.
"""

from __future__ import annotations

import attrs

from espkit.account import Account
from espkit.fleet.model import Fleet
from espkit.fleet.planner import Action, Kind, plan
from espkit.models import Capability, DomainState
from espkit.ramp import Ramp


def ramp_readiness(fleet: Fleet, ramp: Ramp, acct: Account) -> list[str]:
    """What keeps the new side from taking traffic: what ``plan`` would still change there
    for the ramp's streams (domains to create or assign, pools, warmups to start) and
    domains the ESP has not verified. Empty: ready."""
    new_streams = {new for _, new in ramp.streams}
    wanted = {d.name for d in fleet.domains(ramp.to_connection) if d.stream in new_streams}
    pools = {s.pool for n, s in fleet.streams.items() if n in new_streams and s.pool}
    found: list[str] = []
    # the plan of the new side alone: the old side is not read
    one = attrs.evolve(fleet, connections={ramp.to_connection:
                                           fleet.connections[ramp.to_connection]})
    p = plan(one, {ramp.to_connection: acct})
    for c in p.changes:
        if c.connection != ramp.to_connection or c.action is Action.DELETE:
            continue
        if (c.kind is Kind.DOMAIN and c.name in wanted) or (
                c.kind is Kind.POOL and c.name in pools) or c.kind is Kind.WARMUP:
            found.append(f"{c.action} {c.kind} {c.name}: {c.reason}")
    found += [f"conflict: {x}" for x in p.conflicts]
    if Capability.DOMAINS in acct.capabilities:
        states = {d.name: d.state for d in acct.domains.list()}
        found += [f"domain {name} is {states[name]}, not verified" for name in sorted(wanted)
                  if name in states and states[name] is not DomainState.VERIFIED]
    return found


__all__ = ["ramp_readiness"]
