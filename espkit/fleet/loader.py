"""Checking a fleet file: the JSON Schema's errors reworded, espkit's own rules (connections,
pools, streams, templates, customers) and the ``Fleet`` built from what passes, with every
customer's domains expanded from the templates.

Internal: ``fleet.loads`` calls ``load_text`` once PyYAML and jsonschema are known to be
installed.
"""

from __future__ import annotations

import functools
import inspect
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import jsonschema

from espkit import providers, validate
from espkit.errors import ConfigError, ValidationError
from espkit.fleet.model import (
    DEFAULT_CONNECTION,
    DEFAULT_DOMAIN_TEMPLATE,
    DEFAULT_TEMPLATE,
    Connection,
    CredentialRef,
    CustomerSpec,
    DesiredDomain,
    Fleet,
    FleetFileError,
    Ownership,
    PoolSpec,
    Problem,
    Safety,
    StreamSpec,
    schema,
)
from espkit.fleet.reader import KeyPath, Reader, did_you_mean
from espkit.providers.base import Provider

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_DOMAIN_FIELDS = ("customer", "domain", "stream")
_SUBACCOUNT_FIELDS = ("customer", "domain")
#: connection keys that look like a secret: refused, the file holds references only
_SECRETISH = re.compile(
    r"password|passwd|passphrase|secret|token|api_?key|apikey|(^|_)key$|(^|_)pwd$", re.I
)
#: from_options keywords that take Python objects, not values a file can hold
_OBJECT_OPTIONS = frozenset({"session", "retry", "clock"})
_TYPE_WORDS = {
    "object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
    "integer": "a whole number", "boolean": "true or false", "null": "nothing",
}


def _under(path: KeyPath, paths: set[KeyPath]) -> bool:
    """Whether ``path`` or one of its ancestors is in ``paths``."""
    return any(path[:n] in paths for n in range(len(path) + 1))


def _kind_of(value: object) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return _kind_of(value)
    return str(value)


def _sensitive(path: KeyPath) -> bool:
    """Values under a connection may be keys pasted by mistake: never echoed in messages
    (the provider and region excepted)."""
    return path[:1] == ("connections",) and not (
        len(path) == 3 and path[2] in ("provider", "region")
    )


def _placeholder_problem(text: str, allowed: tuple[str, ...]) -> str | None:
    names = _PLACEHOLDER.findall(text)
    unknown = [n for n in names if n not in allowed]
    use = ", ".join("{" + a + "}" for a in allowed)
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        return f"unknown placeholder {shown} in {text!r}; use {use}"
    rest = _PLACEHOLDER.sub("", text)
    if "{" in rest or "}" in rest:
        return f"unbalanced brace in {text!r}; placeholders are {use}"
    return None


def _expand(text: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _needs(text: str, field: str) -> bool:
    return field in _PLACEHOLDER.findall(text)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    document = schema()
    # the schema has no recursion: validate against a copy with every $ref inlined, which
    # is several times faster over thousands of customers than resolving refs each time
    return jsonschema.Draft202012Validator(_inline(document, document))


def _inline(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, root) for k, v in node.items() if k not in ("$ref", "$defs")}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return {**_inline(target, root), **out}
    return out


@attrs.define
class _Override:
    """A template's or customer's override of one stream."""

    path: KeyPath
    pool: str | None = None
    ips: tuple[str, ...] = ()
    #: sets pool or ips: replaces what the stream sends from
    sends: bool = False
    options: dict[str, tuple[Any, KeyPath]] = attrs.Factory(dict)


@attrs.define
class _Settings:
    """What a template and a customer may both set. Values that failed a check are left
    out (None), or kept with ``ok`` False when falling back to the template would mislead."""

    streams: list[str] | None = None
    subaccount: tuple[str, KeyPath, bool] | None = None
    connection: str | None = None
    domains: dict[str, tuple[str, KeyPath, bool]] = attrs.Factory(dict)
    overrides: dict[str, _Override] = attrs.Factory(dict)


_EMPTY = _Settings()


