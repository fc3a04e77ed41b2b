"""The ``ramps:`` section of a fleet file: checked, every problem with its line, and turned
into ``Ramp`` values. The fleet loader calls ``parse_ramps`` with the section as read, its
``line_of`` and the ``Fleet`` built from the rest of the file, and turns the problems into
its own (``espkit.fleet`` sits above this package, so they come back as plain tuples).

The section's shape is in ``espkit.ramp.model``'s docstring, with an example.

Shares are written with ``%`` and at most four decimals (read exactly, as parts per
million); explicit steps rise strictly, from above 0 % to at most 100 %.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from espkit.errors import ValidationError
from espkit.ramp.capacity import derive_steps
from espkit.ramp.model import (
    NAME,
    PPM,
    Guardrails,
    Ramp,
    RoutingKey,
    Salt,
    WarmupSpec,
    parse_share,
)
from espkit.warmup import schedule

if TYPE_CHECKING:
    from espkit.fleet.model import Fleet

Path = tuple[str | int, ...]
#: what ``parse_ramps`` reports: (path as text, message, line)
ProblemTuple = tuple[str, str, int | None]
KEYS = ("from", "to", "streams", "key", "steps", "schedule", "warmup", "daily_volume",
        "start", "salt", "guardrails", "description")
GUARDRAIL_KEYS = ("max_bounce_rate", "max_complaint_rate", "min_sent", "window_days")
MAX_STEPS = 1000
MAX_VOLUME = 10**12
MAX_MIN_SENT = 10**9
MAX_WINDOW = 90
#: customers named in a coverage problem before the rest are counted
MAX_NAMED = 5


def path_text(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _shown(value: object, limit: int = 60) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[: limit - 3] + "...")
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'} of {len(value)}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hint(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1) if len(word) <= 64 else []
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Parser:
    def __init__(self, line_of: Callable[[Path], int | None], fleet: Fleet) -> None:
        self.line_of = line_of
        self.fleet = fleet
        self.problems: list[ProblemTuple] = []
        self.failed = False  # the ramp being read has a problem

    def error(self, path: Path, message: str) -> None:
        self.failed = True
        self.problems.append((path_text(path), message, self.line_of(path)))

    # -- values ---------------------------------------------------------------------------
    def connection(self, value: object, at: Path) -> str | None:
        if not isinstance(value, str) or not value:
            self.error(at, "must name a connection")
            return None
        if value not in self.fleet.connections:
            self.error(at, f"unknown connection {_shown(value)}"
                           f"{_hint(value, self.fleet.connections)}")
            return None
        return value

    def day(self, value: object, at: Path) -> date | None:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value.strip()) if len(value) <= 12 else value
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        self.error(at, f"{_shown(value)} is not a date: write YYYY-MM-DD")
        return None

    def share(self, value: object, at: Path, *, zero: bool) -> int | None:
        try:
            ppm = parse_share(value)
        except ValidationError as exc:
            self.error(at, f"{_shown(value)} {exc.reason}")
            return None
        if ppm == 0 and not zero:
            self.error(at, "must be above 0%")
            return None
        return ppm

    def whole(self, value: object, at: Path, least: int, most: int, unit: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            self.error(at, f"{_shown(value)} must be a whole number of {unit}, {least:,} to "
                           f"{most:,}")
            return None
        return value

    # -- sections of a ramp ---------------------------------------------------------------
    def streams(self, value: object, at: Path, old_conn: str | None, new_conn: str | None,
                taken: dict[str, Path]) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            self.error(at, "must map each stream to move to its twin on the new side, e.g. "
                           "{news: news-new}")
            return {}
        known = self.fleet.streams
        out: dict[str, str] = {}
        for old, new in value.items():
            here = (*at, old)
            ok = True
            for name, conn, side in ((old, old_conn, "from"), (new, new_conn, "to")):
                if not isinstance(name, str) or name not in known:
                    self.error(here, f"unknown stream {_shown(name)}"
                                     f"{_hint(name, known) if isinstance(name, str) else ''}")
                    ok = False
                elif conn is not None and known[name].connection != conn:
                    self.error(here, f"stream {name!r} is on connection "
                                     f"{known[name].connection!r}, not the ramp's {side} "
                                     f"connection {conn!r}")
                    ok = False
            if not ok:
                continue
            if new in out.values():
                self.error(here, f"stream {new!r} is already a stream of this ramp: each old "
                                 "stream has its own twin")
                continue
            clash = [name for name in (old, new) if name in taken]
            if clash:
                self.error(here, f"stream {clash[0]!r} is already moved by another ramp "
                                 f"(line {self.line_of(taken[clash[0]])})")
            else:
                taken[old] = taken[new] = here
                out[old] = new
                self.coverage(old, new, here, old_conn, new_conn)
        return out

    def coverage(self, old: str, new: str, at: Path, old_conn: str | None,
                 new_conn: str | None) -> None:
        """Every customer of ``old`` has a domain of ``new`` (the route's other side), and
        each domain is on its side's connection (a customer may name its own)."""
        has: dict[str, set[str]] = {}
        elsewhere: list[str] = []
        for domain in self.fleet.domains():
            has.setdefault(domain.customer, set()).add(domain.stream)
            side = {old: old_conn, new: new_conn}.get(domain.stream)
            if side is not None and domain.connection != side:
                elsewhere.append(f"{domain.name!r} (on {domain.connection!r}, not {side!r})")
        if elsewhere:
            more = f" and {len(elsewhere) - MAX_NAMED:,} more" \
                if len(elsewhere) > MAX_NAMED else ""
            self.error(at, f"domain(s) {', '.join(elsewhere[:MAX_NAMED])}{more} are on "
                           "another connection than their side of the ramp")
        lacking = sorted(c for c, streams in has.items() if old in streams
                         and new not in streams)
        if lacking:
            named = ", ".join(repr(c) for c in lacking[:MAX_NAMED])
            more = f" and {len(lacking) - MAX_NAMED:,} more" if len(lacking) > MAX_NAMED else ""
            self.error(at, f"customer(s) {named}{more} send on {old!r} but have no domain of "
                           f"{new!r} on the new side: give them the stream {new!r}")

    def warmup(self, value: object, at: Path) -> WarmupSpec | None:
        if value is None:
            return WarmupSpec()
        conf: dict[str, Any] = {"schedule": value} if isinstance(value, str) else \
            value if isinstance(value, dict) else {}
        if not conf:
            self.error(at, "must be a schedule name or {schedule, started}")
            return None
        for key in conf:
            if key not in ("schedule", "started"):
                self.error((*at, key), f"unknown key {_shown(key)}: warmup has schedule "
                                       "and started")
                return None
        name = conf.get("schedule", WarmupSpec().schedule)
        where = at if isinstance(value, str) else (*at, "schedule")
        try:
            schedule(name)
        except ValidationError as exc:
            self.error(where, f"{_shown(name)}: {exc.reason}")
            return None
        started = None
        if "started" in conf:
            started = self.day(conf["started"], (*at, "started"))
            if started is None:
                return None
        return WarmupSpec(name, started)

    def volumes(self, value: object, at: Path, streams: Mapping[str, str],
                declared: object) -> dict[str, int]:
        """Volumes of this ramp's streams (``declared``: the streams as written, so that a
        stream refused for another reason is not reported again here)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(at, "must map streams to messages a day, e.g. {news: 1200000}")
            return {}
        out: dict[str, int] = {}
        for name, volume in value.items():
            if name not in streams:
                if not isinstance(declared, dict) or name not in declared:
                    self.error((*at, name), f"{_shown(name)} is not one of this ramp's "
                                            f"streams ({', '.join(streams) or 'none'})")
                continue
            checked = self.whole(volume, (*at, name), 0, MAX_VOLUME, "messages a day")
            if checked is not None:
                out[name] = checked
        return out

    def guardrails(self, value: object, at: Path) -> Guardrails:
        if value is None:
            return Guardrails()
        if not isinstance(value, dict):
            self.error(at, "must be a mapping of " + ", ".join(GUARDRAIL_KEYS))
            return Guardrails()
        fields: dict[str, int] = {}
        for key, item in value.items():
            here = (*at, key)
            if key in ("max_bounce_rate", "max_complaint_rate"):
                share = self.share(item, here, zero=False)
                if share is not None:
                    fields[key] = share
            elif key == "min_sent":
                sent = self.whole(item, here, 1, MAX_MIN_SENT, "messages")
                if sent is not None:
                    fields[key] = sent
            elif key == "window_days":
                window = self.whole(item, here, 1, MAX_WINDOW, "days")
                if window is not None:
                    fields[key] = window
            else:
                self.error(here, f"unknown key {_shown(key)}{_hint(str(key), GUARDRAIL_KEYS)}"
                                 f": guardrails have {', '.join(GUARDRAIL_KEYS)}")
        return Guardrails(**fields)

    def steps(self, conf: dict[str, Any], at: Path) -> tuple[int, ...] | bool | None:
        """The explicit steps, True for ``schedule: warmup``, None after a problem."""
        if ("steps" in conf) == ("schedule" in conf):
            self.error(at, "give either steps (a list of shares) or schedule: warmup")
            return None
        if "schedule" in conf:
            if conf["schedule"] != "warmup":
                self.error((*at, "schedule"), f"{_shown(conf['schedule'])}: the only "
                                              "schedule is warmup (or give steps)")
                return None
            return True
        value = conf["steps"]
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
            self.error((*at, "steps"), f"must be a list of 1 to {MAX_STEPS} shares, e.g. "
                                       "[1%, 5%, 25%, 100%]")
            return None
        out: list[int] = []
        for i, item in enumerate(value):
            share = self.share(item, (*at, "steps", i), zero=False)
            if share is None:
                return None
            if out and share <= out[-1]:
                self.error((*at, "steps", i), f"{_shown(item)} does not rise above the step "
                                              "before it: steps rise strictly (hold to stay)")
                return None
            out.append(share)
        return tuple(out)

    # -- one ramp -------------------------------------------------------------------------
    def ramp(self, name: object, conf: object, taken: dict[str, Path]) -> Ramp | None:
        self.failed = False
        at: Path = ("ramps", str(name))
        if not isinstance(name, str) or not NAME.fullmatch(name):
            self.error(at, f"{_shown(name)} is not a ramp name: 1-64 letters, digits, '.', "
                           "'_' or '-', starting with a letter or digit")
            return None
        if not isinstance(conf, dict):
            self.error(at, "must be a mapping: from, to, streams, steps, start, salt ...")
            return None
        for key in conf:
            if key not in KEYS:
                self.error((*at, key), f"unknown key {_shown(key)}{_hint(str(key), KEYS)}")
        for key in ("from", "to", "streams", "start", "salt"):
            if key not in conf:
                self.error(at, f"lacks {key}")
        old_conn = self.connection(conf.get("from"), (*at, "from")) if "from" in conf else None
        new_conn = self.connection(conf.get("to"), (*at, "to")) if "to" in conf else None
        if old_conn is not None and old_conn == new_conn:
            self.error((*at, "to"), "is the from connection: a ramp moves between two")
        streams = self.streams(conf["streams"], (*at, "streams"), old_conn, new_conn, taken) \
            if "streams" in conf else {}
        key = RoutingKey.RECIPIENT
        if "key" in conf:
            try:
                key = RoutingKey(conf["key"])
            except ValueError:
                self.error((*at, "key"), f"{_shown(conf['key'])} must be recipient, customer "
                                         "or domain")
        steps = self.steps(conf, at)
        warmup = self.warmup(conf.get("warmup"), (*at, "warmup"))
        volumes = self.volumes(conf.get("daily_volume"), (*at, "daily_volume"), streams,
                               conf.get("streams"))
        start = self.day(conf["start"], (*at, "start")) if "start" in conf else None
        salt = None
        if "salt" in conf:
            try:
                salt = Salt(conf["salt"])
            except ValidationError as exc:
                self.error((*at, "salt"), exc.reason)  # the reason never quotes the salt
        guardrails = self.guardrails(conf.get("guardrails"), (*at, "guardrails"))
        if "description" in conf and not isinstance(conf["description"], str):
            self.error((*at, "description"), "must be text")
        if self.failed or steps is None or warmup is None or start is None or salt is None \
                or old_conn is None or new_conn is None:
            return None
        ramp = Ramp(name=name, from_connection=old_conn, to_connection=new_conn,
                    streams=tuple(streams.items()), key=key,
                    steps=steps if isinstance(steps, tuple) else (PPM,), start=start, salt=salt,
                    guardrails=guardrails, warmup=warmup, daily_volume=tuple(volumes.items()),
                    derived=steps is True, line=self.line_of(at))
        if steps is True:
            try:
                derived = derive_steps(self.fleet, ramp)
            except ValidationError as exc:
                self.error((*at, "schedule"), f"{exc.field} {_shown(exc.value)}: {exc.reason}")
                return None
            ramp = attrs.evolve(ramp, steps=derived)
        return ramp


def parse_ramps(section: object, line_of: Callable[[Path], int | None], fleet: Fleet
                ) -> tuple[tuple[Ramp, ...], list[ProblemTuple]]:
    """The ramps of a fleet file's ``ramps:`` section (``section``: the value read, None
    when the file has none) and every problem as ``(path, message, line)``, e.g.
    ``("ramps.to-sg.steps[2]", "'5%' does not rise above ...", 41)``. ``line_of`` maps a key
    path (``("ramps", "to-sg", "steps", 2)``) to its line; ``fleet`` is the fleet the rest of
    the file built (its connections, streams, customers and pools). Only ramps without a
    problem are returned."""
    parser = _Parser(line_of, fleet)
    if section is None:
        return (), []
    if not isinstance(section, dict):
        parser.error(("ramps",), "must be a mapping of ramp names to ramps")
        return (), parser.problems
    ramps: list[Ramp] = []
    taken: dict[str, Path] = {}
    folded: dict[str, str] = {}
    for name, conf in section.items():
        if isinstance(name, str) and name.lower() in folded:
            parser.error(("ramps", name), f"ramp {name!r} differs from ramp "
                                          f"{folded[name.lower()]!r} only in case")
            continue
        if isinstance(name, str):
            folded[name.lower()] = name
        ramp = parser.ramp(name, conf, taken)
        if ramp is not None:
            ramps.append(ramp)
    return tuple(ramps), parser.problems


__all__ = [
    "ProblemTuple",
    "parse_ramps",
]
