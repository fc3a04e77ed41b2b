"""The fleet file: the sending side of a platform declared in one YAML file.

    version: 1
    connections:
      main: {provider: mailgun, region: eu, credentials: env/MAILGUN_API_KEY}
    pools:
      mkt: {ips: [192.0.2.10, 192.0.2.11]}
      txn: {ips: [192.0.2.20]}
    streams:
      marketing:     {pool: mkt, domain: "news.{domain}"}
      transactional: {pool: txn, domain: "mail.{domain}"}
    customers:
      - {name: acme, domain: acme.com}
      - {name: globex, domain: globex.com, subaccount: globex}

``load`` checks the file against ``fleet.schema.json`` and espkit's own rules and raises one
``FleetFileError`` listing every problem with its line number. The values here are what
``plan`` diffs against the live account.

This module is the model and the API. Reading a file is ``espkit.fleet.reader`` (YAML and CSV, with
the line of every value) and checking it ``espkit.fleet.loader`` (the schema's errors reworded,
espkit's own rules, templates expanded); ``loads`` imports them, so PyYAML and jsonschema
(the ``fleet`` extra) are needed to read a fleet file, not to import espkit.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from espkit import credentials
from espkit.account import Account, connect
from espkit.errors import ConfigError, FleetFileError, MissingCredentials, ValidationError
from espkit.models import DomainSpec
from espkit.ramp import Ramp

SCHEMA_PATH = Path(__file__).with_name("fleet.schema.json")
DEFAULT_CONNECTION = "default"
#: a stream's domain when it names none
DEFAULT_DOMAIN_TEMPLATE = "{stream}.{domain}"
#: the template customers that name none use, when the file defines it
DEFAULT_TEMPLATE = "default"


@attrs.frozen
class Problem:
    """One thing wrong with a fleet file: where (``line``, and the ``path`` of keys to the
    value, e.g. ``customers[3].domain``) and what."""

    message: str
    path: str = ""
    line: int | None = None
    #: the file ``line`` is in when it is not the fleet file itself (a customers CSV file);
    #: ``path`` is then the CSV column
    file: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        if self.file:
            where = f"{self.file} {where}" if where else f"{self.file}: "
        at = f"{self.path}: " if self.path else ""
        return f"{where}{at}{self.message}"


@attrs.frozen
class CredentialRef:
    """Where a connection's API key lives; the file only ever holds the reference.

    ``env/VAR`` (an environment variable) or ``keyring/USER`` (the system keyring, service
    ``espkit``, as ``espkit login`` stores it) or ``keyring/SERVICE/USER``.
    """

    scheme: str
    name: str
    service: str = credentials.KEYRING_SERVICE

    @classmethod
    def parse(cls, text: str) -> CredentialRef:
        # the value is never echoed: what is not a reference may well be the key itself
        if not isinstance(text, str):
            raise ValidationError("credentials", "<not shown>", "must be env/VAR or keyring/USER")
        scheme, _, rest = text.partition("/")
        if scheme == "env" and rest and "/" not in rest and not any(c.isspace() for c in rest):
            return cls("env", rest)
        service, _, user = rest.rpartition("/")
        if scheme == "keyring" and user and not any(c.isspace() for c in rest):
            return cls("keyring", user, service or credentials.KEYRING_SERVICE)
        raise ValidationError(
            "credentials", "<not shown>",
            "must be a reference, env/VAR or keyring/USER or keyring/SERVICE/USER "
            "(never the key itself)",
        )

    def __str__(self) -> str:
        if self.scheme == "env":
            return f"env/{self.name}"
        if self.service == credentials.KEYRING_SERVICE:
            return f"keyring/{self.name}"
        return f"keyring/{self.service}/{self.name}"

    def resolve(self, provider: str) -> credentials.Secret:
        """The key, or ``MissingCredentials`` naming this reference."""
        import os

        if self.scheme == "env":
            value = os.environ.get(self.name)
            if value:
                return credentials.Secret(value)
            raise MissingCredentials(provider, [f"${self.name} (from the fleet file)"])
        try:
            import keyring

            value = keyring.get_password(self.service, self.name)
        except Exception as exc:
            raise MissingCredentials(
                provider, [f"keyring {self} (unavailable: {type(exc).__name__})"]
            ) from None
        if value:
            return credentials.Secret(value)
        raise MissingCredentials(provider, [f"keyring {self}"])


@attrs.frozen
class Connection:
    """One ESP account the fleet lives in. ``options`` are ``espkit.connect`` keywords other
    than the key (region, base_url, rate_limit, limiter_url, the sandbox's path ...)."""

    name: str
    provider: str
    options: Mapping[str, Any] = attrs.field(factory=dict)
    credentials: CredentialRef | None = None
    #: the directory of the fleet file the connection was read from (relative options such
    #: as the sandbox's ``path`` were resolved against it, and must stay inside it: see
    #: ``espkit.fleet.trust``); None for a connection built in code
    base_dir: str | None = attrs.field(default=None, eq=False, repr=False)
    #: the line of each option in the fleet file (``""``: the connection's own line), so
    #: that a refusal points at it
    lines: Mapping[str, int] = attrs.field(factory=dict, eq=False, repr=False)

    def connect(self) -> Account:
        """The account, with the key the ``credentials`` reference names. ``fleet.load``
        has already checked where the connection may send it (``espkit.fleet.trust``); a
        connection built in code holds the caller's own choices."""
        options = dict(self.options)
        if self.credentials is not None:
            options["api_key"] = self.credentials.resolve(self.provider)
        base_url = options.get("base_url")
        if isinstance(base_url, str) and base_url.lower().startswith("http://"):
            # plain http here was allowed by the caller: fleet.load refuses it otherwise
            options["allow_insecure"] = True
        return connect(self.provider, **options)


@attrs.frozen
class WarmupSpec:
    """How a pool's or stream's IPs are warmed up. ``auto``: by the ESP's own warmup, which
    ``apply`` starts on IPs that have not begun one; ``off``: not by the ESP (``apply``
    stops an ESP warmup that runs); ``schedule``: by the platform's own pacing along a
    published or own ``espkit.warmup`` schedule from ``started``, so the ESP's warmup is
    stopped too, or two throttles would stack."""

    mode: str  # "auto", "off" or "schedule"
    schedule: str | None = None
    started: date | None = None
    line: int | None = attrs.field(default=None, eq=False)

    @property
    def esp_warmup(self) -> bool:
        """Whether the ESP's own warmup should be running on these IPs."""
        return self.mode == "auto"

    def describe(self) -> str:
        if self.mode != "schedule":
            return f"warmup: {self.mode}"
        since = f" from {self.started.isoformat()}" if self.started else ""
        return f"warmup: schedule {self.schedule}{since}"


@attrs.frozen
class PoolSpec:
    name: str
    connection: str = DEFAULT_CONNECTION
    ips: tuple[str, ...] = ()
    description: str | None = None
    line: int | None = attrs.field(default=None, eq=False)
    warmup: WarmupSpec | None = None


@attrs.frozen
class StreamSpec:
    """A kind of mail a customer sends (marketing, transactional ...), what it sends from
    (``pool`` or dedicated ``ips``) and how its domain is named: ``domain`` is a template
    over ``{customer}`` (the customer's name), ``{domain}`` (its base domain) and
    ``{stream}``."""

    name: str
    pool: str | None = None
    ips: tuple[str, ...] = ()
    domain: str = DEFAULT_DOMAIN_TEMPLATE
    connection: str = DEFAULT_CONNECTION
    options: Mapping[str, Any] = attrs.field(factory=dict)
    line: int | None = attrs.field(default=None, eq=False)
    warmup: WarmupSpec | None = None


@attrs.frozen
class DesiredDomain:
    """One sending domain as the fleet wants it."""

    name: str
    customer: str
    stream: str
    connection: str = DEFAULT_CONNECTION
    #: the *name* of the customer's subaccount (created when missing); None: main account
    subaccount: str | None = None
    pool: str | None = None
    ips: tuple[str, ...] = ()
    #: DomainSpec creation options other than name, pool and ips (dkim_key_size ...)
    options: Mapping[str, Any] = attrs.field(factory=dict)
    line: int | None = attrs.field(default=None, eq=False)

    def spec(self) -> DomainSpec:
        return DomainSpec(name=self.name, ips=self.ips, pool=self.pool, **self.options)


@attrs.frozen
class CustomerSpec:
    name: str
    domains: tuple[DesiredDomain, ...] = ()
    subaccount: str | None = None
    line: int | None = attrs.field(default=None, eq=False)
    #: the customer's own domain (``acme.com``), when the file gives one: the DNS zone its
    #: sending domains' records go into
    domain: str | None = None

    def zones(self) -> dict[str, str]:
        """Sending domain -> the customer's zone, for the domains inside that zone."""
        if self.domain is None:
            return {}
        return {d.name: self.domain for d in self.domains
                if d.name == self.domain or d.name.endswith("." + self.domain)}


@attrs.frozen
class Ownership:
    """What the fleet owns beyond what it declares: shell-style patterns (``*.acme.com``).
    An owned object the file does not declare is deleted by ``apply``; one neither declared
    nor owned is *unknown*: reported, left alone unless deleting unknowns is asked for."""

    domains: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()

    def owns_domain(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.domains)

    def owns_pool(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.pools)


@attrs.frozen
class Safety:
    """octoDNS-style thresholds: ``apply`` refuses a plan that deletes (or moves to another
    pool/IP) more than this share of the existing objects, once there are ``min_existing``."""

    max_delete: float = 0.3
    max_reassign: float = 0.3
    min_existing: int = 10


@attrs.frozen
class Fleet:
    connections: Mapping[str, Connection]
    pools: tuple[PoolSpec, ...] = ()
    streams: Mapping[str, StreamSpec] = attrs.field(factory=dict)
    customers: tuple[CustomerSpec, ...] = ()
    ownership: Ownership = Ownership()
    safety: Safety = Safety()
    source: str = "<fleet>"
    #: the connection of pools, streams and customers that name none
    default_connection: str = DEFAULT_CONNECTION
    #: migration ramps moving streams from one connection to another (``espkit.ramp``)
    ramps: tuple[Ramp, ...] = ()

    def ramp(self, name: str) -> Ramp:
        """The ramp called ``name``; ``ConfigError`` naming the ramps there are."""
        for ramp in self.ramps:
            if ramp.name == name:
                return ramp
        known = ", ".join(r.name for r in self.ramps) or "none"
        raise ConfigError(f"no ramp {name!r} in {self.source}; ramps: {known}")

    def domains(self, connection: str | None = None) -> Iterator[DesiredDomain]:
        """Every desired domain, in file order (of one connection if given)."""
        for customer in self.customers:
            for domain in customer.domains:
                if connection is None or domain.connection == connection:
                    yield domain

    def pools_of(self, connection: str) -> tuple[PoolSpec, ...]:
        return tuple(p for p in self.pools if p.connection == connection)

    def warmups(self, connection: str) -> dict[str, tuple[WarmupSpec, str]]:
        """IP -> (its declared warmup, what declares it: ``pool mkt``, ``stream news``)
        for the IPs of ``connection`` whose pool or stream declares one. ``load`` has
        refused a file where two declarations of one IP disagree."""
        pools = {p.name: p for p in self.pools_of(connection)}
        out: dict[str, tuple[WarmupSpec, str]] = {}
        for pool in pools.values():
            if pool.warmup is not None:
                out.update((ip, (pool.warmup, f"pool {pool.name}")) for ip in pool.ips)
        for stream in self.streams.values():
            if stream.warmup is None or stream.connection != connection:
                continue
            ips = pools[stream.pool].ips if stream.pool in pools else stream.ips
            for ip in ips:
                out.setdefault(ip, (stream.warmup, f"stream {stream.name}"))
        return out


def schema() -> dict[str, Any]:
    """The fleet file's JSON Schema (Draft 2020-12), as shipped in the package."""
    text = resources.files(__package__).joinpath(SCHEMA_PATH.name).read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


__all__ = [
    "Connection",
    "CredentialRef",
    "CustomerSpec",
    "DesiredDomain",
    "Fleet",
    "FleetFileError",
    "Ownership",
    "PoolSpec",
    "Problem",
    "Safety",
    "StreamSpec",
    "WarmupSpec",
    "schema",
]