class Loader(Reader):
    """Checks what it read and builds the ``Fleet``; ``problems`` has every problem found."""

    def __init__(self, source: str, base_dir: Path) -> None:
        super().__init__(source, base_dir)
        #: paths the schema already complained about: espkit's checks stay quiet there
        self.bad: set[KeyPath] = set()
        # set by fleet(), in this order
        self.conns: dict[str, Connection] = {}
        self.default = DEFAULT_CONNECTION
        self.pool_conn: dict[str, str] = {}
        self.defaults: dict[str, tuple[Any, KeyPath]] = {}
        self.stream_options: dict[str, dict[str, tuple[Any, KeyPath]]] = {}
        self._unsupported: set[tuple[KeyPath, str]] = set()

    def error(self, path: KeyPath, message: str, *, at: KeyPath | None = None) -> None:
        """A problem found by espkit's own checks: not repeated where the schema already
        reported one (at the same place or above it)."""
        if _under(path, self.bad) or (at is not None and _under(at, self.bad)):
            return
        self.add(path, message, at=at)

    # -- schema ------------------------------------------------------------------------------
    def check_schema(self, data: Any) -> None:
        for err in _validator().iter_errors(data):
            self.schema_problem(err)

    def schema_problem(self, err: jsonschema.ValidationError) -> None:
        path: KeyPath = tuple(err.absolute_path)
        if _under(path, self.broken):
            self.bad.add(path)
            return
        kind = err.validator
        value: Any = err.instance
        sub: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}
        if "propertyNames" in err.relative_schema_path or "propertyNames" in err.schema_path:
            at = (*path, str(value))
            self.bad.add(at)
            hint = sub.get("patternErrorMessage") or err.message
            self.add(path, f"{value!r} is not a valid name: {hint}", at=at)
            return
        if kind == "additionalProperties" and isinstance(value, dict):
            allowed = list(sub.get("properties", {}))
            for key in value:
                if key not in allowed:
                    self.bad.add((*path, key))
                    self.add(path, f"unknown key {key!r}{did_you_mean(key, allowed)}",
                             at=(*path, key))
            return
        if kind == "required" and isinstance(value, dict):
            wanted: Any = err.validator_value
            for key in wanted:
                if key not in value:
                    self.add(path, f"missing required key {key!r}")
            return
        self.bad.add(path)
        self.add(path, self.schema_message(err, path, sub))

    def schema_message(self, err: jsonschema.ValidationError, path: KeyPath,
                       sub: dict[str, Any]) -> str:
        kind = err.validator
        value: Any = err.instance
        limit: Any = err.validator_value
        secret = _sensitive(path)
        shown = "the value" if secret else _show(value)
        if "errorMessage" in sub:
            return f"{sub['errorMessage']}, got {shown}"
        if kind == "type":
            wanted = [limit] if isinstance(limit, str) else list(limit)
            words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)
            got = _kind_of(value)
            if not secret and not isinstance(value, (dict, list)) and value is not None:
                got += f" ({_show(value)})"
            message = f"expected {words}, got {got}"
            raw = self.raw.get(path)
            if raw is not None and "string" in wanted and not secret:
                message += f'; YAML reads {raw} as {_kind_of(value)}: quote it, "{raw}"'
            return message
        if kind == "enum":
            choices = ", ".join(_show(c) for c in limit)
            hint = did_you_mean(value, map(str, limit)) if isinstance(value, str) else ""
            return f"{shown} is not one of {choices}{hint}"
        if kind == "const":
            return f"must be {_show(limit)}, got {shown}"
        if kind == "pattern":
            rule = sub.get("patternErrorMessage") or f"does not match {limit}"
            return rule if secret else f"{shown}: {rule}"
        if kind == "minimum":
            return f"must be at least {limit}, got {shown}"
        if kind == "maximum":
            return f"must be at most {limit}, got {shown}"
        if kind == "exclusiveMinimum":
            return f"must be more than {limit}, got {shown}"
        if kind == "minLength":
            return "must not be empty"
        if kind in ("minItems", "maxItems"):
            if sub.get("minItems") == sub.get("maxItems"):
                return f"needs exactly {limit} items, got {len(value)}"
            more = "at least" if kind == "minItems" else "at most"
            return f"needs {more} {limit} item(s), got {len(value)}"
        if kind == "minProperties":
            return f"needs at least {limit} entry" if limit == 1 else f"needs {limit} entries"
        if kind == "uniqueItems" and isinstance(value, list):
            seen: list[Any] = []
            for item in value:
                if item in seen:
                    return f"lists {_show(item)} twice"
                seen.append(item)
        return f"invalid value ({kind})" if secret else err.message

    # -- espkit's rules ----------------------------------------------------------------------
    def fleet(self, data: dict[str, Any]) -> Fleet:
        self.conns = self.connections(data)
        self.default = self.default_connection(data)
        pools = self.pools(data)
        self.defaults = self.options(data.get("defaults"), ("defaults",))
        streams = self.streams(data)
        templates = {
            name: self.settings(conf, ("templates", name), streams)
            for name, conf in _dict(data.get("templates")).items()
            if isinstance(conf, dict)
        }
        customers = self.customers(data, streams, templates)
        ownership = _dict(data.get("ownership"))
        return Fleet(
            connections=self.conns,
            pools=pools,
            streams={name: spec for name, (spec, _) in streams.items()},
            customers=customers,
            ownership=Ownership(
                domains=_strings(ownership.get("domains")), pools=_strings(ownership.get("pools"))
            ),
            safety=self.safety(_dict(data.get("safety"))),
            source=self.source,
            default_connection=self.default,
        )

    def connections(self, data: dict[str, Any]) -> dict[str, Connection]:
        out: dict[str, Connection] = {}
        for name, conf in _dict(data.get("connections")).items():
            if not isinstance(conf, dict):
                continue
            path: KeyPath = ("connections", name)
            provider = _text(conf.get("provider"))
            cls = self.provider_class(provider, (*path, "provider")) if provider else None
            params: set[str] = set()
            any_option = cls is None
            if cls is not None:
                for p in inspect.signature(cls.from_options).parameters.values():
                    if p.kind is inspect.Parameter.VAR_KEYWORD:
                        any_option = True
                    else:
                        params.add(p.name)
            ref: CredentialRef | None = None
            options: dict[str, Any] = {}
            for key, value in conf.items():
                at = (*path, key)
                if key == "provider":
                    continue
                if key == "credentials":
                    try:
                        ref = CredentialRef.parse(value)
                    except ValidationError:
                        self.error(at, "must be a reference, env/VAR or keyring/USER or "
                                       "keyring/SERVICE/USER (never the key itself)")
                    continue
                if _SECRETISH.search(key):
                    self.error(path, f"{key!r} looks like a secret: never put a key in the "
                                     "fleet file; use credentials: env/VAR (or keyring/USER)",
                               at=at)
                    continue
                if isinstance(value, str) and "://" in value:
                    try:
                        has_password = urllib.parse.urlsplit(value).password is not None
                    except ValueError:
                        has_password = False
                    if has_password:
                        self.error(path, f"{key!r} holds a URL with a password: keep it out "
                                         "of the fleet file (for limiter_url, set "
                                         "$ESPKIT_LIMITER_URL instead)", at=at)
                        continue
                if key in _OBJECT_OPTIONS:
                    self.error(path, f"option {key!r} takes a Python object; it cannot be set "
                                     "in a fleet file", at=at)
                    continue
                if not any_option and key not in params:
                    assert cls is not None
                    accepted = sorted(params - _OBJECT_OPTIONS - {"api_key"})
                    self.error(path, f"unknown option {key!r} for {cls.name}"
                                     f"{did_you_mean(key, accepted)}; accepted: "
                                     f"{', '.join(['credentials', *accepted])}", at=at)
                    continue
                regions: Mapping[str, str] = getattr(cls, "REGIONS", None) or {}
                if key == "region" and isinstance(value, str) and regions and (
                    value.lower() not in regions
                ):
                    assert cls is not None
                    self.error(at, f"unknown region {value!r} for {cls.name}; choose one of "
                                   + ", ".join(map(repr, regions)))
                    continue
                if key == "timeout" and isinstance(value, list):
                    value = tuple(value)
                if (key == "path" and cls is not None and cls.name == "sandbox"
                        and isinstance(value, str) and value != ":memory:"):
                    local = Path(value).expanduser()  # relative to the fleet file
                    value = str(local if local.is_absolute() else self.base_dir / local)
                options[key] = value
            out[name] = Connection(
                name, cls.name if cls is not None else provider or "", options, ref
            )
        return out

    def provider_class(self, name: str, at: KeyPath) -> type[Provider] | None:
        try:
            return providers.get(name)
        except ConfigError:
            known = providers.names()
            if name.lower().strip() not in known:
                self.error(at, f"unknown provider {name!r}{did_you_mean(name, known)}; "
                               f"available: {', '.join(known)}")
            # else: a built-in whose extra is not installed: connecting will say which
            return None

    def default_connection(self, data: dict[str, Any]) -> str:
        names = list(self.conns)
        given = data.get("default_connection")
        if isinstance(given, str):
            self.connection_ref(given, ("default_connection",))
            return given
        if len(names) > 1:
            self.error(("connections",), f"{len(names)} connections ({', '.join(names)}) and no "
                                         "default_connection: set it to the one pools, streams "
                                         "and customers use when they name none")
        return names[0] if names else DEFAULT_CONNECTION

    def connection_ref(self, name: object, at: KeyPath) -> str | None:
        """The connection ``name`` refers to; None when it names none or an unknown one."""
        if not isinstance(name, str):
            return None
        if self.conns and name not in self.conns:
            self.error(at, f"unknown connection {name!r}{did_you_mean(name, self.conns)}; "
                           f"defined: {', '.join(self.conns)}")
            return None
        return name

    def pool_ref(self, name: object, at: KeyPath) -> str | None:
        if not isinstance(name, str):
            return None
        if name not in self.pool_conn:
            self.error(at, f"unknown pool {name!r}{did_you_mean(name, self.pool_conn)}; "
                           f"defined: {', '.join(self.pool_conn) or 'none'}")
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
        for name, conf in _dict(data.get("pools")).items():
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
            ))
        return tuple(out)

    def options(self, value: object, path: KeyPath) -> dict[str, tuple[Any, KeyPath]]:
        """Checked creation options, each with where it was set."""
        out: dict[str, tuple[Any, KeyPath]] = {}
        for key, item in _dict(value).items():
            if key not in validate.DOMAIN_OPTIONS:
                continue  # not an option: the schema reported it
            at = (*path, key)
            try:
                out[key] = (validate.domain_option(key, item), at)
            except ValidationError as exc:
                self.error(at, str(exc))
        return out

    def template_text(self, value: object, at: KeyPath,
                      allowed: tuple[str, ...]) -> tuple[str, KeyPath, bool] | None:
        if not isinstance(value, str) or not value:
            return None
        problem = _placeholder_problem(value, allowed)
        if problem is not None:
            self.error(at, problem)
        return value, at, problem is None and at not in self.bad

    def streams(self, data: dict[str, Any]) -> dict[str, tuple[StreamSpec, bool]]:
        """Each stream, and whether its domain template is usable."""
        out: dict[str, tuple[StreamSpec, bool]] = {}
        for name, conf in _dict(data.get("streams")).items():
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
                                        (*path, "domain"), _DOMAIN_FIELDS)
            options = self.options(conf.get("options"), (*path, "options"))
            spec = StreamSpec(
                name=name, pool=pool, ips=ips,
                domain=domain[0] if domain else DEFAULT_DOMAIN_TEMPLATE,
                connection=connection, options={k: v for k, (v, _) in options.items()},
                line=self.line_of(path),
            )
            self.stream_options[name] = options
            out[name] = (spec, domain[2] if domain else False)
        return out

    def settings(self, conf: dict[str, Any], path: KeyPath,
                 streams: Mapping[str, Any]) -> _Settings:
        """The settings templates and customers share, checked."""
        out = _Settings()
        listed = conf.get("streams")
        if isinstance(listed, list):
            out.streams = []
            for i, s in enumerate(listed):
                if not isinstance(s, str):
                    continue
                if s not in streams:
                    self.error((*path, "streams", i), f"unknown stream {s!r}"
                               f"{did_you_mean(s, streams)}; defined: {', '.join(streams)}")
                elif s not in out.streams:
                    out.streams.append(s)
        out.subaccount = self.template_text(conf.get("subaccount"), (*path, "subaccount"),
                                            _SUBACCOUNT_FIELDS)
        out.connection = self.connection_ref(conf.get("connection"), (*path, "connection"))
        for s, text in _dict(conf.get("domains")).items():
            at = (*path, "domains", s)
            if s not in streams:
                self.error((*path, "domains"), f"unknown stream {s!r}"
                           f"{did_you_mean(s, streams)}; defined: {', '.join(streams)}", at=at)
                continue
            checked = self.template_text(text, at, _DOMAIN_FIELDS)
            if checked is not None:
                out.domains[s] = checked
        for s, ov in _dict(conf.get("overrides")).items():
            at = (*path, "overrides", s)
            if s not in streams:
                self.error((*path, "overrides"), f"unknown stream {s!r}"
                           f"{did_you_mean(s, streams)}; defined: {', '.join(streams)}", at=at)
                continue
            if not isinstance(ov, dict):
                continue
            override = _Override(at)
            override.pool = self.pool_ref(ov.get("pool"), (*at, "pool"))
            override.ips = tuple(ip for _, ip in self.ips(ov.get("ips"), (*at, "ips")))
            if override.pool is not None and "ips" in ov:
                self.error(at, "gives both pool and ips: a domain sends from one or the other",
                           at=(*at, "ips"))
            override.sends = "pool" in ov or "ips" in ov
            override.options = self.options(ov.get("options"), (*at, "options"))
            out.overrides[s] = override
        return out

    def customers(self, data: dict[str, Any], streams: dict[str, tuple[StreamSpec, bool]],
                  templates: dict[str, _Settings]) -> tuple[CustomerSpec, ...]:
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
            name = _text(entry.get("name"))
            if name is None:
                continue
            if name in names:
                self.error(path, f"customer {name!r} is declared twice (also on "
                                 f"{self.where(names[name], path)})", at=(*path, "name"))
            else:
                names[name] = path
            row = self.csv_rows.get(i)
            line = row[1] if row is not None else self.line_of(path)
            template: _Settings | None = None
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
            base = template or _EMPTY
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
                if _needs(text, "domain") and domain is None:
                    needs_domain.append(f"its subaccount {text!r}")
                else:
                    try:
                        subaccount = validate.subaccount_name(_expand(text, values))
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
                if _needs(text, "domain") and domain is None:
                    needs_domain.append(f"stream {s!r} ({text!r})")
                    continue
                try:
                    fqdn = validate.domain_name(_expand(text, {**values, "stream": s}))
                except ValidationError as exc:
                    message = str(exc)
                    if not ours or text != _expand(text, {**values, "stream": s}):
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
            if key not in supported and (at, connection) not in self._unsupported:
                self._unsupported.add((at, connection))
                self.error(at, f"{conn.provider} does not support the domain option {key!r} "
                               f"(connection {connection!r}, e.g. customer {customer!r} stream "
                               f"{stream!r})")

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
                    self.error(at, f"{value!r} is not a share between 0% and 100%")
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


def load_text(text: str, source: str, base_dir: Path) -> Fleet:
    """``fleet.loads``: the ``Fleet``, or ``FleetFileError`` listing every problem."""
    loader = Loader(source, base_dir)
    data = loader.parse(text)
    fleet: Fleet | None = None
    if data is not None and not isinstance(data, dict):
        loader.add((), f"the file must be a mapping of keys (version, connections, ...), "
                       f"not {_kind_of(data)}")
    elif isinstance(data, dict):
        _prepare(loader, data)
        loader.check_schema(data)
        fleet = loader.fleet(data)
    if loader.problems or fleet is None:
        raise FleetFileError(source, _sorted(loader.problems))
    return fleet


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line if p.line is not None else 0))


__all__ = ["Loader", "load_text"]
