"""``espkit ramp ...``: operating a migration ramp declared in a fleet file (docs/ramp.md).

    espkit ramp plan FLEET               # per day and stream: shares, volumes, capacity
    espkit ramp check FLEET              # is the new side ready (domains, pools, warmups)?
    espkit ramp status FLEET             # today's step and the new side's guardrails
    espkit ramp advance FLEET            # the next step, unless held or a guardrail breached
    espkit ramp hold|resume FLEET        # stop advancing / allow it again
    espkit ramp rollback FLEET [--to-step N]
    espkit ramp route FLEET CUSTOMER STREAM KEY
    espkit ramp export FLEET --out routing.json

Decisions go to the ramp state file beside the fleet file (``<fleet>.ramp-state.yaml``),
which is reviewed in version control like the fleet file. ``plan``, ``check`` and
``status`` exit 3 when they find a day over capacity, a side not ready or a breached
guardrail, so a scheduled job can page someone; ``advance`` refuses (exit 2) in the same
cases unless ``--override``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from espkit import fleet as fleet_file
from espkit import ramp as ramps
from espkit.account import Account
from espkit.account.stats import day
from espkit.cli.accounts import fleet_trust, open_connection, trust_options
from espkit.cli.app import Ctx, cli, emit, handled, out, pass_ctx, to_plain
from espkit.cli.chart import bars
from espkit.errors import ConfigError, UnsafePlan
from espkit.fleet import Fleet, ramp_readiness
from espkit.models import DeliveryStats, StatsScope

Allow = tuple[str, ...]  # an --allow-* option's values
#: providers whose send API names a pool by its id, which only the account knows
POOL_BY_ID = frozenset({"mailgun", "sparkpost"})
#: what plan, check and status exit with when they find a problem
EXIT_FOUND = 3
FLEET = click.argument("fleet_path", metavar="FLEET", type=click.Path(dir_okay=False))
RAMP = click.option("--ramp", "ramp_name", help="The ramp to act on (needed when the fleet "
                                                "file declares several).")
ON = click.option("--on", "on", help="The day it is for, YYYY-MM-DD (default: today, UTC).")
BY = click.option("--by", default="", help="Who decides, recorded in the ramp state file.")
NOTE = click.option("--note", default="", help="Why, recorded in the ramp state file.")


@cli.group("ramp")
def ramp_group() -> None:
    """Migration ramps: move streams to a new ESP over sending days (docs/ramp.md)."""


def _trust(host: Allow, env: Allow, keyring_service: Allow, path: Allow) -> Any:
    return fleet_trust(host, env, keyring_service, path)


def _day(value: str | None) -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date() if value is None else day("on", value)


def _load(fleet_path: str, trust: Any, name: str | None) -> tuple[Fleet, ramps.Ramp]:
    fleet = fleet_file.load(fleet_path, trust=trust)
    if name is not None:
        return fleet, fleet.ramp(name)
    if len(fleet.ramps) != 1:
        known = ", ".join(r.name for r in fleet.ramps) or "none"
        raise ConfigError(f"{fleet_path} declares {len(fleet.ramps)} ramps ({known}): name "
                          "one with --ramp")
    return fleet, fleet.ramps[0]


def _state(fleet_path: str) -> ramps.RampState:
    return ramps.load_state(ramps.state_path(fleet_path))


def guardrail_rows(fleet: Fleet, ramp: ramps.Ramp, acct: Account, on: dt.date
                   ) -> list[DeliveryStats]:
    """The new side's delivery figures over the guardrails' window: per pool of the ramp's
    new streams where the ESP reports by pool, else the whole account."""
    first = on - dt.timedelta(days=ramp.guardrails.window_days - 1)
    pools = sorted({s.pool for name, s in fleet.streams.items()
                    if s.pool and name in {new for _, new in ramp.streams}})
    if pools and StatsScope.POOL in acct.provider.STATS_SCOPES:
        return [row for pool in pools for row in acct.stats.delivery(first, on, pool=pool)]
    return acct.stats.delivery(first, on)


@ramp_group.command("plan")
@FLEET
@RAMP
@click.option("--days", type=click.IntRange(1, 366), help="How many days to show (default: "
                                                          "the ramp's steps).")
@trust_options
@pass_ctx
@handled
def ramp_plan(ctx: Ctx, fleet_path: str, ramp_name: str | None, days: int | None,
              allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """Per day and stream: the share, each side's volume, and the new side's warmup
    capacity. Exits 3 when a day's volume is over the capacity, with the fix."""
    fleet, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
    result = ramps.plan(fleet, ramp, _state(fleet_path), days=days)
    if ctx.output == "json":
        emit(ctx, {"ramp": result.ramp, "schedule": result.schedule,
                   "days": to_plain(result.days)})
    else:
        t = Table("day", "date", "stream", "step", "share", "old", "new", "IPs", "capacity",
                  "over", title=f"ramp {ramp.name}: new side on {result.schedule}")
        for d in result.days:
            t.add_row(str(d.day), d.on.isoformat(), d.stream, str(d.step),
                      ramps.format_share(d.share), f"{d.old_volume:,}", f"{d.new_volume:,}",
                      str(d.ips), "-" if d.capacity is None else f"{d.capacity:,}",
                      "OVER" if d.over else "")
        out.print(t, markup=False)
        for stream in dict.fromkeys(d.stream for d in result.days):
            out.print(f"\n{stream}: new side's load against its capacity", markup=False)
            for line in bars([(f"day {d.day:>3}", d.load, d.capacity)
                              for d in result.days if d.stream == stream]):
                out.print(line, markup=False, highlight=False)
        for d in result.over:
            out.print(f"day {d.day} ({d.on}) {d.stream}: {d.fix}", markup=False)
    if result.over:
        sys.exit(EXIT_FOUND)


