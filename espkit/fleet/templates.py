"""Checking what a ``templates`` entry and a customer may both set (streams, subaccount,
connection, per-stream domains and overrides): the ``Settings`` a customer's domains are
expanded from, its own over its template's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from espkit.fleet.checker import as_dict
from espkit.fleet.placeholders import DOMAIN_FIELDS, SUBACCOUNT_FIELDS
from espkit.fleet.reader import KeyPath, did_you_mean, excerpt, listing
from espkit.fleet.streams import StreamChecks


@attrs.define
class Override:
    """A template's or customer's override of one stream."""

    path: KeyPath
    pool: str | None = None
    ips: tuple[str, ...] = ()
    #: sets pool or ips: replaces what the stream sends from
    sends: bool = False
    options: dict[str, tuple[Any, KeyPath]] = attrs.Factory(dict)


@attrs.define
class Settings:
    """What a template and a customer may both set. Values that failed a check are left
    out (None), or kept with ``ok`` False when falling back to the template would mislead."""

    streams: list[str] | None = None
    subaccount: tuple[str, KeyPath, bool] | None = None
    connection: str | None = None
    domains: dict[str, tuple[str, KeyPath, bool]] = attrs.Factory(dict)
    overrides: dict[str, Override] = attrs.Factory(dict)


NO_SETTINGS = Settings()


class TemplateChecks(StreamChecks):
    """The shared settings of templates and customers; needs the streams checked first."""

    def settings(self, conf: dict[str, Any], path: KeyPath,
                 streams: Mapping[str, Any]) -> Settings:
        """The settings templates and customers share, checked."""
        out = Settings()
        listed = conf.get("streams")
        if isinstance(listed, list):
            out.streams = []
            seen: set[str] = set()  # a list of 100,000 names: no quadratic `in`
            for i, s in enumerate(listed):
                if not isinstance(s, str) or self.full:
                    continue
                if s not in streams:
                    self.error((*path, "streams", i), f"unknown stream {excerpt(s)}"
                               f"{did_you_mean(s, streams)}; defined: {listing(streams)}")
                elif s not in seen:
                    seen.add(s)
                    out.streams.append(s)
        out.subaccount = self.template_text(conf.get("subaccount"), (*path, "subaccount"),
                                            SUBACCOUNT_FIELDS)
        out.connection = self.connection_ref(conf.get("connection"), (*path, "connection"))
        for s, text in as_dict(conf.get("domains")).items():
            at = (*path, "domains", s)
            if s not in streams:
                self.error((*path, "domains"), f"unknown stream {excerpt(s)}"
                           f"{did_you_mean(s, streams)}; defined: {listing(streams)}", at=at)
                continue
            checked = self.template_text(text, at, DOMAIN_FIELDS)
            if checked is not None:
                out.domains[s] = checked
        for s, ov in as_dict(conf.get("overrides")).items():
            at = (*path, "overrides", s)
            if s not in streams:
                self.error((*path, "overrides"), f"unknown stream {excerpt(s)}"
                           f"{did_you_mean(s, streams)}; defined: {listing(streams)}", at=at)
                continue
            if not isinstance(ov, dict):
                continue
            override = Override(at)
            override.pool = self.pool_ref(ov.get("pool"), (*at, "pool"))
            override.ips = tuple(ip for _, ip in self.ips(ov.get("ips"), (*at, "ips")))
            if override.pool is not None and "ips" in ov:
                self.error(at, "gives both pool and ips: a domain sends from one or the other",
                           at=(*at, "ips"))
            override.sends = "pool" in ov or "ips" in ov
            override.options = self.options(ov.get("options"), (*at, "options"))
            out.overrides[s] = override
        return out


__all__ = [
    "NO_SETTINGS",
    "Override",
    "Settings",
    "TemplateChecks",
]
