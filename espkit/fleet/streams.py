"""Checking the ``pools`` and ``streams`` of a fleet file, what a sending domain sends from
and with: IP lists (valid, listed once, an IP in one pool of a connection where the
provider says so), pool references, a stream's connection and domain template, and the
creation ``options`` that ``defaults``, streams and overrides set.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from typing import Any

from espkit import providers, validate, warmup
from espkit.errors import ConfigError, ValidationError
from espkit.fleet.checker import as_dict
from espkit.fleet.connections import ConnectionChecks
from espkit.fleet.model import DEFAULT_DOMAIN_TEMPLATE, PoolSpec, StreamSpec, WarmupSpec
from espkit.fleet.placeholders import DOMAIN_FIELDS
from espkit.fleet.reader import KeyPath, did_you_mean, excerpt, listing


class StreamChecks(ConnectionChecks):
    """Pools and streams; needs the connections checked first (``self.conns``)."""

    def pool_ref(self, name: object, at: KeyPath) -> str | None:
        if not isinstance(name, str):
            return None
        if name not in self.pool_conn:
            self.error(at, f"unknown pool {excerpt(name)}{did_you_mean(name, self.pool_conn)}; "
                           f"defined: {listing(self.pool_conn) or 'none'}")
        return name

    def ips(self, value: object, path: KeyPath) -> list[tuple[int, str]]:
        """The valid addresses of a list, canonical, with their positions."""
        out: list[tuple[int, str]] = []
        if not isinstance(value, list):
            return out
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            try:
                ip = validate.ip_address(item)
            except ValidationError as exc:
                self.error((*path, i), str(exc))
                continue
            if ip in seen:
                self.error((*path, i), f"IP {ip} is listed twice "
                                       f"(also on {self.where((*path, seen[ip]))})")
                continue
            seen[ip] = i
            out.append((i, ip))
        return out

    def warmup(self, value: object, path: KeyPath) -> WarmupSpec | None:
        """A ``warmup:`` value; its shape (``auto``, ``off`` or a mapping with
        ``schedule``) is the schema's to report, the schedule's name and date are ours."""
        line = self.line_of(path)
        if value in ("auto", "off"):
            return WarmupSpec(str(value), line=line)
        if isinstance(value, str):
            self.error(path, f"{excerpt(value)} is not a warmup: write auto, off or "
                             "{schedule: NAME, started: YYYY-MM-DD}")
            return None
        if not isinstance(value, dict) or not isinstance(value.get("schedule"), str):
            return None
        name = value["schedule"]
        if name not in warmup.schedules():
            self.error((*path, "schedule"),
                       f"unknown warmup schedule {excerpt(name)}"
                       f"{did_you_mean(name, warmup.schedules())}; known: "
                       f"{listing(warmup.schedules())}")
            return None
        started = value.get("started")
        day: date | None = None
        if started is not None:
            # YAML reads an unquoted 2026-12-01 as a date already; a datetime is a date too
            # but names a time, which a sending day is not
            if isinstance(started, date) and not isinstance(started, datetime):
                day = started
            elif isinstance(started, str):
                with contextlib.suppress(ValueError):
                    day = date.fromisoformat(started)
            if day is None:
                self.error((*path, "started"), f"{excerpt(started)} is not a day (YYYY-MM-DD)")
                return None
        return WarmupSpec("schedule", name, day, line=line)

    def exclusive(self, connection: str) -> bool:
        conn = self.conns.get(connection)
        if conn is None:
            return True
        try:
            return providers.get(conn.provider).EXCLUSIVE_POOLS
        except ConfigError:
            return True

    def pools(self, data: dict[str, Any]) -> tuple[PoolSpec, ...]:
        out: list[PoolSpec] = []
        holder: dict[tuple[str, str], tuple[str, KeyPath]] = {}
        for name, conf in as_dict(data.get("pools")).items():
            if not isinstance(conf, dict):
                continue
            path: KeyPath = ("pools", name)
            given = conf.get("connection")
            self.connection_ref(given, (*path, "connection"))
            connection = given if isinstance(given, str) and given else self.default
            ips = self.ips(conf.get("ips"), (*path, "ips"))
            exclusive = self.exclusive(connection)
            for i, ip in ips:
                at = (*path, "ips", i)
                other = holder.get((connection, ip))
                if other is not None and exclusive:
                    self.error(at, f"IP {ip} is also in pool {other[0]!r} ({self.where(other[1])})"
                                   f": an IP belongs to one pool of a connection")
                else:
                    holder[(connection, ip)] = (name, at)
            self.pool_conn[name] = connection
            description = conf.get("description")
            out.append(PoolSpec(
                name, connection, tuple(ip for _, ip in ips),
                description if isinstance(description, str) else None, self.line_of(path),
                self.warmup(conf["warmup"], (*path, "warmup")) if "warmup" in conf else None,
            ))
        return tuple(out)

    def options(self, value: object, path: KeyPath) -> dict[str, tuple[Any, KeyPath]]:
        """Checked creation options, each with where it was set."""
        out: dict[str, tuple[Any, KeyPath]] = {}
        for key, item in as_dict(value).items():
            if key not in validate.DOMAIN_OPTIONS:
                continue  # not an option: the schema reported it
            at = (*path, key)
            try:
                out[key] = (validate.domain_option(key, item), at)
            except ValidationError as exc:
                self.error(at, str(exc))
        return out
    def stream_warmup(self, conf: dict[str, Any], path: KeyPath, pool: str | None,
                      pools: dict[str, PoolSpec]) -> WarmupSpec | None:
        if "warmup" not in conf:
            return None
        at = (*path, "warmup")
        warm = self.warmup(conf["warmup"], at)
        if pool is None and not conf.get("ips"):
            self.error(at, "warms up nothing: the stream sends from no pool or IPs of its own")
            return None
        declared = pools[pool].warmup if pool in pools else None
        if warm is not None and declared is not None and declared != warm:
            self.error(at, f"{warm.describe()} disagrees with pool {pool!r}'s "
                           f"{declared.describe()} (line {declared.line}): the IPs are one "
                           "set, warmed one way")
        return warm

    def streams(self, data: dict[str, Any],
                pools: tuple[PoolSpec, ...] = ()) -> dict[str, tuple[StreamSpec, bool]]:
        """Each stream, and whether its domain template is usable."""
        by_name = {p.name: p for p in pools}
        out: dict[str, tuple[StreamSpec, bool]] = {}
        for name, conf in as_dict(data.get("streams")).items():
            if not isinstance(conf, dict):
                continue
            path: KeyPath = ("streams", name)
            pool = self.pool_ref(conf.get("pool"), (*path, "pool"))
            ips = tuple(ip for _, ip in self.ips(conf.get("ips"), (*path, "ips")))
            if pool is not None and "ips" in conf:
                self.error(path, "gives both pool and ips: a stream sends from one or the other",
                           at=(*path, "ips"))
            connection = self.connection_ref(conf.get("connection"), (*path, "connection"))
            connection = connection or self.default
            owner = self.pool_conn.get(pool or "")
            if pool is not None and owner is not None and owner != connection:
                self.error((*path, "pool"), f"pool {pool!r} is on connection {owner!r}, but this "
                                            f"stream's domains are on {connection!r}")
            domain = self.template_text(conf.get("domain", DEFAULT_DOMAIN_TEMPLATE),
                                        (*path, "domain"), DOMAIN_FIELDS)
            options = self.options(conf.get("options"), (*path, "options"))
            warm = self.stream_warmup(conf, path, pool, by_name)
            spec = StreamSpec(
                name=name, pool=pool, ips=ips,
                domain=domain[0] if domain else DEFAULT_DOMAIN_TEMPLATE,
                connection=connection, options={k: v for k, (v, _) in options.items()},
                line=self.line_of(path), warmup=warm,
            )
            self.stream_options[name] = options
            out[name] = (spec, domain[2] if domain else False)
        return out


__all__ = [
    "StreamChecks",
]
