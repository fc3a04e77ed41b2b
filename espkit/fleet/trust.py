"""Where a fleet file's connections may send a key, and what the caller allows beyond that.

A fleet file is data, not configuration of trust: in CI it is whatever a pull request
says, yet ``espkit plan`` runs it with every ESP key of the platform in its environment. So
what a connection read from a file may reach is decided here, by espkit and the caller,
never by the file:

* a key goes only to its provider's own API hosts, over https (``base_url``,
  ``endpoint_url``); any other URL an option names (``limiter_url`` ...) reaches only hosts
  the caller allowed;
* ``credentials: env/VAR`` names only the provider's own variables
  (``ESPKIT_<PROVIDER>_API_KEY``, ``MAILGUN_API_KEY`` ...) or other ``ESPKIT_*`` ones, not
  another provider's nor espkit's settings;
* ``credentials: keyring/...`` reads only espkit's own keyring service, and not the entry
  of another provider;
* the sandbox's ``path`` stays inside the fleet file's directory (judged after resolving
  ``..``, ``~`` and symlinks).

The caller widens this with a ``Trust``: ``Trust.from_env()`` reads ``$ESPKIT_ALLOW_HOSTS``,
``$ESPKIT_ALLOW_ENV``, ``$ESPKIT_ALLOW_KEYRING_SERVICES`` and ``$ESPKIT_ALLOW_PATHS``, and
the fleet commands add their ``--allow-host``, ``--allow-env``, ``--allow-keyring-service``
and ``--allow-path`` options. Loopback hosts need the opt-in like any other: a pull request
could otherwise point a key at a service listening on the CI runner itself.

``fleet.load`` runs ``Trust.check`` on every connection of the file before it returns, so
every refusal comes before any key is read or any request is sent.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from espkit import credentials, providers
from espkit.errors import ConfigError, FleetFileError

if TYPE_CHECKING:
    from espkit.fleet.model import Connection, Fleet, Problem

ENV_ALLOW_HOSTS = "ESPKIT_ALLOW_HOSTS"
ENV_ALLOW_ENV = "ESPKIT_ALLOW_ENV"
ENV_ALLOW_KEYRING_SERVICES = "ESPKIT_ALLOW_KEYRING_SERVICES"
ENV_ALLOW_PATHS = "ESPKIT_ALLOW_PATHS"

#: options whose URL receives the key with every request
KEY_URL_OPTIONS = frozenset({"base_url", "endpoint_url"})
#: espkit's own ``ESPKIT_*`` settings: none is a key (the limiter URL may hold a Redis
#: password), so none may be sent as one
_SETTINGS = frozenset({"ESPKIT_LIMITER_URL", "ESPKIT_PROVIDER", "ESPKIT_REGION",
                       "ESPKIT_SANDBOX_DB"})
_SETTINGS_PREFIX = "ESPKIT_ALLOW_"
#: API hosts a provider's REGIONS cannot list: SparkPost Enterprise tenants and SES's
#: regional endpoints (boto3 derives them from the region; ``endpoint_url`` may name one)
_HOST_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "sparkpost": re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.api\.e\.sparkpost\.com"),
    "ses": re.compile(r"email(?:-fips)?\.[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\."
                      r"(?:amazonaws\.com|amazonaws\.com\.cn|api\.aws)"),
}
_SPLIT = re.compile(r"[,\s]+")
#: a URL espkit can judge: printable ASCII, no backslash (parsers disagree on it)
_PLAIN = re.compile(r"[!-\[\]-~]+")
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)"
                  r"(?P<rest>[/?#].*)?", re.S)
_AUTHORITY = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))"
                        r"(?::(?P<port>[0-9]{1,5}))?")
_DEFAULT_PORTS = {"https": 443, "http": 80, "redis": 6379, "rediss": 6379,
                  "redis+cluster": 6379, "rediss+cluster": 6379}


@attrs.frozen
class Endpoint:
    """Where a URL connects: ``scheme``, normalised ``host`` (lower case; an IP address in
    its compressed form, without brackets) and ``port`` (None: the scheme's default)."""

    scheme: str
    host: str
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> Endpoint | None:
        """The endpoint of ``url``, or None when espkit cannot be sure where it connects:
        user info (``@``), backslashes, spaces, non-ASCII characters, an empty or malformed
        host or port. urllib3 connects to exactly the host and port given back."""
        if not _PLAIN.fullmatch(url):
            return None
        m = _URL.fullmatch(url)
        if m is None:
            return None
        authority = _AUTHORITY.fullmatch(m["authority"])
        if authority is None:
            return None
        host = _host(authority["v6"], authority["name"])
        port = int(authority["port"]) if authority["port"] is not None else None
        if host is None or (port is not None and not 0 < port < 65536):
            return None
        return cls(m["scheme"].lower(), host, port)

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else _DEFAULT_PORTS.get(self.scheme)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host


def _host(v6: str | None, name: str | None) -> str | None:
    if v6 is not None:
        try:
            return str(ipaddress.IPv6Address(v6))
        except ValueError:
            return None
    assert name is not None
    try:
        return str(ipaddress.IPv4Address(name))
    except ValueError:
        pass
    return name.lower() if name.strip(".") else None


@attrs.frozen
class _HostRule:
    """One ``--allow-host`` entry: ``HOST``, ``HOST:PORT`` or ``http://HOST[:PORT]``."""

    host: str
    port: int | None
    clear_text: bool

    @classmethod
    def parse(cls, entry: str, origin: str) -> _HostRule:
        text = entry.strip().rstrip("/")
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "https", text
            if rest.count(":") > 1 and not rest.startswith("["):
                rest = f"[{rest}]"  # a bare IPv6 address
        found = Endpoint.parse(f"{scheme}://{rest}") if scheme.lower() in ("http", "https") \
            and not any(c in rest for c in "/?#") else None
        if found is None:
            raise ConfigError(
                f"{origin}: {entry!r} is not a host: give HOST, HOST:PORT or "
                "http://HOST[:PORT] (to allow sending a key over plain http)"
            )
        return cls(found.host, found.port, found.scheme == "http")

    def allows(self, endpoint: Endpoint) -> bool:
        return endpoint.host == self.host and (
            self.port is None or self.port == endpoint.effective_port
        )


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    """A tuple of names; one name given alone is not split into its characters."""
    return (value,) if isinstance(value, str) else tuple(value)


def is_inside(path: str, directory: str) -> bool:
    """``path`` is ``directory`` or under it (both already resolved by ``realpath``)."""
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:  # different drives
        return False


@attrs.frozen
class Trust:
    """What the caller allows a fleet file's connections beyond their provider's own:

    * ``hosts``: hosts a URL in a connection may name, ``HOST`` or ``HOST:PORT`` (any port
      when none is given); ``http://HOST[:PORT]`` also allows plain http to a host that is
      not loopback;
    * ``env``: environment variable names ``credentials: env/VAR`` may read;
    * ``keyring_services``: keyring services ``credentials: keyring/SERVICE/USER`` may read
      (allowing ``espkit`` itself lets a connection read another provider's entry there);
    * ``paths``: files, or directories to the files under them, a sandbox ``path`` may be.

    It comes from outside the file: ``Trust.from_env()``, the fleet commands' ``--allow-*``
    options, or the caller's code. A malformed host is a ``ConfigError``.
    """

    hosts: tuple[str, ...] = attrs.field(default=(), converter=_names)
    env: tuple[str, ...] = attrs.field(default=(), converter=_names)
    keyring_services: tuple[str, ...] = attrs.field(default=(), converter=_names)
    paths: tuple[str, ...] = attrs.field(default=(), converter=_names)
    _rules: tuple[_HostRule, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_rules", tuple(
            _HostRule.parse(h, "allowed host") for h in self.hosts
        ))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Trust:
        """The opt-ins in ``$ESPKIT_ALLOW_HOSTS``, ``$ESPKIT_ALLOW_ENV`` and
        ``$ESPKIT_ALLOW_KEYRING_SERVICES`` (separated by commas or spaces) and
        ``$ESPKIT_ALLOW_PATHS`` (separated by ``os.pathsep``, as ``$PATH``)."""
        env = os.environ if environ is None else environ

        def words(name: str) -> tuple[str, ...]:
            return tuple(w for w in _SPLIT.split(env.get(name, "")) if w)

        hosts = words(ENV_ALLOW_HOSTS)
        for h in hosts:
            _HostRule.parse(h, f"${ENV_ALLOW_HOSTS}")  # name the variable in the error
        paths = tuple(p for p in env.get(ENV_ALLOW_PATHS, "").split(os.pathsep) if p.strip())
        return cls(hosts, words(ENV_ALLOW_ENV), words(ENV_ALLOW_KEYRING_SERVICES), paths)

    def allowing(self, *, hosts: Iterable[str] = (), env: Iterable[str] = (),
                 keyring_services: Iterable[str] = (), paths: Iterable[str] = ()) -> Trust:
        """This trust with more allowed (the CLI's options added to the environment's)."""
        return Trust((*self.hosts, *hosts), (*self.env, *env),
                     (*self.keyring_services, *keyring_services), (*self.paths, *paths))

    # -- checking ---------------------------------------------------------------------------
    def check(self, fleet: Fleet) -> None:
        """Raise ``FleetFileError`` listing every refusal, each at its line; reads no key."""
        problems = [p for conn in fleet.connections.values() for p in self.problems(conn)]
        if problems:
            in_file_order = sorted(problems, key=lambda p: p.line if p.line is not None else 0)
            raise FleetFileError(fleet.source, in_file_order)

    def problems(self, conn: Connection) -> list[Problem]:
        """What ``conn`` may not do under this trust, as problems at their lines."""
        from espkit.fleet.model import Problem

        return [
            Problem(f"refused: {message}", f"connections.{conn.name}.{option}",
                    conn.lines.get(option, conn.lines.get("")))
            for option, message in self.refusals(conn)
        ]

    def refusals(self, conn: Connection) -> Iterator[tuple[str, str]]:
        """``(option, why)`` for everything ``conn`` may not reach; never reads a key."""
        for option, value in conn.options.items():
            if option in KEY_URL_OPTIONS or (isinstance(value, str) and "://" in value):
                why = self._url(conn, option, value)
                if why:
                    yield option, why
        if conn.credentials is not None:
            ref = conn.credentials
            why = self._env(conn, ref.name) if ref.scheme == "env" else \
                self._keyring(conn, ref.service, ref.name)
            if why:
                yield "credentials", why
        path = conn.options.get("path")
        if conn.provider == "sandbox" and isinstance(path, str) and path != ":memory:":
            why = self._path(conn, path)
            if why:
                yield "path", why

    def _url(self, conn: Connection, option: str, value: object) -> str | None:
        if option == "limiter_url" and isinstance(value, str) and (
                value.strip().lower() == "memory://"):
            return None  # this process's own budget: no host at all
        endpoint = Endpoint.parse(value) if isinstance(value, str) else None
        if endpoint is None:
            return (f"{option} is not a URL espkit can tell the host of (user info, "
                    "backslashes, spaces or non-ASCII characters): write it plainly as "
                    "https://HOST[:PORT]/PATH")
        # the limiter is sent a key's fingerprint, never the key; any other URL option (a
        # plugin's) is taken to carry the key, as base_url does
        carries_key = option != "limiter_url"
        if carries_key and endpoint.scheme not in ("https", "http"):
            return f"{option} must be an https:// URL, not {endpoint.scheme}://"
        rules = [r for r in self._rules if r.allows(endpoint)]
        clear = carries_key and endpoint.scheme == "http" and not endpoint.loopback
        # one hint that is enough: plain http to a remote host needs the http:// form
        hint = f"--allow-host {'http://' if clear else ''}{endpoint} or ${ENV_ALLOW_HOSTS}"
        if not carries_key:
            if rules:
                return None
            return (f"{option} names the host {str(endpoint)!r}, which the caller has not "
                    f"allowed: a fleet file cannot choose the hosts espkit connects to; "
                    f"allow it with {hint}")
        official = _official_host(conn.provider, endpoint)
        if not official and not rules:
            own = ", ".join(official_hosts(conn.provider)) or "none known"
            return (f"{option} host {str(endpoint)!r} is not {conn.provider}'s own API host "
                    f"({own}): a fleet file cannot send a key elsewhere; allow it outside "
                    f"the file with {hint}")
        if clear and not any(r.clear_text for r in rules):
            return (f"{option} http://{endpoint} would send the key in clear text: use "
                    f"https://, or allow it with {hint}")
        return None

    def _env(self, conn: Connection, name: str) -> str | None:
        if name in self.env or name in own_env_names(conn.provider):
            return None
        if name.startswith("ESPKIT_"):
            other = _other_provider(conn.provider, name[len("ESPKIT_"):].lower(), "_")
            if other is None and name not in _SETTINGS and not name.startswith(
                    _SETTINGS_PREFIX):
                return None
            what = f"{other}'s key" if other else "an espkit setting, not a key"
        else:
            own = ", ".join(own_env_names(conn.provider)) or "none"
            what = f"not a {conn.provider} key variable ({own}, or another ESPKIT_* one)"
        return (f"env/{name}: ${name} is {what}; a fleet file cannot send another "
                f"variable's value: allow it with --allow-env {name} or ${ENV_ALLOW_ENV}")

    def _keyring(self, conn: Connection, service: str, user: str) -> str | None:
        if service in self.keyring_services:
            return None
        ref = f"keyring/{user}" if service == credentials.KEYRING_SERVICE else \
            f"keyring/{service}/{user}"
        if service != credentials.KEYRING_SERVICE:
            what = (f"the keyring service {service!r} is not espkit's "
                    f"({credentials.KEYRING_SERVICE!r})")
        else:
            other = _other_provider(conn.provider, user.lower(), ":")
            if other is None:
                return None
            what = f"espkit's keyring entry {user!r} is {other}'s key"
        return (f"{ref}: {what}; a fleet file cannot read other keyring entries: allow it "
                f"with --allow-keyring-service {service} or ${ENV_ALLOW_KEYRING_SERVICES}")

    def _path(self, conn: Connection, path: str) -> str | None:
        real = os.path.realpath(os.path.expanduser(path))
        for allowed in self.paths:
            if is_inside(real, os.path.realpath(os.path.expanduser(allowed))):
                return None
        if conn.base_dir is not None:
            home = os.path.realpath(conn.base_dir)
            if real != home and is_inside(real, home):
                return None
            where = f"outside the fleet file's directory {home!r}"
        else:
            where = "not under an allowed path"
        return (f"the sandbox file {real!r} is {where}: a fleet file cannot choose files "
                f"elsewhere; allow it with --allow-path {real} or ${ENV_ALLOW_PATHS}")