def _account(ctx: Ctx, fleet: Fleet, connection: str) -> Account:
    return open_connection(ctx, fleet.connections[connection])


@ramp_group.command("check")
@FLEET
@RAMP
@trust_options
@pass_ctx
@handled
def ramp_check(ctx: Ctx, fleet_path: str, ramp_name: str | None,
               allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """Whether the new side is ready: every domain of the ramp's streams created, assigned
    and verified, its pools made, its warmups started. Exits 3 when not."""
    fleet, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
    with _account(ctx, fleet, ramp.to_connection) as acct:
        found = ramp_readiness(fleet, ramp, acct)
    if ctx.output == "json":
        emit(ctx, {"ramp": ramp.name, "ready": not found, "problems": found})
    else:
        for line in found:
            out.print(f"not ready: {line}", markup=False, highlight=False)
        out.print(f"ramp {ramp.name}: the new side ({ramp.to_connection}) is "
                  + ("ready." if not found else f"not ready ({len(found)} problem(s))."),
                  markup=False, highlight=False)
    if found:
        sys.exit(EXIT_FOUND)


def _show_status(ctx: Ctx, s: ramps.RampStatus) -> None:
    if ctx.output == "json":
        emit(ctx, {"ramp": s.ramp, "on": s.on.isoformat(), "step": s.step, "steps": s.steps,
                   "share": ramps.format_share(s.share), "held": s.held,
                   "planned_step": s.planned_step, "complete": s.complete,
                   "breached": s.breached, "readings": [str(r) for r in s.readings]})
        return
    state = "held" if s.held else ("complete" if s.complete else "moving")
    out.print(f"ramp {s.ramp} on {s.on}: step {s.step} of {s.steps}, "
              f"{ramps.format_share(s.share)} on the new side ({state})",
              markup=False, highlight=False)
    for reading in s.readings:
        out.print(f"  {reading}", markup=False, highlight=False)


@ramp_group.command("status")
@FLEET
@RAMP
@ON
@trust_options
@pass_ctx
@handled
def ramp_status(ctx: Ctx, fleet_path: str, ramp_name: str | None, on: str | None,
                allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """Today's step and share, and the new side's bounce and complaint rates against the
    guardrails (from its delivery stats). Exits 3 when a guardrail is breached."""
    fleet, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
    day = _day(on)
    with _account(ctx, fleet, ramp.to_connection) as acct:
        rows = guardrail_rows(fleet, ramp, acct, day)
    s = ramps.status(ramp, _state(fleet_path), day, rows)
    _show_status(ctx, s)
    if s.breached:
        sys.exit(EXIT_FOUND)


def _decide(ctx: Ctx, fleet_path: str, ramp: ramps.Ramp, new: ramps.RampState,
            day: dt.date) -> None:
    ramps.save_state(ramps.state_path(fleet_path), new)
    _show_status(ctx, ramps.status(ramp, new, day))


@ramp_group.command("advance")
@FLEET
@RAMP
@ON
@click.option("--override", is_flag=True, help="Advance although the ramp is held, a "
                                               "guardrail is breached or the new side is "
                                               "not ready (recorded as forced).")
@BY
@NOTE
@trust_options
@pass_ctx
@handled
def ramp_advance(ctx: Ctx, fleet_path: str, ramp_name: str | None, on: str | None,
                 override: bool, by: str, note: str, allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """Move to the next step from ON, judging the guardrails from the new side's stats.
    Refused (exit 2) while held, breached or not ready, unless --override."""
    fleet, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
    day = _day(on)
    state = _state(fleet_path)
    with _account(ctx, fleet, ramp.to_connection) as acct:
        if ramps.position(ramp, state, day).step <= 1:  # before traffic grows: ready?
            found = ramp_readiness(fleet, ramp, acct)
            if found and not override:
                raise UnsafePlan(f"ramp {ramp.name}: the new side is not ready: "
                                 + "; ".join(found[:5])
                                 + (f" and {len(found) - 5} more" if len(found) > 5 else ""))
        rows = guardrail_rows(fleet, ramp, acct, day)
    new = ramps.advance(ramp, state, day, stats_rows=rows, force=override, by=by, note=note)
    _decide(ctx, fleet_path, ramp, new, day)


def _simple(action: str) -> Any:
    @FLEET
    @RAMP
    @ON
    @BY
    @NOTE
    @trust_options
    @pass_ctx
    @handled
    def command(ctx: Ctx, fleet_path: str, ramp_name: str | None, on: str | None, by: str,
                note: str, allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
        _, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
        day = _day(on)
        decide = ramps.hold if action == "hold" else ramps.resume
        _decide(ctx, fleet_path, ramp, decide(ramp, _state(fleet_path), day, by=by,
                                              note=note), day)

    command.__doc__ = ("Refuse advances from ON until a resume." if action == "hold"
                       else "Allow advances again from ON.")
    return command


ramp_group.command("hold")(_simple("hold"))
ramp_group.command("resume")(_simple("resume"))


@ramp_group.command("rollback")
@FLEET
@RAMP
@ON
@click.option("--to-step", type=int, help="The step to go back to (default: the previous "
                                          "one; 0: all traffic on the old side).")
@BY
@NOTE
@trust_options
@pass_ctx
@handled
def ramp_rollback(ctx: Ctx, fleet_path: str, ramp_name: str | None, on: str | None,
                  to_step: int | None, by: str, note: str, allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """Go back a step (or to --to-step) from ON: the keys that moved last move back."""
    _, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
    day = _day(on)
    new = ramps.rollback(ramp, _state(fleet_path), day, to_step=to_step, by=by, note=note)
    _decide(ctx, fleet_path, ramp, new, day)


@ramp_group.command("route")
@FLEET
@click.argument("customer")
@click.argument("stream")
@click.argument("key")
@ON
@trust_options
@pass_ctx
@handled
def ramp_route(ctx: Ctx, fleet_path: str, customer: str, stream: str, key: str,
               on: str | None, allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """Where one message of CUSTOMER's STREAM to KEY goes on ON: the connection, the
    from-domain and the options that make that ESP send it from the stream's pool."""
    fleet = fleet_file.load(fleet_path, trust=_trust(allow_host, allow_env,
                                                    allow_keyring_service, allow_path))
    day, state = _day(on), _state(fleet_path)
    got = ramps.route(fleet, customer, stream, key, on=day, state=state)
    conn = fleet.connections[got.connection]
    like = conn.options.get("like") if conn.provider == "sandbox" else conn.provider
    if got.pool is not None and like in POOL_BY_ID:
        # Mailgun and SparkPost name a pool by its id in a message: one listing of the
        # route's account says it
        with _account(ctx, fleet, got.connection) as acct:
            ids = {p.name: p.id for p in acct.pools.list() if p.id}
        got = ramps.route(fleet, customer, stream, key, on=day, state=state,
                          pool_ids={got.connection: ids})
    emit(ctx, to_plain(got))


@ramp_group.command("export")
@FLEET
@RAMP
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Write it to this file instead of stdout (it holds the salt: mode 0600).")
@trust_options
@pass_ctx
@handled
def ramp_export(ctx: Ctx, fleet_path: str, ramp_name: str | None, out_path: str,
                allow_host: Allow, allow_env: Allow,
        allow_keyring_service: Allow, allow_path: Allow) -> None:
    """The ramp's routing definition as JSON with a checksum, for a sender in another
    language (docs/ramp-vectors.json holds vectors to test it with)."""
    _, ramp = _load(fleet_path,
                        _trust(allow_host, allow_env, allow_keyring_service, allow_path),
                        ramp_name)
    text = ramps.export(ramp, _state(fleet_path))
    target = Path(out_path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    out.print(f"wrote ramp {ramp.name}'s routing definition to {target}", markup=False,
              highlight=False)


__all__ = ["EXIT_FOUND", "guardrail_rows", "ramp_group"]
