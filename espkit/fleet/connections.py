"""Checking the ``connections`` of a fleet file and the references to them: the provider and
its options (against the provider's ``from_options``), credentials as references only, no
secret or password-bearing URL in the file, and ``default_connection``.
"""

from __future__ import annotations

import inspect
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from espkit import providers
from espkit.errors import ConfigError, ValidationError
from espkit.fleet.checker import Checker, as_dict, as_text
from espkit.fleet.model import DEFAULT_CONNECTION, Connection, CredentialRef
from espkit.fleet.reader import KeyPath, did_you_mean
from espkit.providers.base import Provider

#: connection keys that look like a secret: refused, the file holds references only
_SECRETISH = re.compile(
    r"password|passwd|passphrase|secret|token|api_?key|apikey|(^|_)key$|(^|_)pwd$", re.I
)
#: from_options keywords that take Python objects, not values a file can hold
_OBJECT_OPTIONS = frozenset({"session", "retry", "clock"})
#: options that widen trust: only the caller may set them (--allow-host http://HOST)
_CALLER_OPTIONS = frozenset({"allow_insecure"})


class ConnectionChecks(Checker):
    """The connections section, and ``connection_ref`` for every section that names one."""

    def connections(self, data: dict[str, Any]) -> dict[str, Connection]:
        out: dict[str, Connection] = {}
        for name, conf in as_dict(data.get("connections")).items():
            if not isinstance(conf, dict):
                continue
            path: KeyPath = ("connections", name)
            provider = as_text(conf.get("provider"))
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
            lines: dict[str, int] = {}
            line = self.line_of(path)
            if line is not None:
                lines[""] = line
            for key, value in conf.items():
                at = (*path, key)
                line = self.line_of(at)
                if line is not None:
                    lines[key] = line
                if key == "provider":
                    continue
                if key == "credentials":
                    try:
                        ref = CredentialRef.parse(value)
                    except ValidationError:
                        self.error(at, "must be a reference, env/VAR or keyring/USER or "
                                       "keyring/SERVICE/USER (never the key itself)")
                        continue
                    if not any_option and "api_key" not in params:
                        assert cls is not None
                        self.error(at, f"{cls.name} takes no API key, so no credentials: "
                                       "it finds its own (for ses, boto3's chain: choose an "
                                       "AWS profile with profile:)")
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
                if key in _CALLER_OPTIONS:
                    self.error(path, f"option {key!r} is the caller's choice, not the fleet "
                                     "file's: allow a plain-http host with --allow-host "
                                     "http://HOST or $ESPKIT_ALLOW_HOSTS", at=at)
                    continue
                if key in _OBJECT_OPTIONS:
                    self.error(path, f"option {key!r} takes a Python object; it cannot be set "
                                     "in a fleet file", at=at)
                    continue
                if not any_option and key not in params:
                    assert cls is not None
                    accepted = sorted(params - _OBJECT_OPTIONS - _CALLER_OPTIONS - {"api_key"})
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
                name, cls.name if cls is not None else provider or "", options, ref,
                base_dir=str(self.base_dir), lines=lines,
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


__all__ = [
    "ConnectionChecks",
]
