"""Checking a fleet file: the JSON Schema's errors reworded, espkit's own rules (connections,
pools, streams, templates, customers) and the ``Fleet`` built from what passes, with every
customer's domains expanded from the templates.

The checks of each section live in their own module, as one class each, and every class
builds on the sections it needs checked first::

    reader.Reader            YAML, the line of every value, ``problems``, the limits
    checker.Checker          shared state, ``error``, ``template_text``
    schema_errors.SchemaChecks            the JSON Schema, its errors reworded
    connections.ConnectionChecks          connections, ``default_connection``
    streams.StreamChecks                  pools, streams, creation options
    templates.TemplateChecks              what templates and customers may both set
    customers.CustomerChecks              customers (or their CSV file), domains expanded

``Loader`` is ``CustomerChecks`` and ``SchemaChecks`` together; this module runs them in
order (``Loader.fleet``) and checks ``safety`` and the numbers the schema bounds from below
only (``bounds``); the limits on what is read are ``espkit.fleet.reader``'s.

Internal: ``fleet.loads`` calls ``load_text`` once PyYAML and jsonschema are known to be
installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from espkit.errors import ValidationError
from espkit.fleet.checker import as_dict, as_strings, kind_of
from espkit.fleet.customers import CustomerChecks
from espkit.fleet.model import Fleet, FleetFileError, Ownership, Problem, Safety
from espkit.fleet.reader import (
    MAX_RATE_LIMIT,
    MAX_TIMEOUT,
    MIN_RATE_LIMIT,
    KeyPath,
    excerpt,
    hint_budget,
)
from espkit.fleet.schema_errors import SchemaChecks
from espkit.ramp import parse_ramps
from espkit.transport.ratelimit import parse_rate_limit


class Loader(CustomerChecks, SchemaChecks):
    """Checks what it read and builds the ``Fleet``; ``problems`` has every problem found."""

    def fleet(self, data: dict[str, Any]) -> Fleet:
        self.bounds(data)
        self.conns = self.connections(data)
        self.default = self.default_connection(data)
        pools = self.pools(data)
        self.defaults = self.options(data.get("defaults"), ("defaults",))
        streams = self.streams(data, pools)
        templates = {
            name: self.settings(conf, ("templates", name), streams)
            for name, conf in as_dict(data.get("templates")).items()
            if isinstance(conf, dict)
        }
        customers = self.customers(data, streams, templates)
        ownership = as_dict(data.get("ownership"))
        fleet = Fleet(
            connections=self.conns,
            pools=pools,
            streams={name: spec for name, (spec, _) in streams.items()},
            customers=customers,
            ownership=Ownership(
                domains=as_strings(ownership.get("domains")),
                pools=as_strings(ownership.get("pools")),
            ),
            safety=self.safety(as_dict(data.get("safety"))),
            source=self.source,
            default_connection=self.default,
        )
        return self.with_ramps(data, fleet)

    def with_ramps(self, data: dict[str, Any], fleet: Fleet) -> Fleet:
        """The ``ramps:`` section, checked by ``espkit.ramp`` against the fleet built so
        far (the schema only wants a mapping, so that each problem is said once)."""
        if "ramps" not in data:
            return fleet
        ramps, found = parse_ramps(data["ramps"], self.line_of, fleet)
        for where, message, line in found:
            self.report(Problem(message, where, line))
        return attrs.evolve(fleet, ramps=ramps)

    def bounds(self, data: dict[str, Any]) -> None:
        """A connection's ``rate_limit`` and ``timeout`` within sane ranges: the schema only
        wants them positive, and 1e-9 requests a second waits for ever."""
        for name, conf in as_dict(data.get("connections")).items():
            if not isinstance(conf, dict):
                continue
            path: KeyPath = ("connections", name)
            rate = conf.get("rate_limit")
            if isinstance(rate, str):
                self.budget(rate, (*path, "rate_limit"))
            self.within(rate, (*path, "rate_limit"),
                        MIN_RATE_LIMIT, MAX_RATE_LIMIT, "requests a second")
            timeout = conf.get("timeout")
            for i, value in enumerate(timeout if isinstance(timeout, list) else ()):
                self.within(value, (*path, "timeout", i), 0, MAX_TIMEOUT, "seconds")

    def budget(self, text: str, at: KeyPath) -> None:
        """A count per window (``"300/min"``) as ``connect`` reads it; a number written as
        text is held to the same bounds as a number."""
        try:
            parsed = parse_rate_limit(text)
        except ValidationError as exc:
            self.error(at, exc.reason)
            return
        if isinstance(parsed, float):
            self.within(parsed, at, MIN_RATE_LIMIT, MAX_RATE_LIMIT, "requests a second")

    def within(self, value: object, at: KeyPath, least: float, most: float, unit: str) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return  # not a number: the schema says so
        if value > most:
            self.error(at, f"must be at most {most:,} {unit}, got {value}")
        elif value < least:
            self.error(at, f"must be at least {least:,} {unit}, got {value}")

    def safety(self, conf: dict[str, Any]) -> Safety:
        values: dict[str, Any] = {}
        for key in ("max_delete", "max_reassign"):
            value = conf.get(key)
            at: KeyPath = ("safety", key)
            if isinstance(value, str) and value.strip().endswith("%"):
                try:
                    share = float(value.strip()[:-1]) / 100
                except ValueError:
                    continue  # the schema reported it
                if not 0 <= share <= 1:
                    self.error(at, f"{excerpt(value)} is not a share between 0% and 100%")
                    continue
                values[key] = share
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and (
                0 <= value <= 1
            ):
                values[key] = float(value)
        minimum = conf.get("min_existing")
        if isinstance(minimum, int) and not isinstance(minimum, bool) and minimum >= 0:
            values["min_existing"] = minimum
        return Safety(**values)


def _prepare(loader: Loader, data: dict[str, Any]) -> None:
    """Empty sections and entries (``pools:`` with nothing under it, ``marketing:`` with
    no settings) read as empty; a customers CSV file is read in place of the list."""
    for section in ("connections", "ownership", "safety", "defaults", "pools", "streams",
                    "templates"):
        if section in data and data[section] is None:
            data[section] = {}
    for section in ("pools", "streams", "templates"):
        entries = data.get(section)
        if isinstance(entries, dict):
            for name, conf in entries.items():
                if conf is None:
                    entries[name] = {}
    if "customers" in data and data["customers"] is None:
        data["customers"] = []
    if data.get("default_connection", "") is None:
        del data["default_connection"]
    if isinstance(data.get("customers"), str) and data["customers"]:
        streams = data.get("streams")
        data["customers"] = loader.read_csv(
            data["customers"], streams if isinstance(streams, dict) else ()
        )


def load_text(text: str, source: str, base_dir: Path,
              allowed_paths: tuple[str, ...] = ()) -> Fleet:
    """``fleet.loads``: the ``Fleet``, or ``FleetFileError`` listing every problem.
    ``allowed_paths``: the caller's opt-ins for files outside ``base_dir``."""
    loader = Loader(source, base_dir, allowed_paths)
    fleet: Fleet | None = None
    with hint_budget():
        data = loader.parse(text)
        if data is not None and not isinstance(data, dict):
            loader.add((), f"the file must be a mapping of keys (version, connections, ...), "
                           f"not {kind_of(data)}")
        elif isinstance(data, dict):
            _prepare(loader, data)
            loader.check_schema(data)
            fleet = loader.fleet(data)
    problems = _sorted(loader.problems)
    if loader.full:  # checks stop looking at MAX_PROBLEMS; no line: listed first
        more = f" ({loader.dropped:,} more found, not listed)" if loader.dropped else ""
        problems.insert(0, Problem(f"stopped after {len(loader.problems):,} problems{more}: "
                                   "fix these and load it again"))
    if problems or fleet is None:
        raise FleetFileError(source, problems)
    return fleet


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line if p.line is not None else 0))


__all__ = [
    "Loader",
    "load_text",
]
