"""Input checks run before any request is built.

Every value that ends up in a URL path goes through one of these and then through
``segment()``, so a hostile or mistyped name can never change which endpoint is hit.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

from espkit.errors import ValidationError
from espkit.models import DomainSpec

# fullmatch, not ``$``: ``$`` also matches before a trailing newline
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_FORBIDDEN = re.compile(r"[/\\%@:?#\s\x00-\x1f\x7f]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

#: the values espkit accepts for the DomainSpec options of the same names (whatever the
#: provider: which options a provider honours is its ``DOMAIN_OPTIONS``)
DKIM_KEY_SIZES = (1024, 2048)
SPAM_ACTIONS = ("disabled", "block", "tag")
WEB_SCHEMES = ("http", "https")
#: the DomainSpec creation options ``domain_option`` checks (all but name, ips and pool),
#: in the order ``domain_spec`` checks them
DOMAIN_OPTIONS = (
    "dkim_key_size", "spam_action", "web_scheme", "wildcard", "dkim_selector", "web_prefix",
)


def domain_name(value: object, field: str = "domain") -> str:
    """Return the canonical (lower-case, punycode, no trailing dot) form of a domain name."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if not value:
        raise ValidationError(field, value, "must not be empty")
    if _FORBIDDEN.search(value):
        raise ValidationError(
            field, value, "contains a character not allowed in a domain name "
            "(slash, percent, whitespace, control character, ...)"
        )
    name = value[:-1] if value.endswith(".") else value
    if ".." in name or name.startswith("."):
        raise ValidationError(field, value, "has an empty label")
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValidationError(field, value, f"is not a valid IDNA name ({exc})") from None
    if len(ascii_name) > 253:
        raise ValidationError(field, value, "is longer than 253 characters")
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValidationError(field, value, "needs at least two labels, e.g. mail.example.com")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValidationError(
                field, value,
                f"label {label!r} must be 1-63 letters, digits or hyphens, "
                "not starting or ending with a hyphen",
            )
    if labels[-1].isdigit():
        raise ValidationError(field, value, "top-level label cannot be numeric")
    return ascii_name


def ip_address(value: object, field: str = "ip") -> str:
    """Return the canonical text form of an IPv4 or IPv6 address."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    try:
        return str(ipaddress.ip_address(value.strip() if value.strip() == value else value))
    except ValueError:
        raise ValidationError(field, value, "is not an IPv4 or IPv6 address") from None


def ip_addresses(values: Iterable[object], field: str = "ips") -> tuple[str, ...]:
    if isinstance(values, str):
        raise ValidationError(field, values, "must be a list of addresses, not one string")
    out: list[str] = []
    for v in values:
        ip = ip_address(v, field)
        if ip not in out:
            out.append(ip)
    return tuple(out)


def resource_name(value: object, field: str) -> str:
    """Pool and subaccount names: 1-64 of letters, digits, ``.``, ``_``, ``-``."""
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    if not _NAME.fullmatch(value):
        raise ValidationError(
            field, value,
            "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def pool_name(value: object) -> str:
    return resource_name(value, "pool")


def subaccount_name(value: object) -> str:
    return resource_name(value, "subaccount")


def identifier(value: object, field: str) -> str:
    """An ESP-issued id (opaque). Reject anything that could escape a path segment."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ValidationError(field, value, "must be a non-empty string")
    if _FORBIDDEN.search(value) or value in {".", ".."}:
        raise ValidationError(field, value, "contains a character not allowed in an id")
    return value


def choice(value: object, field: str, allowed: Iterable[object]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValidationError(field, value, f"must be one of {', '.join(map(repr, allowed))}")


def domain_option(key: str, value: Any) -> Any:
    """Check one DomainSpec creation option other than name, ips and pool (one of
    ``DOMAIN_OPTIONS``) and return its value, normalised (``dkim_key_size`` as an int)."""
    if key == "dkim_key_size":
        choice(value, key, DKIM_KEY_SIZES)
        return int(value)  # 1024.0 is 1024
    if key == "spam_action":
        choice(value, key, SPAM_ACTIONS)
        return value
    if key == "web_scheme":
        choice(value, key, WEB_SCHEMES)
        return value
    if key == "wildcard":
        if not isinstance(value, bool):
            raise ValidationError(key, value, "must be true or false")
        return value
    if key in ("dkim_selector", "web_prefix"):
        return resource_name(value, key)
    raise ValidationError(
        "domain option", key, f"is not one of {', '.join(map(repr, DOMAIN_OPTIONS))}"
    )


def domain_spec(spec: DomainSpec) -> DomainSpec:
    """Check a spec against espkit's own rules, whatever the provider, and return it
    normalised: the canonical name and IPs, ``dkim_key_size`` an int.

    Whether the provider honours each option is the account's check
    (``Domains.check_spec``)."""
    name = domain_name(spec.name)
    options = {
        key: domain_option(key, getattr(spec, key))
        for key in DOMAIN_OPTIONS
        if getattr(spec, key) is not None
    }
    ips = ip_addresses(spec.ips)
    pool = pool_name(spec.pool) if spec.pool is not None else None
    if ips and pool:
        raise ValidationError("pool", pool, "give ips or pool, not both")
    return DomainSpec(name=name, ips=ips, pool=pool, **options)


def segment(value: str) -> str:
    """Percent-encode one URL path segment (nothing is left unquoted, not even ``/``)."""
    return urllib.parse.quote(value, safe="")


__all__ = [
    "DKIM_KEY_SIZES",
    "DOMAIN_OPTIONS",
    "SPAM_ACTIONS",
    "WEB_SCHEMES",
    "choice",
    "domain_name",
    "domain_option",
    "domain_spec",
    "identifier",
    "ip_address",
    "ip_addresses",
    "pool_name",
    "resource_name",
    "segment",
    "subaccount_name",
]
