"""Migration ramps: move a fleet's streams from one ESP connection to another over days,
deterministically per recipient (or customer, or recipient domain), within the new IPs'
warmup capacity, with guardrails and rollback.

    ramps, problems = parse_ramps(section, line_of, fleet)     # the fleet file's ramps:
    state = load_state(state_path("fleet.yaml"))               # the decisions so far
    send = router(fleet, on=date.today(), state=state, ramps=ramps)
    send("acme", "news", "ana@example.com")    # -> SendingRoute(connection, from_domain, ...)
    state = advance(ramps[0], state, today, stats_rows=rows)   # refused on a breach
    save_state(state_path("fleet.yaml"), state)

``route`` is pure: the same fleet, ramp, state, key and day give the same route in every
process and language (``export`` and docs/ramp-vectors.json say how). Layered below
``espkit.fleet`` (whose loader calls ``parse_ramps``) and above ``espkit.bulk``.
"""

from __future__ import annotations

from espkit.ramp.capacity import CapacityDay, CapacityPlan, derive_steps, over_days, plan
from espkit.ramp.export import RoutingDefinition, export, load_export
from espkit.ramp.model import (
    PPM,
    Action,
    Decision,
    Guardrails,
    Position,
    Ramp,
    RampState,
    RoutingKey,
    Salt,
    SendingRoute,
    WarmupSpec,
    format_share,
    parse_share,
)
from espkit.ramp.parse import parse_ramps
from espkit.ramp.route import Router, bucket, normalise_key, route, router
from espkit.ramp.sending import send_options
from espkit.ramp.state import (
    RampStatus,
    Reading,
    advance,
    check,
    hold,
    position,
    resume,
    rollback,
    status,
)
from espkit.ramp.statefile import (
    dumps_state,
    load_state,
    loads_state,
    save_state,
    state_path,
)

__all__ = [
    "PPM",
    "Action",
    "CapacityDay",
    "CapacityPlan",
    "Decision",
    "Guardrails",
    "Position",
    "Ramp",
    "RampState",
    "RampStatus",
    "Reading",
    "Router",
    "RoutingDefinition",
    "RoutingKey",
    "Salt",
    "SendingRoute",
    "WarmupSpec",
    "advance",
    "bucket",
    "check",
    "derive_steps",
    "dumps_state",
    "export",
    "format_share",
    "hold",
    "load_export",
    "load_state",
    "loads_state",
    "normalise_key",
    "over_days",
    "parse_ramps",
    "parse_share",
    "plan",
    "position",
    "resume",
    "rollback",
    "route",
    "router",
    "save_state",
    "send_options",
    "state_path",
    "status",
]
