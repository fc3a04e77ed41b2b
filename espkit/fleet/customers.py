"""Checking the ``customers`` of a fleet file (a list, or rows of a CSV file) and expanding
each one's domains: its template and own settings merged, ``{placeholders}`` filled,
names validated, and the fleet-wide rules (a domain produced once, a subaccount on one
connection, a pool on the connection of the domains that send from it, options the
provider supports).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from espkit import providers, validate
from espkit.errors import ConfigError, ValidationError
from espkit.fleet.checker import as_text
from espkit.fleet.model import DEFAULT_TEMPLATE, CustomerSpec, DesiredDomain, StreamSpec
from espkit.fleet.placeholders import expand, needs
from espkit.fleet.reader import KeyPath, did_you_mean
from espkit.fleet.templates import NO_SETTINGS, Settings, TemplateChecks


class CustomerChecks(TemplateChecks):
    """Customers and their domains; needs everything else checked first."""

    def customers(self, data: dict[str, Any], streams: dict[str, tuple[StreamSpec, bool]],
                  templates: dict[str, Settings]) -> tuple[CustomerSpec, ...]:
        out: list[CustomerSpec] = []
        names: dict[str, KeyPath] = {}
        made: dict[str, tuple[str, str, KeyPath]] = {}  # domain -> customer, stream, where
        subs: dict[str, tuple[str, str, KeyPath]] = {}  # subaccount -> connection, customer
        entries = data.get("customers")
        misspelt = {b[1] for b in self.bad if len(b) == 3 and b[0] == "customers"}
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            if not isinstance(entry, dict):
                continue
            path: KeyPath = ("customers", i)
            name = as_text(entry.get("name"))
            if name is None:
                continue
            if name in names:
                self.error(path, f"customer {name!r} is declared twice (also on "
                                 f"{self.where(names[name], path)})", at=(*path, "name"))
            else:
                names[name] = path
            row = self.csv_rows.get(i)
            line = row[1] if row is not None else self.line_of(path)
            template: Settings | None = None
            tname = entry.get("template")
            if not isinstance(tname, str):
                tname = DEFAULT_TEMPLATE if DEFAULT_TEMPLATE in templates else None
            if tname is not None:
                template = templates.get(tname)
                if template is None:
                    self.error((*path, "template"), f"unknown template {tname!r}"
                               f"{did_you_mean(tname, templates)}; defined: "
                               f"{', '.join(templates) or 'none'}")
                    continue
            base = template or NO_SETTINGS
            own = self.settings(entry, path, streams)
            domain: str | None = None
            # no domain: say so once, unless it is given (invalid: reported) or misspelt
            needs_domain: list[str] = []
            quiet = "domain" in entry or i in misspelt
            if isinstance(entry.get("domain"), str):
                try:
                    domain = validate.domain_name(entry["domain"])
                except ValidationError as exc:
                    self.error((*path, "domain"), str(exc))
            used = own.streams if own.streams is not None else base.streams
            if used is None:
                used = list(streams)
            for field, mapping in (("domains", own.domains), ("overrides", own.overrides)):
                for s in mapping:
                    if s not in used:
                        self.error((*path, field), f"stream {s!r} is not one of this customer's "
                                   f"streams ({', '.join(used) or 'none'})", at=(*path, field, s))
            values = {"customer": name, "domain": domain or ""}
            # the subaccount
            subaccount: str | None = None
            sub = own.subaccount or base.subaccount
            if sub is not None and sub[2]:
                text, at, _ = sub
                ours = at[:2] == path
                if needs(text, "domain") and domain is None:
                    needs_domain.append(f"its subaccount {text!r}")
                else:
                    try:
                        subaccount = validate.subaccount_name(expand(text, values))
                    except ValidationError as exc:
                        message = str(exc) if ours else f"{exc} (from template {tname!r})"
                        self.error(at if ours else path, message)
            connection = own.connection or base.connection
            domains: list[DesiredDomain] = []
            for s in used:
                if s not in streams:
                    continue
                stream, stream_ok = streams[s]
                chosen = own.domains.get(s) or base.domains.get(s)
                text, at, ok = chosen or (stream.domain, ("streams", s, "domain"), stream_ok)
                if not ok:
                    continue
                ours = at[:2] == path
                if needs(text, "domain") and domain is None:
                    needs_domain.append(f"stream {s!r} ({text!r})")
                    continue
                try:
                    fqdn = validate.domain_name(expand(text, {**values, "stream": s}))
                except ValidationError as exc:
                    message = str(exc)
                    if not ours or text != expand(text, {**values, "stream": s}):
                        message += f" (from {text!r}, stream {s!r})"
                    self.error(at if ours else path, message)
                    continue
                conn = connection or stream.connection
                # what it sends from: the most specific of stream, template, customer
                pool, ips, source = stream.pool, stream.ips, None
                for override in (base.overrides.get(s), own.overrides.get(s)):
                    if override is not None and override.sends:
                        pool, ips, source = override.pool, override.ips, override.path
                owner = self.pool_conn.get(pool or "")
                if pool and owner is not None and owner != conn and (
                    source is not None or conn != stream.connection
                ):
                    self.error(path, f"stream {s!r} sends from pool {pool!r}, which is on "
                                     f"connection {owner!r}, not {conn!r}")
                options = dict(self.defaults)
                options.update(self.stream_options.get(s, {}))
                for override in (base.overrides.get(s), own.overrides.get(s)):
                    if override is not None:
                        options.update(override.options)
                self.check_supported(conn, options, name, s)
                earlier = made.get(fqdn)
                if earlier is not None:
                    self.error(at if ours else path,
                               f"domain {fqdn!r} is produced twice: by customer {earlier[0]!r} "
                               f"stream {earlier[1]!r} ({self.where(earlier[2], path)}) and by "
                               f"customer {name!r} stream {s!r}")
                    continue
                made[fqdn] = (name, s, path)
                if subaccount is not None:
                    first = subs.setdefault(subaccount, (conn, name, path))
                    if first[0] != conn:
                        self.error(path, f"subaccount {subaccount!r} is on connection {conn!r} "
                                         f"here, but on {first[0]!r} for customer {first[1]!r} "
                                         f"({self.where(first[2], path)})")
                domains.append(DesiredDomain(
                    name=fqdn, customer=name, stream=s, connection=conn, subaccount=subaccount,
                    pool=pool, ips=ips, options={k: v for k, (v, _) in options.items()},
                    line=line,
                ))
            if needs_domain and not quiet:
                self.error(path, f"customer {name!r} has no domain, but {{domain}} is used by "
                                 + ", ".join(needs_domain))
            out.append(CustomerSpec(name, tuple(domains), subaccount, line, domain=domain))
        return tuple(out)

    def check_supported(self, connection: str, options: Mapping[str, tuple[Any, KeyPath]],
                        customer: str, stream: str) -> None:
        """Creation options the connection's provider does not honour: reported once where
        they are set (``check_spec`` would refuse every such create)."""
        conn = self.conns.get(connection)
        if conn is None or not options:
            return
        try:
            supported = providers.get(conn.provider).DOMAIN_OPTIONS
        except ConfigError:
            return
        for key, (_, at) in options.items():
            if key not in supported and (at, connection) not in self.reported_options:
                self.reported_options.add((at, connection))
                self.error(at, f"{conn.provider} does not support the domain option {key!r} "
                               f"(connection {connection!r}, e.g. customer {customer!r} stream "
                               f"{stream!r})")


__all__ = [
    "CustomerChecks",
]
