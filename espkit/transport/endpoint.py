"""Which base URLs a transport may send a key to: well formed, and encrypted unless local.

Every request carries the account's key, so a plain ``http://`` base URL sends it across the
network in clear. That is only allowed where nothing crosses a network (loopback: the tests,
benchmarks and local ESP emulators) or when the user opts in outside any fleet file: with
``allow_insecure=True`` in code, or ``ESPKIT_ALLOW_INSECURE_HTTP=1`` in the environment.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse

from espkit.errors import ConfigError
from espkit.transport.redaction import safe_url

#: set to 1 (or true, yes) to allow plain http:// to hosts other than loopback
ENV_ALLOW_INSECURE = "ESPKIT_ALLOW_INSECURE_HTTP"


def insecure_allowed_by_env() -> bool:
    return os.environ.get(ENV_ALLOW_INSECURE, "").strip().lower() in ("1", "true", "yes")


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (also IPv4-mapped): names and addresses that
    never leave the machine. Any other name may resolve anywhere."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_base_url(base_url: str, *, allow_insecure: bool = False) -> None:
    """Raise ``ConfigError`` (before any request) for a base URL that is malformed, not
    http(s), or plain http to a host that is not loopback without an opt-in."""
    shown = safe_url(base_url)
    try:
        parts = urllib.parse.urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError:
        raise ConfigError(f"base_url is not a valid URL: {shown!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"base_url must be an https:// URL with a host, got {shown!r}")
    if scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure \
            and not insecure_allowed_by_env():
        raise ConfigError(
            f"refusing plain http:// base_url {shown!r}: the API key would cross the network "
            f"unencrypted. Use https://, or opt in with allow_insecure=True or "
            f"{ENV_ALLOW_INSECURE}=1 (loopback addresses need no opt-in)"
        )


__all__ = [
    "ENV_ALLOW_INSECURE",
    "check_base_url",
    "insecure_allowed_by_env",
    "is_loopback",
]
