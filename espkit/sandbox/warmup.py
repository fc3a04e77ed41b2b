"""The sandbox's simulated IP warmup: a plan per dedicated IP that moves through an
``espkit.warmup`` schedule one sending day at a time, on the sandbox clock.

A plan names its schedule, when it began, and an anchor: a day and the stage the IP was on
that day (starting sets today and stage 1, or the stage asked for; moving a warming IP back
re-anchors it). The stage on a later day is read from the IP's traffic, the days on which
sends were recorded on it (``sends``), under the schedule's pause rules
(``espkit.warmup.SendingDays``): a day without traffic does not move the IP on, a week of
silence steps it back, a month restarts it. The anchor's stage enters as that many days of
traffic just before the anchor day, so a pause after it steps back from there.

An IP is warm once a day of traffic has completed the schedule's last stage, and stays warm
(an ESP ends its plan then): a later pause does not put it back on warmup. An IP marked
``warming_up`` without a plan (the seeded ones, those of a file made before plans) warms on
the default schedule from its first recorded send.

Routes::

    GET    /v1/warmups?limit=&cursor=   every dedicated IP's warmup, in IP order
    GET    /v1/ips/{ip}/warmup
    PUT    /v1/ips/{ip}/warmup  {"schedule", "stage"}   start (repeatable); with a stage
                                                        lower than a warming IP's, move it back
    DELETE /v1/ips/{ip}/warmup          stop; answers the IP's new status

A status: ``{"ip", "state": "not_started" | "warming" | "warm", "schedule", "stage",
"stages", "daily_cap", "hourly_cap", "overflow", "started_at"}``; mail over a warming IP's
cap goes to the shared IPs (``overflow: "shared"``).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from typing import Any

import attrs

from espkit.errors import ValidationError
from espkit.sandbox import calls
from espkit.sandbox.clock import Clock
from espkit.sandbox.sends import traffic_days
from espkit.sandbox.store import ApiError, Store, canonical_ip, not_found
from espkit.warmup import Schedule, SendingDays, schedule, schedules

DEFAULT_SCHEDULE = "conservative"
OVERFLOW = "shared"
NOT_STARTED, WARMING, WARM = "not_started", "warming", "warm"
_ONE_DAY = timedelta(days=1)
_SELECT = ("SELECT ips.seq, ips.address, ips.warming_up, warmups.schedule, warmups.started_at,"
           " warmups.anchor_day, warmups.anchor_stage FROM ips"
           " LEFT JOIN warmups ON warmups.ip_seq = ips.seq")


@attrs.frozen
class Plan:
    schedule: Schedule
    started_at: float | None
    anchor_day: date | None  # None: from the IP's first recorded send
    anchor_stage: int = 1


def today(now: float) -> date:
    return datetime.fromtimestamp(now, timezone.utc).date()


def _plan(row: sqlite3.Row) -> Plan | None:
    if row["schedule"] is None:
        return Plan(schedule(DEFAULT_SCHEDULE), None, None) if row["warming_up"] else None
    # a name this espkit does not ship (a newer one wrote it): the default, not an error
    name = row["schedule"] if row["schedule"] in schedules() else DEFAULT_SCHEDULE
    return Plan(schedule(name), row["started_at"], date.fromisoformat(row["anchor_day"]),
                int(row["anchor_stage"]))


def progress(plan: Plan, traffic: list[date], day: date) -> tuple[str, int | None]:
    """(state, stage on ``day``) of an IP on ``plan`` whose days of traffic are ``traffic``."""
    stages = plan.schedule.days
    anchor = plan.anchor_day or (traffic[0] if traffic else day)
    lead = [anchor - timedelta(days=n) for n in range(plan.anchor_stage - 1, 0, -1)]
    sending = SendingDays([*lead, *(d for d in traffic if d >= anchor)],
                          plan.schedule.pause_rules)
    # the stage after a day of traffic is one more than the stages done by its end: past the
    # last one, the IP is warm from the next day on (index + 1 bounds the stages done)
    for index, sent in enumerate(sending.traffic):
        if index + 1 >= stages and sent < day and sending.day(sent + _ONE_DAY) > stages:
            return WARM, None
    # never past the last stage here: a day of traffic that took it past would be found above
    return WARMING, sending.day(day)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


class Warmups:
    """The warmup routes, and the warming flag of the IP listing."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def routes(self) -> list[calls.Route]:
        return [
            ("GET", "/v1/warmups", self._list),
            ("GET", "/v1/ips/{ip}/warmup", self._get),
            ("PUT", "/v1/ips/{ip}/warmup", self._start),
            ("DELETE", "/v1/ips/{ip}/warmup", self._stop),
        ]

    def _status(self, db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        plan = _plan(row)
        out: dict[str, Any] = {
            "ip": row["address"], "state": NOT_STARTED, "schedule": None, "stage": None,
            "stages": None, "daily_cap": None, "hourly_cap": None, "overflow": None,
            "started_at": None}
        if plan is None:
            return out
        traffic = traffic_days(db, row["address"], plan.anchor_day)
        state, stage = progress(plan, traffic, today(self.clock.time()))
        sched = plan.schedule
        out.update(state=state, schedule=sched.name, stages=sched.days,
                   started_at=_iso(plan.started_at))
        if stage is not None:
            out.update(stage=stage, daily_cap=sched.cap(stage),
                       hourly_cap=sched.hourly_cap(stage), overflow=OVERFLOW)
        return out

    def _row(self, db: sqlite3.Connection, address: str) -> sqlite3.Row:
        address = canonical_ip(address)
        row: sqlite3.Row | None = db.execute(f"{_SELECT} WHERE address = ?",
                                             (address,)).fetchone()
        if row is None:
            raise not_found(f"dedicated IP {address}")
        return row

    def warming_flags(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """IPs as ``store`` answers them, with ``warming_up`` true only while warming: the
        column says an IP has a plan, which it keeps once warm."""
        with self.store.reading() as db:
            for item in items:
                if item.get("warming_up"):
                    state = self._status(db, self._row(db, item["address"]))["state"]
                    item["warming_up"] = state == WARMING
        return items

    # -- handlers ------------------------------------------------------------------------------

    def _list(self, call: calls.CallLike) -> tuple[int, Any]:
        after, limit = calls.window(calls.only_fields(call, {"limit", "cursor"}))
        with self.store.reading() as db:
            rows = db.execute(f"{_SELECT} WHERE ips.seq > ? ORDER BY ips.seq LIMIT ?",
                              (after, limit + 1)).fetchall()
            items = [self._status(db, r) for r in rows[:limit]]
        last = int(rows[limit - 1]["seq"]) if len(rows) > limit else None
        return 200, {"items": items, "next_cursor": calls.cursor(last)}

    def _get(self, call: calls.CallLike) -> tuple[int, Any]:
        with self.store.reading() as db:
            return 200, self._status(db, self._row(db, call.params["ip"]))

    def _start(self, call: calls.CallLike) -> tuple[int, Any]:
        calls.main_only(call, "manage IP warmups")
        body = call.body if call.body is not None else {}
        if not isinstance(body, dict) or set(body) - {"schedule", "stage"}:
            raise ApiError(400, "invalid_request",
                           "the body must be a JSON object with schedule and stage only")
        sched = schedule(body.get("schedule", DEFAULT_SCHEDULE))
        stage = body.get("stage")
        if stage is not None and (isinstance(stage, bool) or not isinstance(stage, int)
                                  or not 1 <= stage <= sched.days):
            raise ValidationError("stage", stage, f"must be a whole number from 1 to "
                                                  f"{sched.days} ({sched.name}'s stages)")
        now = self.clock.time()
        with self.store.transaction() as db:
            row = self._row(db, call.params["ip"])
            status = self._status(db, row)
            if status["state"] == WARMING:
                if stage is None or stage == status["stage"]:
                    return 200, status  # already on its way: nothing to do
                if stage > status["stage"]:
                    raise ApiError(409, "conflict",
                                   f"{row['address']} is on stage {status['stage']}; a warming "
                                   "IP's stage can only be moved back")
                plan = _plan(row)
                assert plan is not None  # warming
                # back to an earlier stage: same plan, counted again from today
                self._write(db, row["seq"], plan.schedule.name, plan.started_at, now, stage)
            else:  # not started, or warm and started again: a new plan from today
                self._write(db, row["seq"], sched.name, now, now, stage or 1)
            return 200, self._status(db, self._row(db, row["address"]))

    def _write(self, db: sqlite3.Connection, seq: int, name: str, started: float | None,
               now: float, stage: int) -> None:
        db.execute("INSERT OR REPLACE INTO warmups (ip_seq, schedule, started_at, anchor_day, "
                   "anchor_stage) VALUES (?, ?, ?, ?, ?)",
                   (seq, name, started, today(now).isoformat(), stage))
        db.execute("UPDATE ips SET warming_up = 1 WHERE seq = ?", (seq,))

    def _stop(self, call: calls.CallLike) -> tuple[int, Any]:
        calls.main_only(call, "manage IP warmups")
        with self.store.transaction() as db:
            row = self._row(db, call.params["ip"])
            if self._status(db, row)["state"] == WARMING:
                db.execute("DELETE FROM warmups WHERE ip_seq = ?", (row["seq"],))
                db.execute("UPDATE ips SET warming_up = 0 WHERE seq = ?", (row["seq"],))
            # not warming (never started, or warm): nothing to stop
            return 200, self._status(db, self._row(db, row["address"]))


__all__ = ["DEFAULT_SCHEDULE", "OVERFLOW", "Plan", "Warmups", "progress", "today"]