# -- what is a provider's own ---------------------------------------------------------------

def _provider_class(name: str) -> type[providers.Provider] | None:
    try:
        return providers.get(name)
    except ConfigError:
        return None


def official_hosts(provider: str) -> tuple[str, ...]:
    """The API hosts of ``provider``'s regions (``https``, port 443), in order."""
    cls = _provider_class(provider)
    regions: Mapping[str, str] = getattr(cls, "REGIONS", None) or {}
    hosts = []
    for url in regions.values():
        endpoint = Endpoint.parse(url)
        if endpoint is not None and endpoint.host not in hosts:
            hosts.append(endpoint.host)
    return tuple(hosts)


def _official_host(provider: str, endpoint: Endpoint) -> bool:
    if endpoint.scheme != "https" or endpoint.effective_port != 443:
        return False
    pattern = _HOST_PATTERNS.get(provider)
    return endpoint.host in official_hosts(provider) or (
        pattern is not None and pattern.fullmatch(endpoint.host) is not None
    )


def own_env_names(provider: str) -> tuple[str, ...]:
    """The variables ``espkit.credentials`` reads ``provider``'s key from."""
    cls = _provider_class(provider)
    return credentials.env_names(provider, getattr(cls, "ENV_KEYS", ()))


def _other_provider(provider: str, text: str, sep: str) -> str | None:
    """The other provider ``text`` (lower case) names as ``NAME`` or ``NAME<sep>...``."""
    for other in providers.names():
        if other != provider and (text == other or text.startswith(other + sep)):
            return other
    return None


__all__ = [
    "ENV_ALLOW_ENV",
    "ENV_ALLOW_HOSTS",
    "ENV_ALLOW_KEYRING_SERVICES",
    "ENV_ALLOW_PATHS",
    "KEY_URL_OPTIONS",
    "Endpoint",
    "Trust",
    "is_inside",
    "official_hosts",
    "own_env_names",
]
